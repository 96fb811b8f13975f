"""One function per pipeline stage, taking paths and plain values (the rule scripts call these)."""

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import audio, backends, fitting, mix, mux, subtitles, timeline
from .errors import DubbingError
from .files import atomic_output, write_if_changed, write_text_atomic
from .script import check_within, format_script, long_lines, read_script

log = logging.getLogger("dubbing")

OVERFLOW_WARNING = 0.02  # seconds; shorter overruns are inaudible
ATEMPO_SLACK = 0.03  # seconds atempo may overshoot the exact ratio


def _dump(data):
    return json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def probe(media, dest):
    info = audio.probe_media(media)
    log.info("%s: %s", media, info)
    write_text_atomic(dest, _dump(info))


def extract_audio(media, probe_json, dest):
    audio.extract_audio(media, dest, _load(probe_json)["audio_channels"])


def transcribe(source_wav, subtitles_path, dest, settings):
    cues = backends.load("asr", settings.backend).transcribe(source_wav, subtitles_path, settings)
    if not cues:
        raise DubbingError(subtitles_path or source_wav, f"the {settings.backend} backend found no speech")
    log.info("%d cues from %s", len(cues), settings.backend)
    data = {
        "backend": settings.backend,
        "segments": [{"start": c.start, "end": c.end, "text": c.text, "speaker": c.speaker} for c in cues],
    }
    write_text_atomic(dest, _dump(data))


def normalize_cues(cues):
    """Time-ordered cues with text, none overlapping the next (ASR and subtitles often overlap a little)."""
    cues = sorted((c for c in cues if c.text.strip()), key=lambda c: c.start)
    out = []
    for index, cue in enumerate(cues):
        end = min(cue.end, cues[index + 1].start) if index + 1 < len(cues) else cue.end
        if end - cue.start >= 0.05:
            out.append(subtitles.Cue(cue.start, round(end, 3), cue.text, cue.speaker))
    return out


def translate(transcript_json, dest, settings):
    import pandas as pd

    cues = [subtitles.Cue(s["start"], s["end"], s["text"], s.get("speaker", ""))
            for s in _load(transcript_json)["segments"]]
    segments = backends.load("translate", settings.backend).translate(normalize_cues(cues), settings)
    frame = pd.DataFrame([seg.as_row() for seg in segments])
    with atomic_output(dest, ".tsv") as tmp:
        frame.to_csv(tmp, sep="\t", index=False, lineterminator="\n")


def split_script(script_path, probe_json, manifest, segment_dir, slot_dir, tts_backend, min_gap):
    """Validate the script and write one small file per segment, touching only files whose content changed.

    ``segments/<id>.json`` holds what the voice depends on (text, speaker); ``slots/<id>.json``
    holds the timing the fit depends on. So editing a line re-synthesizes that line only, and
    moving a line re-fits it without re-synthesizing it.
    """
    segments = read_script(script_path)
    duration = _load(probe_json)["duration"]
    check_within(segments, duration, script_path)
    max_chars = backends.info("tts", tts_backend).max_chars
    for seg_id, parts in long_lines(segments, max_chars).items():
        log.warning("segment %s: longer than the %d characters one %s request carries; it will be sent in %d "
                    "parts cut at sentence ends and joined", seg_id, max_chars, tts_backend, parts)
    slots = fitting.slots_for(segments, duration, min_gap)
    changed = 0
    for seg, slot in zip(segments, slots):
        changed += write_if_changed(
            Path(segment_dir) / f"{seg.id}.json", _dump({"id": seg.id, "text": seg.text, "speaker": seg.speaker})
        )
        changed += write_if_changed(
            Path(slot_dir) / f"{seg.id}.json",
            _dump({"id": seg.id, "start": slot.start, "end": slot.end, "window_end": slot.window_end}),
        )
    ids = {seg.id for seg in segments}
    for folder in (segment_dir, slot_dir):
        for stale in Path(folder).glob("*.json"):
            if stale.stem not in ids:
                stale.unlink()
    log.info("%d segments, %d per-segment files written", len(segments), changed)
    write_text_atomic(manifest, format_script(segments))


def fit(tts_wav, slot_json, dest, report, max_speedup, inputs=None):
    """Fit one segment's speech to its slot; ``inputs`` (what it was fitted from) goes into the report."""
    slot = _load(slot_json)
    rate = audio.SAMPLE_RATE
    raw = audio.load_mono(tts_wav, rate)
    first, last = audio.speech_bounds(raw, rate)
    if last <= first:
        raise DubbingError(tts_wav, f"segment {slot['id']}: the synthesized audio is silent")
    window = slot["window_end"] - slot["start"]
    plan = fitting.plan_fit((last - first) / rate, window, max_speedup)
    fitted = audio.stretch(raw[first:last], rate, plan.stretch)
    window_samples = int(round(window * rate))
    if plan.overflow == 0 and window_samples < fitted.size <= window_samples + ATEMPO_SLACK * rate:
        # atempo's output runs a few ms longer than the exact ratio: that tail is cut, not the next line's time.
        fitted = audio.fade_out(fitted[:window_samples], rate)
    fitted_seconds = fitted.size / rate
    overflow = round(max(0.0, fitted_seconds - window), 3)
    if overflow >= OVERFLOW_WARNING:
        log.warning(
            "segment %s: %.2f s of speech does not fit its %.2f s slot even at %.2fx; it runs %.2f s into the next",
            slot["id"], plan.speech, window, plan.stretch, overflow,
        )
    audio.write_wav(dest, fitted, rate)
    write_text_atomic(report, _dump({
        "id": slot["id"], "start": slot["start"], "end": slot["end"], "window_end": slot["window_end"],
        "raw_seconds": round(raw.size / rate, 3), "speech_seconds": round(plan.speech, 3),
        "stretch": round(plan.stretch, 4), "fitted_seconds": round(fitted_seconds, 3),
        "overflow_seconds": overflow, "inputs": inputs,
    }))


FIT_VERSION = 2  # bump when fitting itself changes, so every segment is fitted again


def fit_inputs(tts_wav, slot_json, max_speedup):
    """What a segment's fit depends on: the raw speech (its bytes' digest), its slot, the settings."""
    digest = hashlib.sha1(Path(tts_wav).read_bytes()).hexdigest()
    return {"tts_sha1": digest, "slot": _load(slot_json), "max_speedup": max_speedup, "version": FIT_VERSION}


def fit_all(tts_wavs, slot_jsons, fit_dir, manifest, max_speedup, workers=1):
    """Fit the segments whose speech, slot or settings changed since their last fit; leave the others untouched.

    One process for the whole video: a job per segment cost more in start-up than the fitting
    itself (600 segments: minutes). Each ``fit/<id>.json`` records the inputs it was made from, so
    moving one line re-fits that line and the one before it, and nothing else is rewritten.
    """
    fit_dir = Path(fit_dir)
    tts_by_id = {Path(path).stem: path for path in tts_wavs}
    todo, kept, ids = [], 0, []
    for slot_json in slot_jsons:
        seg_id = Path(slot_json).stem
        ids.append(seg_id)
        wav, report = fit_dir / f"{seg_id}.wav", fit_dir / f"{seg_id}.json"
        inputs = fit_inputs(tts_by_id[seg_id], slot_json, max_speedup)
        try:
            current = wav.is_file() and _load(report).get("inputs") == inputs
        except (FileNotFoundError, ValueError):
            current = False
        if current:
            kept += 1
        else:
            todo.append((seg_id, tts_by_id[seg_id], slot_json, wav, report, inputs))

    def one(job):
        seg_id, tts_wav, slot_json, wav, report, inputs = job
        try:
            fit(tts_wav, slot_json, wav, report, max_speedup, inputs)
        except DubbingError as err:
            return seg_id, err
        return seg_id, None

    with ThreadPoolExecutor(max(1, workers)) as pool:  # numpy and ffmpeg release the GIL
        failed = [(seg_id, err) for seg_id, err in pool.map(one, todo) if err]
    for stale in fit_dir.glob("*.*"):
        if stale.suffix in (".wav", ".json") and stale.stem not in set(ids):
            stale.unlink()
    fitted = [job[0] for job in todo if job[0] not in dict(failed)]
    log.info("%d segments: %d fitted, %d unchanged", len(ids), len(fitted), kept)
    if fitted:
        log.info("fitted: %s", ", ".join(fitted))
    if failed:
        raise DubbingError(failed[0][1].path, f"{len(failed)} segment(s) could not be fitted (the others are kept): "
                           + "; ".join(err.problem for _, err in failed))
    write_text_atomic(manifest, "id\tfitted_now\n" + "".join(f"{i}\t{'yes' if i in fitted else 'no'}\n" for i in ids))


def build_timeline(fit_reports, fit_wavs, source_wav, dest):
    rate, _channels, total = audio.wav_info(source_wav)
    starts = [_load(report)["start"] for report in fit_reports]

    def placements():
        for start, wav in sorted(zip(starts, fit_wavs)):
            samples, wav_rate = audio.read_wav(wav)
            if wav_rate != rate:
                raise DubbingError(wav, f"sample rate {wav_rate} differs from the source's {rate}")
            yield round(start * rate), samples

    timeline.write_track(dest, placements(), total, rate)


def timing_table(fit_reports, dest):
    import pandas as pd

    rows = [_load(report) for report in fit_reports]
    frame = pd.DataFrame(rows).sort_values("start")
    frame = frame.rename(columns={"start": "slot_start", "end": "slot_end", "window_end": "usable_until"})
    columns = ["id", "slot_start", "slot_end", "usable_until", "speech_seconds", "stretch", "fitted_seconds",
               "overflow_seconds"]
    overflowing = frame[frame["overflow_seconds"] > 0]
    if len(overflowing):
        log.warning("%d segment(s) overflow their slot: %s", len(overflowing), ", ".join(overflowing["id"]))
    with atomic_output(dest, ".tsv") as tmp:
        frame[columns].to_csv(tmp, sep="\t", index=False, lineterminator="\n", float_format="%.3f")


def dubbed_subtitles(manifest, dest):
    segments = read_script(manifest)
    cues = [subtitles.Cue(seg.start, seg.end, seg.text, seg.speaker if _many_speakers(segments) else "")
            for seg in segments]
    write_text_atomic(dest, subtitles.format_srt(cues))


def _many_speakers(segments):
    return len({seg.speaker for seg in segments}) > 1


def mix_audio(source_wav, dub_wav, dest, mode, duck_db, lufs, aac_dest, bitrate="192k", threads=1):
    mix.write_mix(source_wav, dub_wav, dest, mode, duck_db, lufs, aac_dest, bitrate, threads)


def mux_video(media, mix_audio_path, srt, dest, language, bitrate):
    mux.mux(media, mix_audio_path, srt, dest, language, bitrate)


def check_sync(dub_wav, manifest, fit_reports, table, summary_json, tolerance, strict):
    """Measure the dub track against the script; warn (or fail, if strict) on lines out of tolerance."""
    import pandas as pd

    from . import sync

    segments = read_script(manifest)
    stretches = {report["id"]: report["stretch"] for report in map(_load, fit_reports)}
    rows, summary = sync.measure(dub_wav, segments, stretches, tolerance)
    frame = pd.DataFrame([row.__dict__ for row in rows])
    with atomic_output(table, ".tsv") as tmp:
        frame.to_csv(tmp, sep="\t", index=False, lineterminator="\n", float_format="%.3f")
    write_text_atomic(summary_json, _dump(summary))
    log.info("sync: %s", summary)
    if summary["violations"]:
        message = (f"{len(summary['violations'])} line(s) out of sync by more than {tolerance} s or running "
                   f"into the next line: {', '.join(summary['violations'])} (see {table})")
        if strict:
            raise DubbingError(dub_wav, message)
        log.warning("%s", message)


def report_pieces(source_wav, table, summary_json, synth_index, figure, page, video, tts, config):
    import pandas as pd

    from . import report

    rows = pd.read_csv(table, sep="\t", keep_default_na=False, dtype=str).to_dict("records")
    for row in rows:
        for key in ("slot_start", "slot_end", "stretch", "overflow", "measured_start", "measured_end", "onset_error"):
            row[key] = float(row[key]) if row[key] != "" else None
    report.timeline_figure(source_wav, rows, figure, f"{video}: original speech, script slots, dubbed speech")
    report.summary_page(page, video, _load(summary_json), rows, tts, synth_index, config)
