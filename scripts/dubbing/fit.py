"""Fitting a video's lines to their times: the pace for the whole video, the voice's own rate first,
then a small stretch for what is left. One process per video, re-fitting only what changed.

1. Each line's natural speech length is measured on ``tts/<id>.wav`` (silence trimmed).
2. ``placement.pace`` decides every line's speed-up at once (own window, catch-up, make-room).
3. A line that must speak faster is voiced again at that rate by the voice itself (Piper's
   length_scale, OpenAI ``speed``, ElevenLabs ``voice_settings.speed``) into ``paced/<id>.wav``,
   through the shared cache (the rate is part of the key) and the same synthesis runners as the batch.
   Rates are asked in steps of RATE_STEP, so a small change of timing reuses the voice already made.
4. ``fit/<id>.wav`` is the chosen speech trimmed and, only where the voice could not go fast enough
   (or its rate fell short), stretched with atempo; never beyond max_speedup in all.
``fit/<id>.json`` records what each line was fitted from, so an unchanged line is left untouched.
"""

import hashlib
import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import audio, backends, fitting, placement, shorten
from .errors import DubbingError
from .files import write_text_atomic
from .rates import predicts
from .voicing import failure

log = logging.getLogger("dubbing")

FIT_VERSION = 4  # bump when fitting itself changes, so every segment is fitted again
ATEMPO_SLACK = 0.03  # seconds atempo may overshoot the exact ratio
RATE_STEP = 0.05  # voice rates are asked in these steps (a cache hit survives small timing edits)
VOICE_RATE_FROM = 1.02  # a smaller speed-up is left to atempo: inaudible, and no second request
VOICE_ROUNDS = 2  # ask the voice again once if its real speed-up fell short
VOICE_RATE_SLACK = 0.02  # a voice this close to the wanted speed-up is close enough (atempo does the rest)
# A paid voice's line (rates.py) is voiced again only when its first voicing needs more than this much
# faster again: less is atempo's (a 10 % stretch is hardly heard) and costs no request.
FIRST_TOLERANCE = 0.1
CAP_SLACK = 1.004  # a voice faster than max_speedup by more than this (0.4 %, rounding) is not used


def _dump(data):
    return json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def voice_rate(rate, max_speedup, max_voice, round_up=True):
    """The rate to ask the voice for, for a line that must be ``rate`` times faster: on the RATE_STEP grid
    (rounded up, or down), within max_speedup and what the voice can do; 1.0 when the speed-up is too
    small to matter."""
    if rate < VOICE_RATE_FROM or max_voice <= 1.0:
        return 1.0
    steps = round(rate / RATE_STEP, 6)
    stepped = (math.ceil(steps) if round_up else math.floor(steps)) * RATE_STEP
    return round(max(1.0, min(stepped, max_speedup, max_voice)), 4)


def fit(source_wav, slot, target, max_stretch, rate, dest, report, inputs):
    """Trim one line's speech and stretch it (at most ``max_stretch``) towards ``target`` seconds."""
    sample_rate = audio.SAMPLE_RATE
    raw = audio.load_mono(source_wav, sample_rate)
    first, last = audio.speech_bounds(raw, sample_rate)
    if last <= first:
        raise DubbingError(source_wav, f"segment {slot['id']}: the synthesized audio is silent")
    plan = fitting.plan_fit((last - first) / sample_rate, target, max_stretch)
    fitted = audio.stretch(raw[first:last], sample_rate, plan.stretch)
    target_samples = int(round(target * sample_rate))
    if plan.overflow == 0 and target_samples < fitted.size <= target_samples + ATEMPO_SLACK * sample_rate:
        # atempo's output runs a few ms longer than the exact ratio: that tail is cut, not the next line's time.
        fitted = audio.fade_out(fitted[:target_samples], sample_rate)
    fitted_seconds = fitted.size / sample_rate
    audio.write_wav(dest, fitted, sample_rate)
    write_text_atomic(report, _dump({
        "id": slot["id"], "start": slot["start"], "end": slot["end"], "window_end": slot["window_end"],
        "text": inputs["text"], "speech_seconds": inputs["natural_seconds"], "voiced_seconds": round(plan.speech, 3),
        "voice_rate": rate, "stretch": round(plan.stretch, 4), "speedup": round(rate * plan.stretch, 4),
        "fitted_seconds": round(fitted_seconds, 3),
        "overflow_seconds": round(max(0.0, fitted_seconds - (slot["window_end"] - slot["start"])), 3),
        "inputs": inputs,
    }))


def fit_dir_of(fit_table):
    """fit/ beside fit.tsv: the fitted lines live there, and every reader of them depends on the table
    (rules/synth.smk), which the fit rewrites on every run."""
    return Path(fit_table).parent / "fit"


def fitted_files(fit_table):
    """{id: (fit/<id>.wav, fit/<id>.json)} of the lines fit.tsv lists."""
    fit_dir = fit_dir_of(fit_table)
    rows = Path(fit_table).read_text(encoding="utf-8").splitlines()[1:]
    ids = [row.split("\t", 1)[0] for row in rows if row]
    return {seg_id: (fit_dir / f"{seg_id}.wav", fit_dir / f"{seg_id}.json") for seg_id in ids}


def _sha1(path):
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _is_current(wav, report, inputs):
    try:
        return wav.is_file() and _load(report).get("inputs") == inputs
    except (FileNotFoundError, ValueError):
        return False


def _first_asks(wanted, first, settings, max_speedup):
    """{id: rate} the voice is asked for first, for lines that must speak faster than their first voicing
    (``settings``: the backend's, whose max speed and speed bound the rate)."""
    max_voice = backends.info("tts", settings.backend).max_speed / settings.speed
    paid = predicts(settings.backend)
    asked = {}
    for seg_id, rate in wanted.items():
        if paid and rate <= first.get(seg_id, 1.0) * (1 + FIRST_TOLERANCE):
            continue  # the first voicing is fast enough (a little more is atempo's; faster only ends sooner)
        again = voice_rate(rate, max_speedup, max_voice)
        if again > 1.0 and again != first.get(seg_id):
            asked[seg_id] = again
    return asked


def _voice_faster(ids, rates, natural, segment_json, paced_dir, voicing, *, texts, max_speedup, first=None,
                  first_wavs=None):
    """{id: (paced wav, effective speed-up)} for the lines that must speak faster, voiced by the voice itself.

    A voice's rate is not exact (Piper's length_scale 0.8 speeds English up by only 1.08-1.15x), so
    the speed-up really obtained is measured, and a line that fell short is asked once more at a
    rate corrected by what it delivered (never past what the voice can take). Whatever is still
    missing is left to atempo, within max_speedup counted on the real speed-up.

    ``first``: {id: rate} of lines whose first voicing (``first_wavs``, tts/<id>.wav) was already asked
    faster (the rate predicted before any request, rates.py). Such a line keeps that voicing unless it
    came out too slow by more than FIRST_TOLERANCE: the one re-voicing a wrong prediction costs.
    """
    first, first_wavs = first or {}, first_wavs or {}
    settings = voicing.settings
    max_voice = backends.info("tts", settings.backend).max_speed / settings.speed
    wanted = dict(zip(ids, rates))
    base = {seg_id: seconds for seg_id, seconds in zip(ids, natural)}
    tried = {seg_id: {rate: rate} for seg_id, rate in first.items()}  # id -> {rate asked: speed-up measured}
    paid = predicts(settings.backend)
    asked = _first_asks(wanted, first, settings, max_speedup)
    on_disk = {}  # id -> the rate paced/<id>.wav was voiced at

    def voice(rates):
        batch = [voicing.job(segment_json[seg_id], paced_dir, rate=rate, text=texts.get(seg_id))
                 for seg_id, rate in rates.items()]
        stats = voicing.run(batch)
        error = failure(stats, paced_dir)
        if error:
            raise error
        on_disk.update(rates)
        return stats

    for attempt in range(VOICE_ROUNDS):
        if not asked:
            break
        stats = voice(asked)
        log.info("voice rate, round %d: %d line(s): %d sent, %d from the cache, %d up to date", attempt + 1,
                 len(asked), stats.sent, stats.cached, stats.kept)
        retry = {}
        for seg_id, rate in asked.items():
            effective = base[seg_id] / audio.speech_seconds(paced_dir / f"{seg_id}.wav")
            tried.setdefault(seg_id, {})[rate] = effective
            # A paid voice is asked again only when it came out too slow: one a step faster than needed just
            # ends a little sooner, and another request would cost more than it gives. A free voice (Piper,
            # whose rate is not exact) is corrected either way.
            missed = wanted[seg_id] - effective if paid else abs(effective - wanted[seg_id])
            if missed > VOICE_RATE_SLACK:
                # Rounded down: a voice that overshoots would break max_speedup; atempo covers a shortfall.
                again = voice_rate(rate * wanted[seg_id] / effective, max_speedup, max_voice, round_up=False)
                if again != rate and again > 1.0 and again not in tried[seg_id]:
                    retry[seg_id] = again
        asked = retry
    # Each line keeps the voicing nearest its wanted speed-up among those within the cap (a second
    # try that overshot max_speedup does not throw away a first one that was merely short).
    paced, best = {}, {}
    for seg_id, results in tried.items():
        usable = {rate: effective for rate, effective in results.items() if effective <= max_speedup * CAP_SLACK}
        if usable:
            # Nearest the wanted speed-up, but never too slow when a voicing fast enough exists.
            enough = {rate: effective for rate, effective in usable.items()
                      if not paid or effective >= wanted[seg_id] / (1 + FIRST_TOLERANCE)} or usable
            best[seg_id] = min(enough, key=lambda rate: (abs(enough[rate] - wanted[seg_id]), rate))
            if best[seg_id] == first.get(seg_id):
                paced[seg_id] = (Path(first_wavs[seg_id]), first[seg_id])  # the first voicing itself
            else:
                paced[seg_id] = (paced_dir / f"{seg_id}.wav", usable[best[seg_id]])
    back = {seg_id: rate for seg_id, rate in best.items()
            if on_disk.get(seg_id) != rate and rate != first.get(seg_id)}
    if back:
        voice(back)  # from the cache: that voicing was made in an earlier round
    for stale in paced_dir.glob("*.*") if paced_dir.is_dir() else []:
        if stale.suffix in (".wav", ".json") and (stale.stem not in paced or paced[stale.stem][0].parent != paced_dir):
            stale.unlink()
    return paced


def fit_all(tts_wavs, slot_jsons, segment_jsons, paced_dir, manifest, voicing, *, max_speedup, workers=1,
            shortened=None):
    """Pace, re-voice and fit the video's lines; only lines whose inputs changed are rewritten.

    ``fit/<id>.wav`` and ``fit/<id>.json`` are written beside ``manifest`` (fit.tsv, written last).
    ``shortened`` (shortened.tsv, see shorten.py) names lines to speak in a shorter wording: their
    speech is ``shortened/<id>.wav`` beside that table.
    """
    fit_dir, paced_dir = fit_dir_of(manifest), Path(paced_dir)
    ids, slots, tts, texts, segment_json, first, natural, rates = _pace_all(
        tts_wavs, slot_jsons, segment_jsons, shortened, max_speedup, workers)

    paced = _voice_faster(ids, rates, natural, segment_json, paced_dir, voicing, texts=texts, max_speedup=max_speedup,
                          first=first, first_wavs={seg_id: tts[seg_id] for seg_id in first})
    _fit_lines(ids, slots, tts, texts, segment_json, natural, rates, paced, fit_dir, manifest, max_speedup, workers)


def pending(tts_wavs, slot_jsons, segment_jsons, voicing, *, max_speedup, shortened=None):
    """The jobs (for the cache only) the fit would send: lines that must be voiced faster than their audio is, at a
    rate the cache does not hold. The async batch sends them itself before it ends (ahead.py)."""
    ids, _slots, _tts, texts, segment_json, first, _natural, rates = _pace_all(
        tts_wavs, slot_jsons, segment_jsons, shortened, max_speedup, 1, quiet=True)
    asks = _first_asks(dict(zip(ids, rates)), first, voicing.settings, max_speedup)
    jobs = [voicing.job(segment_json[seg_id], None, rate=rate, text=texts.get(seg_id)) for seg_id, rate in asks.items()]
    return voicing.triage(jobs).to_send


def will_send(tts_wavs, slot_jsons, segment_jsons, voicing, *, max_speedup, shortened=None):
    """Whether fitting these lines would send any request. The fit rule holds `api` slots only then
    (rules/synth.smk)."""
    return bool(pending(tts_wavs, slot_jsons, segment_jsons, voicing, max_speedup=max_speedup, shortened=shortened))


def _pace_all(tts_wavs, slot_jsons, segment_jsons, shortened, max_speedup, workers, quiet=False):
    """Each line's natural length and the speed-up the whole video's pace gives it (plus the tail's)."""
    ids = [Path(path).stem for path in slot_jsons]
    tts = {Path(path).stem: path for path in tts_wavs}
    texts = shorten.read_table(shortened)
    for seg_id in texts:
        tts[seg_id] = Path(shortened).parent / "shortened" / f"{seg_id}.wav"
    segment_json = {Path(path).stem: path for path in segment_jsons}
    slots = [_load(path) for path in slot_jsons]
    # A line first voiced faster (its predicted rate, rates.py; not for a shortened wording) has the natural
    # length it measured times that rate: the cloud voices' speed is honoured as asked.
    first = {seg_id: _load(segment_json[seg_id]).get("rate", 1.0) for seg_id in ids if seg_id not in texts}
    first = {seg_id: rate for seg_id, rate in first.items() if rate != 1.0}
    with ThreadPoolExecutor(max(1, workers)) as pool:  # numpy and file reads release the GIL
        natural = list(pool.map(lambda seg_id: audio.speech_seconds(tts[seg_id]) * first.get(seg_id, 1.0), ids))
    for seg_id, seconds in zip(ids, natural):
        if seconds <= 0:
            raise DubbingError(tts[seg_id], f"segment {seg_id}: the synthesized audio is silent")
    lines = placement.lines_for([fitting.Slot(s["id"], s["start"], s["end"], s["window_end"]) for s in slots])
    rates = placement.pace(lines, natural, max_speedup)
    # The last slot's window ends with the video: if the lines cannot all fit in it even end to end, the
    # last ones are spoken faster than max_speedup rather than cut (a warning names them).
    extra = placement.tail_speedups(lines, [n / r for n, r in zip(natural, rates)], lines[-1].window_end, rates)
    beyond = [seg_id for seg_id, factor in zip(ids, extra) if factor > 1.0]
    if beyond:
        rates = [rate * factor for rate, factor in zip(rates, extra)]
        if not quiet:
            log.warning("the video ends too soon for its last %d line(s): %s spoken up to %.2fx (beyond max_speedup "
                        "%s) so that no sentence is cut", len(beyond), ", ".join(beyond), max(rates), max_speedup)
    return ids, slots, tts, texts, segment_json, first, natural, rates


def _fit_lines(ids, slots, tts, texts, segment_json, natural, rates, paced, fit_dir, manifest, max_speedup, workers):
    """Trim and stretch every line whose inputs changed into fit/<id>.wav; fit.tsv last."""
    todo, kept = [], 0
    for seg_id, slot, seconds, rate in zip(ids, slots, natural, rates):
        source, effective = paced.get(seg_id, (Path(tts[seg_id]), 1.0))
        wav, report = fit_dir / f"{seg_id}.wav", fit_dir / f"{seg_id}.json"
        target = seconds / max(rate, effective)  # a first voicing faster than needed is not slowed down
        text = texts.get(seg_id) or _load(segment_json[seg_id])["text"]
        inputs = {"source_sha1": _sha1(source), "slot": slot, "text": text, "natural_seconds": round(seconds, 3),
                  "target": round(target, 4), "voice_rate": round(effective, 4), "max_speedup": max_speedup,
                  "version": FIT_VERSION}
        if _is_current(wav, report, inputs):
            kept += 1
        else:
            todo.append((seg_id, source, slot, target, max(1.0, max(max_speedup, rate) / effective),
                         inputs["voice_rate"], wav, report, inputs))

    def one(job):
        try:
            fit(*job[1:])
        except DubbingError as err:
            return job[0], err
        return job[0], None

    with ThreadPoolExecutor(max(1, workers)) as pool:  # numpy and ffmpeg release the GIL
        failed = [(seg_id, err) for seg_id, err in pool.map(one, todo) if err]
    for stale in fit_dir.glob("*.*"):
        if stale.suffix in (".wav", ".json") and stale.stem not in set(ids):
            stale.unlink()
    fitted = [job[0] for job in todo if job[0] not in dict(failed)]
    log.info("%d segments: %d fitted, %d unchanged; %d sped up (%d by the voice itself)", len(ids), len(fitted), kept,
             sum(rate > 1.0005 for rate in rates), len(paced))
    if fitted:
        log.info("fitted: %s", ", ".join(fitted))
    if failed:
        raise DubbingError(failed[0][1].path, f"{len(failed)} segment(s) could not be fitted (the others are kept): "
                           + "; ".join(err.problem for _, err in failed))
    write_text_atomic(manifest, "id\tfitted_now\n" + "".join(f"{i}\t{'yes' if i in fitted else 'no'}\n" for i in ids))
