"""The one adapter layer: every rule script calls exactly one function here, named as its rule, with
keyword arguments.

Each function takes paths and plain values, reads its inputs, calls the library and writes its
outputs; the domain logic lives in the modules it calls. Library modules are imported inside the
functions that use them, so a per-segment synthesis job pays for numpy, pandas or an SDK only if it
uses them (600 jobs).
"""

import json
import logging
from pathlib import Path

from . import tables
from .errors import DubbingError
from .files import write_if_changed, write_text_atomic

log = logging.getLogger("dubbing")

MOVED = 0.0005  # seconds; a line placed this far from its script start counts as moved


def read_tsv(path):
    """The rows of a table written here (``dubbing.tables``: tab-separated, a header, nothing quoted)."""
    return tables.read_table(path)


def _dump(data):
    return json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def probe(media, dest, source_track=-1, source_language=""):
    from . import audio

    info = audio.probe_media(media, source_track, source_language)
    log.info("%s: %s", media, info)
    write_text_atomic(dest, _dump(info))


def extract_audio(media, probe_json, dest):
    from . import audio

    info = _load(probe_json)
    audio.extract_audio(media, dest, info["audio_channels"], info.get("audio_track", 0))


def transcribe(source_wav, subtitles_path, dest, settings):
    import dataclasses

    from . import backends, languages

    result = _per_channel(source_wav, settings) if settings.backend == "faster-whisper" else None
    if result is None:
        result = backends.load("asr", settings.backend).transcribe(source_wav, subtitles_path, settings)
    if not isinstance(result, backends.Transcript):  # a backend that cannot tell the language
        result = backends.Transcript(result, language=languages.code(settings.source_language))
    if not result.cues:
        left_out = f" ({len(result.dropped)} piece(s) heard over music, noise or silence left out, e.g. " \
                   f"{result.dropped[0]['text']!r}: {result.dropped[0]['reason']})" if result.dropped else ""
        raise DubbingError(subtitles_path or source_wav, f"the {settings.backend} backend found no speech to dub"
                                                         + left_out)
    if not any(cue.speaker for cue in result.cues):  # nobody named: a channel per speaker names them
        from . import audio, speakers

        stereo = audio.decode_stereo(source_wav, speakers.ANALYSIS_RATE)
        labelled = speakers.channel_speakers(result.cues, stereo) if stereo is not None else None
        if labelled:
            counts = {label: sum(cue.speaker == label for cue in labelled) for label in (speakers.LEFT, speakers.RIGHT)}
            log.info("one speaker per channel: %d lines left, %d right", counts["left"], counts["right"])
            result = dataclasses.replace(result, cues=labelled)
    log.info("%d cues from %s (%s)", len(result.cues), settings.backend,
             languages.name(result.language) if result.language else "language unknown")
    data = {
        "backend": settings.backend,
        "model": result.model,
        "language": result.language,
        "language_probability": result.language_probability,
        "segments": [{"start": c.start, "end": c.end, "text": c.text, "speaker": c.speaker} for c in result.cues],
        "dropped": list(result.dropped),
        "words": list(result.words),
    }
    write_text_atomic(dest, _dump(data))


def _per_channel(source_wav, settings):
    """A dual-channel recording (one person per channel, speakers.distinct_channels) recognized channel by
    channel, each line named by its channel; None for any other recording (recognized as one)."""
    import tempfile

    import numpy as np

    from . import audio, backends, speakers, subtitles

    stereo = audio.decode_stereo(source_wav, speakers.ANALYSIS_RATE)
    if not speakers.distinct_channels(stereo):
        return None
    full = audio.decode_stereo(source_wav, audio.SAMPLE_RATE)
    backend = backends.load("asr", settings.backend)
    heard = []
    with tempfile.TemporaryDirectory(prefix="channels-") as folder:
        for index, label in enumerate((speakers.LEFT, speakers.RIGHT)):
            wav = Path(folder) / f"{label}.wav"
            audio.write_wav(wav, np.ascontiguousarray(full[:, index]), audio.SAMPLE_RATE)
            heard.append((label, backend.transcribe(wav, None, settings)))
    log.info("one person per channel: recognized each channel on its own (%d lines left, %d right)",
             len(heard[0][1].cues), len(heard[1][1].cues))
    cues = sorted((subtitles.Cue(cue.start, cue.end, cue.text, label) for label, transcript in heard
                   for cue in transcript.cues), key=lambda cue: cue.start)
    first = heard[0][1] if heard[0][1].cues else heard[1][1]
    return backends.Transcript(cues, language=first.language, language_probability=first.language_probability,
                               model=first.model, dropped=heard[0][1].dropped + heard[1][1].dropped,
                               words=sorted(heard[0][1].words + heard[1][1].words))


def translate(transcript_json, source_wav, dest, settings):
    """The script from the transcript, in the dub's language: the translator gets the language heard."""
    import dataclasses

    from . import backends, languages, subtitles
    from .script import format_script, normalize_cues

    transcript = _load(transcript_json)
    language = languages.code(transcript.get("language")) or languages.code(settings.source_language)
    settings = dataclasses.replace(settings, source_language=language)
    if settings.backend == "none" and language and not languages.same(language, settings.target_language):
        raise DubbingError(transcript_json, f"the speech is {languages.name(language)} and target_language is "
                                            f"{settings.target_language}, but translate_backend none keeps the "
                                            "words as spoken: use translate_backend auto (offline, into English) "
                                            f"or openai, or set target_language: {language}")
    cues = [subtitles.Cue(s["start"], s["end"], s["text"], s.get("speaker", "")) for s in transcript["segments"]]
    segments = backends.load("translate", settings.backend).translate(normalize_cues(cues), settings, source_wav)
    write_text_atomic(dest, format_script(segments))  # unquoted: the text round-trips exactly


def segments(script_path, probe_json, manifest, segment_dir, slot_dir, *, tts, voices, min_gap, voice_pool=(),
                 voices_table=None, clones_json=None, unspoken_table=None, pacing=None, max_speedup=1.0, cache_dir=None):
    """Validate the script and write one small file per segment, touching only files whose content changed.

    ``segments/<id>.json`` holds what the voice depends on: text, speaker, the voice chosen for that
    speaker, and the cache key of the speech that line needs (backend, model, voice, speed, ...).
    ``slots/<id>.json`` holds the timing the fit depends on. So editing a line re-synthesizes that
    line only, moving a line re-fits it without re-synthesizing it, and a voice change makes exactly
    the lines it changes stale in either synthesis mode, whichever mode wrote their audio before.
    ``voices.tsv`` lists each speaker's voice and why (configured, clone, remembered, automatic); automatic
    voices are remembered in ``cache_dir`` for the speaker's later videos (``speakers.VoiceMemory``).
    Markers ("[Music]", "(laughs)", "♪ ... ♪") are not said; a line of only markers or punctuation is not
    voiced at all: it goes to ``unspoken.tsv`` (with the reason), and from there to the subtitles.
    """
    import dataclasses

    from . import backends, fitting, jobs, rates, speakers
    from .cache import SpeechCache
    from .script import KEPT, UNSPOKEN_COLUMNS, check_within, format_script, long_lines, read_script, spoken_text

    segments = read_script(script_path)
    duration = _load(probe_json)["duration"]
    check_within(segments, duration, script_path)
    voiced, unspoken = [], []
    for seg in segments:
        said, reason = ("", KEPT) if seg.keep_original else spoken_text(seg.text)
        if said:
            voiced.append(dataclasses.replace(seg, text=said))
        else:
            unspoken.append({**seg.as_row(), "reason": reason})
    if unspoken:
        log.info("%d line(s) not voiced, shown in the subtitles only: %s", len(unspoken),
                 "; ".join(f"{row['id']} {row['text']!r} ({row['reason']})" for row in unspoken[:5])
                 + (" ..." if len(unspoken) > 5 else ""))
    if not voiced:
        raise DubbingError(script_path, f"nothing to voice: all {len(segments)} line(s) are markers, punctuation "
                                        f"(e.g. [Music]) or marked {'keep_original'}; there is no speech to dub")
    if unspoken_table:
        tables.write_table(unspoken_table, UNSPOKEN_COLUMNS, unspoken)
    segments = voiced
    pool = list(voice_pool) or list(backends.info("tts", tts.backend).voices) or [tts.voice]
    fixed = _load(clones_json) if clones_json else None
    labels = [seg.speaker for seg in segments]
    if cache_dir:
        chosen = speakers.VoiceMemory(cache_dir).assign(tts.backend, labels, voices, pool, tts.voice, fixed)
    else:
        chosen = speakers.assign_voices(labels, voices, pool, tts.voice, fixed)
    unnamed = jobs.voice_settings(tts, "", voices).voice

    def voice_of(seg):
        if seg.voice:  # the script's own voice for this line
            return seg.voice
        return chosen[seg.speaker][0] if seg.speaker in chosen else unnamed

    if chosen:
        log.info("voices: %s", speakers.describe(chosen))
        automatic = [voice for voice, how in chosen.values() if how in ("automatic", "remembered")]
        if len(set(automatic)) < len(automatic):  # the pool ran out (configured sharing is the user's choice)
            log.warning("%d speakers share %d voice(s) (%s): the %s set has no more; add voices to voice_pool "
                        "(e.g. more Piper .onnx voices) or name them in voices:", len(automatic),
                        len(set(automatic)), ", ".join(sorted(set(automatic))), tts.backend)
    if tts.backend == "piper":
        from .backends import tts_piper

        tts_piper.unknown_voices(segments, script_path)
        tts_piper.unpronounceable(segments, voice_of, script_path)
    max_chars = backends.info("tts", tts.backend).max_chars
    for seg_id, parts in long_lines(segments, max_chars).items():
        log.warning("segment %s: longer than the %d characters one %s request carries; it will be sent in %d "
                    "parts cut at sentence ends and joined", seg_id, max_chars, tts.backend, parts)
    slots = fitting.slots_for(segments, duration, min_gap)
    line_voices = [voice_of(seg) for seg in segments]
    first_rates = rates.first_rates(segments, slots, tts, max_speedup, line_voices,
                                    rates.Heard(cache_dir) if cache_dir else None)
    cache = SpeechCache(cache_dir) if cache_dir else None
    changed = 0
    for seg, slot, rate, voice in zip(segments, slots, first_rates, line_voices):
        segment_path, slot_path = Path(segment_dir) / f"{seg.id}.json", Path(slot_dir) / f"{seg.id}.json"
        slot_record = {"id": seg.id, "start": slot.start, "end": slot.end, "window_end": slot.window_end}
        settings = dataclasses.replace(tts, voice=voice)
        rate = rates.settle(rate, lambda r, s=settings, t=seg.text: jobs.line_key(s, "", None, t, r),
                            previous=_previous_rate(segment_path, slot_path, slot_record),
                            held=cache.get if cache else None, max_rate=max_speedup)
        key = jobs.line_key(settings, "", None, seg.text, rate)
        record = {"id": seg.id, "text": seg.text, "speaker": seg.speaker, "voice": voice, "key": key}
        if rate != 1.0:  # the rate its first request asks for (rates.py)
            record["rate"] = rate
        changed += write_if_changed(segment_path, _dump(record))
        changed += write_if_changed(slot_path, _dump(slot_record))
    ids = {seg.id for seg in segments}
    for folder in (segment_dir, slot_dir):
        for stale in Path(folder).glob("*.json"):
            if stale.stem not in ids:
                stale.unlink()
    log.info("%d segments, %d per-segment files written", len(segments), changed)
    if voices_table:
        rows = [(speaker, voice, how) for speaker, (voice, how) in sorted(chosen.items())]
        if any(not seg.speaker for seg in segments):
            rows.append(("", unnamed, "default"))
        write_text_atomic(voices_table, "speaker\tvoice\thow\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in rows))
    if pacing:  # what a synthesis job reads to voice a too-slow line faster at once (ahead.py), not an input:
        write_if_changed(pacing, _dump({"max_speedup": max_speedup}))  # a new max_speedup reruns no synthesis
    write_text_atomic(manifest, format_script(segments))


def _previous_rate(segment_path, slot_path, slot_record):
    """(key, rate) of the line's record from the last run when its slot is unchanged, else None."""
    try:
        if _load(slot_path) != slot_record:
            return None
        previous = _load(segment_path)
        return previous["key"], previous.get("rate", 1.0)
    except (FileNotFoundError, ValueError, KeyError):
        return None


def clone_voices(script_path, source_wav, dest, *, video, cache_dir, voices, timeout, max_retries):
    """clones.json: each named speaker's cloned voice (ElevenLabs), made once per distinct sample."""
    from . import audio, clones
    from .script import read_script

    segments = read_script(script_path)
    samples = audio.decode_mono(source_wav, clones.RATE)
    made = clones.clone_speakers(segments, samples, video=video, cache_dir=cache_dir, configured=voices,
                                 timeout=timeout, max_retries=max_retries, where=script_path)
    if not made:
        log.info("no speaker to clone (the script names no speakers, or voices: names them all)")
    write_text_atomic(dest, _dump(made))


def _voicing(settings, cache_dir, voices, manifest=None, max_concurrent=5, requests_per_minute=0, ahead=None):
    from .voicing import Limits, Voicing

    return Voicing(settings, cache_dir, voices=voices, manifest=manifest, ahead=ahead,
                   limits=Limits(max_concurrent=max_concurrent, requests_per_minute=requests_per_minute))


def _ahead(settings, manifest, segment_dir, pacing, cache_dir, only=None):
    """What tells a synthesis job which lines the fit will want faster (ahead.py); None where nothing is predicted
    (``pacing``: the segments checkpoint's pacing.json, with max_speedup)."""
    from .rates import predicts

    try:
        max_speedup = _load(pacing)["max_speedup"]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    if not predicts(settings.backend) or max_speedup <= 1.0:
        return None
    from .ahead import Ahead
    from .script import read_script

    ids = [seg.id for seg in read_script(manifest)]
    return Ahead(segment_dir, Path(segment_dir).parent / "slots", ids, settings, max_speedup, cache_dir, only=only)


def synth(segment_json, wav, *, settings, cache_dir, manifest, voices, pacing, requests_per_minute=0):
    """Per-segment mode: one line's speech (tts/<id>.wav and its record beside it), from the cache or one request."""
    from . import synth

    ahead = _ahead(settings, manifest, Path(segment_json).parent, pacing, cache_dir, only=Path(segment_json).stem)
    synth.synthesize_one(segment_json, wav, _voicing(settings, cache_dir, voices, manifest,
                                                     requests_per_minute=requests_per_minute, ahead=ahead))


def synth_batch(segment_jsons, tts_dir, report, *, settings, cache_dir, manifest, voices, max_concurrent,
                requests_per_minute, pacing):
    """Async mode: every stale line of a video from one process."""
    from . import synth

    ahead = _ahead(settings, manifest, Path(segment_jsons[0]).parent, pacing, cache_dir) if segment_jsons else None
    synth.synthesize_batch(segment_jsons, tts_dir, report, _voicing(settings, cache_dir, voices, manifest,
                                                                    max_concurrent, requests_per_minute, ahead))


def _speech_wavs(tts_dir, ids):
    """tts/<id>.wav of each line: the per-segment jobs' outputs, or the async batch's (see rules/synth.smk)."""
    return [str(Path(tts_dir) / f"{seg_id}.wav") for seg_id in ids]


def _ids(paths):
    return [Path(path).stem for path in paths]


def synth_index(tts_dir, manifest, dest):
    from . import synth

    synth.write_index(_speech_wavs(tts_dir, [row["id"] for row in read_tsv(manifest)]), dest)


def plan(segment_jsons, tts_dir, dest, *, settings, cache_dir, prices, max_concurrent, video, voices, slot_jsons=(),
         max_speedup=1.0, shortens=False):
    from . import plan

    plan.write_plan(segment_jsons, tts_dir, dest, _voicing(settings, cache_dir, voices, None, max_concurrent),
                    video=video, prices=prices, slot_jsons=slot_jsons, max_speedup=max_speedup, shortens=shortens)


def shorten(tts_dir, slot_jsons, segment_jsons, script, out_dir, dest, *, max_speedup, translate, tts, cache_dir,
            voices=None, max_concurrent=5, requests_per_minute=0):
    from . import shorten

    shorten.shorten_lines(_speech_wavs(tts_dir, _ids(slot_jsons)), slot_jsons, segment_jsons, out_dir, dest,
                          _voicing(tts, cache_dir, voices, script, max_concurrent, requests_per_minute),
                          script=script, max_speedup=max_speedup, translate=translate)


def fit(tts_dir, slot_jsons, segment_jsons, paced_dir, manifest, *, max_speedup, settings, cache_dir, script=None,
        voices=None, max_concurrent=5, requests_per_minute=0, workers=1, shortened=None):
    from . import fit

    fit.fit_all(_speech_wavs(tts_dir, _ids(slot_jsons)), slot_jsons, segment_jsons, paced_dir, manifest,
                _voicing(settings, cache_dir, voices, script, max_concurrent, requests_per_minute),
                max_speedup=max_speedup, workers=workers, shortened=shortened)


def place(fit_table, source_wav, dest):
    """timing.tsv: where each fitted line goes on the dub track (see placement.py), and how it was fitted."""
    from . import audio, fit, fitting, placement, timeline

    import pandas as pd

    rate, _channels, total = audio.wav_info(source_wav)
    fitted = fit.fitted_files(fit_table)
    rows = sorted((_load(report) for _wav, report in fitted.values()), key=lambda row: row["start"])
    frames = {seg_id: audio.wav_info(wav)[2] for seg_id, (wav, _report) in fitted.items()}
    lengths = [frames[row["id"]] for row in rows]
    slots = [fitting.Slot(row["id"], row["start"], row["end"], row["window_end"]) for row in rows]
    starts = placement.place(placement.lines_for(slots), [n / rate for n in lengths], total / rate)
    starts = timeline.sample_starts([round(start * rate) for start in starts], lengths)
    for row, start, length in zip(rows, starts, lengths):
        row["placed_start"] = start / rate
        row["placed_end"] = (start + length) / rate
        row["displacement"] = row["placed_start"] - row["start"]
        row["cut_seconds"] = max(0, start + length - total) / rate
    frame = pd.DataFrame(rows).rename(columns={"start": "slot_start", "end": "slot_end", "window_end": "usable_until",
                                               "placed_start": "start", "placed_end": "end"})
    columns = ["id", "slot_start", "slot_end", "usable_until", "speech_seconds", "voice_rate", "stretch", "speedup",
               "fitted_seconds", "start", "end", "displacement", "cut_seconds", "text"]
    moved = frame[frame["displacement"].abs() > MOVED]
    if len(moved):
        worst = moved.loc[moved["displacement"].abs().idxmax()]
        log.info("%d line(s) moved to keep every line whole and apart; the most: %s by %+.2f s", len(moved),
                 worst["id"], worst["displacement"])
    cut = frame[frame["cut_seconds"] > 0]
    if len(cut):
        log.warning("%d line(s) run past the end of the video and are cut there: %s", len(cut), ", ".join(cut["id"]))
    tables.write_table(dest, columns, frame[columns].to_dict("records"))


def timeline(timing_tsv, fit_table, source_wav, dest):
    """The dub track: each fitted line at its placed start (timing.tsv), one voice at a time."""
    from . import audio, fit, timeline

    rate, _channels, total = audio.wav_info(source_wav)
    table = read_tsv(timing_tsv)
    wavs = {seg_id: wav for seg_id, (wav, _report) in fit.fitted_files(fit_table).items()}

    def placements():
        for seg_id, start in sorted(((row["id"], float(row["start"])) for row in table), key=lambda item: item[1]):
            samples, wav_rate = audio.read_wav(wavs[seg_id])
            if wav_rate != rate:
                raise DubbingError(wavs[seg_id], f"sample rate {wav_rate} differs from the source's {rate}")
            yield round(start * rate), samples

    timeline.write_track(dest, placements(), total, rate)


def subtitles(timing_tsv, manifest, dest, voices_table=None, unspoken_table=None):
    """dubbed.srt: what the dub says (a shortened line's new wording too), when it says it (placed times);
    with several speakers, each line names its speaker and the voice they were given: ``[A · nova]``.
    Lines not voiced (``unspoken.tsv``: "[Music]") are shown at their own times."""
    from . import subtitles
    from .script import read_script

    segments = read_script(manifest)
    voices = {row["speaker"]: row["voice"] for row in read_tsv(voices_table)} if voices_table else {}
    speakers = {seg.id: " · ".join(filter(None, (seg.speaker, Path(voices.get(seg.speaker, "")).name)))
                if _many_speakers(segments) else "" for seg in segments}
    cues = [subtitles.Cue(float(row["start"]), float(row["end"]), row["text"], speakers.get(row["id"], ""))
            for row in read_tsv(timing_tsv)]
    if unspoken_table:
        cues += [subtitles.Cue(float(row["start"]), float(row["end"]), row["text"], "")
                 for row in read_tsv(unspoken_table)]
        cues.sort(key=lambda cue: cue.start)
    write_text_atomic(dest, subtitles.format_srt(cues))


def _many_speakers(segments):
    return len({seg.speaker for seg in segments}) > 1


def mix(source_wav, dub_wav, dest, mode, duck_db, lufs, aac_dest, bitrate="192k", threads=1, media=None,
        probe_json=None, background=None, speech=None, scores_dest=None, unspoken_table=None):
    """The dub over the original (or, separate, over its ``background``); a 5.1 source (probe: 6 channels) is
    mixed in 5.1 from ``media`` itself. ``scores_dest``: what is left of the original voice and background."""
    from . import mix

    from .script import KEPT

    info = _load(probe_json) if probe_json else {}
    kept = [(float(row["start"]), float(row["end"])) for row in (read_tsv(unspoken_table) if unspoken_table else [])
            if row["reason"] == KEPT]
    _stats, gain = mix.write_mix(source_wav, dub_wav, dest, mode, duck_db, lufs, aac_dest, bitrate, threads,
                                 media=media, source_channels=info.get("audio_channels", 2),
                                 source_track=info.get("audio_track", 0), background=background, speech=speech,
                                 kept=kept)
    if scores_dest:
        separated = mode == "separate" and info.get("audio_channels", 2) <= 2
        result = {"mix_mode": mode, **mix.scores(gain, source_wav, speech, background if separated else None)}
        log.info("original voice left %s dB, background kept %s dB", result["voice_left_db"],
                 result["background_kept_db"])
        write_text_atomic(scores_dest, _dump(result))


def mux(media, mixes, srts, dest, languages, bitrate, default="", probe_json=None, source_language="",
        transcript_json=None):
    """The dubbed video: each language's mix and subtitles (in the order of ``languages``) and the originals;
    the original track that was dubbed is named by ``source_language``, else by the language heard."""
    from . import mux

    if not len(mixes) == len(srts) == len(languages):
        raise DubbingError(dest, f"{len(languages)} language(s) but {len(mixes)} mix(es) and {len(srts)} subtitle file(s)")
    container = "mkv" if str(dest).endswith(".mkv") else "mp4"
    track = _load(probe_json).get("audio_track", 0) if probe_json else 0
    if not source_language and transcript_json:
        source_language = _load(transcript_json).get("language") or ""
    mux.mux(media, list(zip(languages, mixes, srts)), dest, bitrate, default=default, container=container,
            source_track=track, source_language=source_language)


def separate(source_wav, background_dest, voice_dest, cache_dir=None, speech=None):
    """The original's soundtrack without its voice, and the voice (mix_mode separate, clone samples); kept in
    ``cache_dir`` by the audio's content, so the same sound is separated once (another video, a rebuild).
    ``speech``: the original's voice activity (.npy), where the speech band is ducked if the model is unsure."""
    from . import separate

    separate.cached(source_wav, background_dest, voice_dest, cache_dir, speech)


def original_speech(source_wav, dest):
    """The original's speech probabilities, heard once for every language's sync check and report."""
    from . import vad

    vad.save_probabilities(source_wav, dest)


def original_talking(speech_npy, transcript_json, dest):
    """Where the original may speak, for the ducks of ``mix_mode: separate``: the voice activity, and 1 over
    the end of every word the recognizer timed (``vad.with_words``; ``transcript_json`` None: nothing was
    recognized, every script is the user's)."""
    import numpy as np

    from . import vad
    from .files import atomic_output

    words = (_load(transcript_json).get("words") or []) if transcript_json else []
    heard = vad.probabilities_of(speech_npy)
    probs = vad.with_words(heard, words)
    with atomic_output(dest, ".npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, probs)
    log.info("%d words timed by the recognizer: %.1f s more of the original's speech than its voice activity "
             "shows", len(words), float(np.sum((probs > 0.5) & (heard <= 0.5))) * vad.FRAME_SECONDS)


def sync_check(dub_wav, timing_tsv, manifest, fit_table, table, summary_json, tolerance, strict, source_wav=None):
    """Find each fitted line in the dub track (sync.measure); warn (or fail, if strict) naming the lines out of
    tolerance, running into the next line, or missing. With ``source_wav`` (the original, or its speech
    probabilities from ``original_speech``), also measure the dub against the original's speech
    (sync.against_original)."""
    from . import fit, sync, vad
    from .script import read_script

    script = {seg.id: seg for seg in read_script(manifest)}
    wavs = {seg_id: wav for seg_id, (wav, _report) in fit.fitted_files(fit_table).items()}
    lines = []
    for row in read_tsv(timing_tsv):
        seg = script.get(row["id"])
        if row["id"] not in wavs:
            raise DubbingError(timing_tsv, f"line {row['id']} has no fitted audio among the inputs")
        lines.append({
            "id": row["id"], "speaker": seg.speaker if seg else "",
            "text": row.get("text") or (seg.text if seg else ""),  # the dubbed wording (a line may be shortened)
            "slot_start": float(row["slot_start"]), "slot_end": float(row["slot_end"]), "start": float(row["start"]),
            "displacement": float(row["displacement"]), "speedup": float(row["speedup"]), "fitted_wav": wavs[row["id"]],
        })
    lines.sort(key=lambda line: (line["slot_start"], line["start"]))
    rows, summary = sync.measure(dub_wav, lines, tolerance)
    if source_wav:
        rows, versus = sync.against_original(vad.probabilities_of(source_wav), vad.file_probabilities(dub_wav), rows)
        summary.update(versus)
    tables.write_table(table, list(sync.LineSync.__dataclass_fields__), sync.as_dicts(rows))
    write_text_atomic(summary_json, _dump(summary))
    log.info("sync: %s", {key: value for key, value in summary.items() if key != "violations"})
    if summary["violations"]:
        by_status = {}
        for row in rows:
            if row.status != "ok":
                by_status.setdefault(row.status, []).append(row.id)
        message = (f"{len(summary['violations'])} line(s) out of sync by more than {tolerance} s, running into the next "
                   "line or missing: " + "; ".join(f"{status} {', '.join(ids)}" for status, ids in by_status.items())
                   + f" (see {table})")
        if strict:
            raise DubbingError(dub_wav, message)
        log.warning("%s", message)


def account_words(script_path, timing_tsv, unspoken_tsv, words_dest, summary_dest, transcript_json=None, strict=False):
    """words.tsv and words_summary.json: every word dubbed, shown only, left out (with why) or lost."""
    from . import accounting

    accounting.account(script_path, timing_tsv, unspoken_tsv, words_dest, summary_dest, transcript_json, strict)


def report_pieces(source_wav, table, summary_json, synth_index, figure, page, video, tts, config, voices_table=None,
                  words_json=None, speech=None, mix_json=None):
    """The timeline figure and the summary page; ``speech``: the original's stored speech probabilities."""
    from . import report

    rows = read_tsv(table)
    for row in rows:
        for key in ("slot_start", "slot_end", "placed_start", "measured_start", "measured_end", "onset_error",
                    "displacement", "speedup", "overlap", "match", "original_onset", "vs_original"):
            row[key] = float(row[key]) if row.get(key, "") != "" else None
    report.timeline_figure(source_wav, rows, figure, f"{video}: original speech, script slots, dubbed speech", speech)
    voices = read_tsv(voices_table) if voices_table else []
    report.summary_page(page, video, _load(summary_json), rows, tts, synth_index, config, voices,
                        _load(words_json) if words_json else None, figure, _load(mix_json) if mix_json else None)


def package(*, media, mix_flac, mix_aac, srt, report, sync, language, audio_dest, srt_dest, vtt_dest, report_dest,
            sync_dest, bitrate, threads=1):
    """results/<video>/<lang>/: what a platform takes for this language (package.py)."""
    from .package import write_package

    write_package(media=media, mix_flac=mix_flac, mix_aac=mix_aac, srt=srt, report=report, sync=sync,
                  language=language, audio_dest=audio_dest, srt_dest=srt_dest, vtt_dest=vtt_dest,
                  report_dest=report_dest, sync_dest=sync_dest, bitrate=bitrate, threads=threads)
