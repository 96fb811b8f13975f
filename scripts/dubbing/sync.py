"""Measured sync: where each dubbed line really is in the dub track, against the script's slots.

We know exactly which audio was laid on ``dub.wav``: each line's fitted WAV. So each line is
*found* in the track by cross-correlation, instead of guessing lines from the track's level
(abutting lines merge into one loud region there, and a line could not be told from its
neighbour's overflow). For each line, only a window of the track is read: the fitted audio's
length plus ``SEARCH`` seconds either side of the placed start and of the script start.

1. Coarse: track window and fitted audio are decimated by ``COARSE`` (means of 4 samples: 48 kHz ->
   12 kHz) and correlated by FFT; the score of a lag is the correlation divided by
   ``|t| * max(|t|, |x|)`` (``t`` the fitted audio, ``x`` the track under it). That is 1.0 where
   the track holds exactly the line and nothing else, a little less where a neighbour overlaps
   it, and low for other speech, silence, or a quiet partial resemblance.
2. Fine: the same score at full rate, ``REFINE`` samples either side of the coarse peak (a dot
   product per lag): the line's start to the sample. (Decimating by 8 instead misplaced the coarse
   peak by more than 2 coarse samples in 1 of 780 trials on real speech; by 4, never.)

The line's measured speech runs from its first to its last loud sample in that position (the fit
leaves ``TRIM_PAD`` of quiet before the speech; more silence at the head of the fitted audio
shows as a late start).

A line whose best score is below ``FOUND`` is ``missing`` (not placed, cut off, or replaced).
Measured on real speech (29 lines: 13 utterances of a phone call, 4 pieces of a speech, 12 Piper
lines), each searched for where it is absent, in continuous speech made of the others (every
0.5 s): best score 0.06-0.30, at most 0.41 (a 0.33 s "Hello?" against the other speaker's
"Hello?"). Present: 1.000 whenever no other line overlaps it (abutting lines included); with
0.2 s of overlap at both ends 0.52-1.0, except a quiet 0.33 s "Hello?" under louder speech
(0.24: reported missing). Every line found was within 2 samples (0.04 ms) of where it was laid.

Time and memory grow with the number and length of the lines, never with the track's length
beyond them: one line's window is in memory at a time (600 lines, 60 minutes: about 7 s of CPU,
peak 13 MB of numpy arrays).
"""

import logging
import statistics
import wave
from dataclasses import asdict, dataclass, replace

import numpy as np

from .audio import read_wav, speech_bounds
from .errors import DubbingError

log = logging.getLogger("dubbing")

SEARCH = 1.0  # seconds either side of the placed start (and of the script start) searched
COARSE = 4  # decimation of the coarse search (48 kHz -> 12 kHz)
REFINE = 2 * COARSE  # samples either side of the coarse peak searched at full rate
FOUND = 0.5  # a line scoring below this is missing (absent lines measured at most 0.41: see above)
QUICK = 32  # samples either side of the placed start tried first (timing.tsv rounds starts to the ms: 24)
DIRECT_LAGS = 64  # up to this many lags are scored by dot products, more by FFT
QUICK_SCORE = 0.99  # found there alone (1.000 measured whenever nothing overlaps it): no wider search
REPEAT = 0.05  # another peak within this of the best, half a line away, is the same audio placed twice
OVERLAP = 0.005  # seconds of overlap with the next line reported as a violation
TRIM_PAD = 0.005  # seconds of quiet the fit leaves before the speech (audio.speech_bounds' pad)


@dataclass
class LineSync:
    id: str
    speaker: str
    text: str
    slot_start: float
    slot_end: float
    placed_start: float
    measured_start: float | None
    measured_end: float | None
    onset_error: float | None
    displacement: float
    speedup: float
    overlap: float
    match: float
    status: str
    # Against the original (voice activity in source.wav): where its speech starts near the line's slot,
    # and the dub's measured start less that. None when the original speaks on without a pause there.
    original_onset: float | None = None
    vs_original: float | None = None


def _fast_len(n):
    """The smallest number >= n with no prime factor above 5 (a fast FFT length)."""
    best = 1 << max(0, (n - 1).bit_length())
    five = 1
    while five < best:
        three = five
        while three < best:
            size = three
            while size < n:
                size *= 2
            best = min(best, size)
            three *= 3
        five *= 5
    return best


def scores(window, template):
    """Match score of ``template`` at each lag ``k`` of ``window`` (``window[k:k + len(template)]``).

    ``corr / (|t| * max(|t|, |x|))``: 1.0 for an exact copy, lower when other audio is mixed in
    (normalised cross-correlation) or when the window is quieter than the template (a faint
    partial resemblance, a copy cut off at the end of the track).
    """
    window, template = np.asarray(window, np.float32), np.asarray(template, np.float32)
    n = template.size
    lags = window.size - n + 1
    energy_t = _dot(template.astype(np.float64), template.astype(np.float64))
    if lags <= 0 or energy_t <= 0:
        return np.zeros(max(lags, 0))
    if lags <= DIRECT_LAGS:  # a few lags: a dot product each is cheaper than three FFTs
        views = np.lib.stride_tricks.sliding_window_view(window, n)[:lags]
        corr = np.einsum("ij,j->i", views, template).astype(np.float64)
    else:
        size = _fast_len(window.size)
        corr = np.fft.irfft(np.fft.rfft(window, size) * np.conj(np.fft.rfft(template, size)), size)[:lags]
    power = np.concatenate([[0.0], np.cumsum(window.astype(np.float64) ** 2)])
    energy_x = np.maximum(power[n:] - power[:lags], 0.0)
    return corr / (np.sqrt(energy_t) * np.sqrt(np.maximum(energy_x, energy_t)))


def _dot(a, b):
    """Dot product without BLAS: OpenBLAS's threads cost more than they save on these sizes (2-3x measured)."""
    return float(np.einsum("i,i->", a, b))


def _decimate(samples, factor):
    """Means of ``factor`` samples (a crude low-pass, plenty for finding speech), float32."""
    usable = samples.size - samples.size % factor
    out = samples[:usable:factor].astype(np.float32)
    for phase in range(1, factor):
        out += samples[phase:usable:factor]
    return out / factor


def _read(wav, frames, first, count):
    """``count`` mono int16 samples of an open WAV from sample ``first`` on, silence outside the track."""
    out = np.zeros(count, dtype=np.int16)
    lo, hi = max(first, 0), min(first + count, frames)
    if hi > lo:
        wav.setpos(lo)
        data = np.frombuffer(wav.readframes(hi - lo), dtype="<i2")
        channels = wav.getnchannels()
        out[lo - first : lo - first + data.size // channels] = data[:: channels]
    return out


def _refine(track, lo, centre, template):
    """(sample, score) of the best full-rate lag within ``REFINE`` samples of ``centre`` (an offset into
    ``track``, which starts at sample ``lo``): a dot product per lag (cheaper than an FFT)."""
    n = template.size
    near = track[centre - REFINE : centre + REFINE + n].astype(np.float32)
    tmpl = template.astype(np.float32)
    corr = np.array([_dot(near[k : k + n], tmpl) for k in range(2 * REFINE + 1)])
    # The track's energy under each lag: the first lag's, then samples leaving at the head, entering at the tail.
    edges = near.astype(np.float64)
    head, tail = edges[: 2 * REFINE] ** 2, edges[n : n + 2 * REFINE] ** 2
    energy_x = _dot(edges[:n], edges[:n]) + np.concatenate([[0.0], np.cumsum(tail - head)])
    energy_t = _dot(template.astype(np.float64), template.astype(np.float64))
    fine = corr / (np.sqrt(energy_t) * np.sqrt(np.maximum(energy_x, energy_t))) if energy_t > 0 else corr * 0
    peak = int(np.argmax(fine))
    return lo + centre - REFINE + peak, float(fine[peak])


def _where_placed(wav, frames, template, expected):
    """(sample, score) if the track holds the line alone where it was placed (give or take the timing
    table's millisecond rounding), else None: the usual case, checked at a fraction of a search's cost."""
    n = template.size
    lo = expected - QUICK - REFINE
    track = _read(wav, frames, lo, n + 2 * (QUICK + REFINE) + COARSE)
    small_t = _decimate(template, COARSE)
    small_x = _decimate(track[REFINE:], COARSE)
    lags = 2 * QUICK // COARSE + 1
    if small_t.size == 0 or small_x.size < small_t.size + lags - 1:
        return None
    coarse = scores(small_x[: small_t.size + lags - 1], small_t)
    best = int(np.argmax(coarse))
    if coarse[best] < QUICK_SCORE:
        return None
    at, score = _refine(track, lo, best * COARSE + REFINE, template)  # small_x starts REFINE into track
    return (at, score) if score >= QUICK_SCORE else None


def locate(wav, frames, rate, template, expected, around):
    """(sample where ``template`` starts in the track, score), searched ``SEARCH`` s around the samples
    ``expected`` (the placed start; preferred between two equal peaks) and ``around`` (the script start)."""
    quick = _where_placed(wav, frames, template, expected)
    if quick is not None:
        return quick
    n = template.size
    search = int(round(SEARCH * rate))
    lo, hi = min(expected, around) - search, max(expected, around) + search  # first and last lag searched
    track = _read(wav, frames, lo - REFINE, hi - lo + n + 2 * REFINE)

    coarse = scores(_decimate(track[REFINE:], COARSE), _decimate(template, COARSE))
    if coarse.size == 0:
        return None, 0.0
    best = int(np.argmax(coarse))
    # The same audio can be placed twice within the window (a repeated "Yes."): take the copy nearest
    # the placed start. Peaks of one copy closer than half its length are pitch periods, not copies.
    lag = np.arange(coarse.size)
    rivals = np.flatnonzero((coarse >= coarse[best] - REPEAT) & (np.abs(lag - best) >= n // (2 * COARSE)))
    if rivals.size:
        candidates = np.append(rivals, best)
        best = int(candidates[np.argmin(np.abs(lo + candidates * COARSE - expected))])
    # Full rate, REFINE samples either side of the coarse peak (``track`` starts REFINE before ``lo``).
    return _refine(track, lo - REFINE, best * COARSE + REFINE, template)


def measure(dub_wav, lines, tolerance):
    """(rows, summary): each line found in ``dub_wav`` (see the module's docstring).

    ``lines``: dicts in time order with id, speaker, text, slot_start, slot_end, start (placed),
    displacement, speedup and fitted_wav (the audio placed for it).
    """
    found = []
    with wave.open(str(dub_wav), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise DubbingError(dub_wav, f"expected 16-bit PCM, got {8 * wav.getsampwidth()}-bit")
        rate, frames = wav.getframerate(), wav.getnframes()
        for line in lines:
            template, wav_rate = read_wav(line["fitted_wav"])
            if wav_rate != rate:
                raise DubbingError(line["fitted_wav"], f"sample rate {wav_rate} differs from the dub track's {rate}")
            # Speech within the fitted audio: it should start TRIM_PAD in (the fit trims to the speech with that
            # pad); any more silence at its head is a late start, whatever the placement says.
            first, last = speech_bounds(template, rate, pad=0.0)
            lead = max(0, first - round(TRIM_PAD * rate))
            placed = line.get("start")
            placed = line["slot_start"] if placed is None or placed != placed else placed  # None or NaN
            at, score = locate(wav, frames, rate, template, round(placed * rate), round(line["slot_start"] * rate))
            start = (at + lead) / rate if at is not None and score >= FOUND else None
            found.append((line, placed, start, (last - lead) / rate, score))

    # The next line's audio: the earliest of the later lines found (one may have moved before another).
    next_start = [np.inf] * (len(found) + 1)
    for index in range(len(found) - 1, -1, -1):
        start = found[index][2]
        next_start[index] = min(next_start[index + 1], np.inf if start is None else start)
    rows = []
    for index, (line, placed, start, speech, score) in enumerate(found):
        overlap = 0.0
        if start is not None and next_start[index + 1] < np.inf:
            overlap = min(speech, max(0.0, start + speech - next_start[index + 1]))
        onset = None if start is None else start - line["slot_start"]
        if start is None:
            status = "missing"
        elif abs(onset) > tolerance:
            status = "late" if onset > 0 else "early"
        elif overlap > OVERLAP:
            status = "overlap"
        else:
            status = "ok"
        displacement = float(line.get("displacement", placed - line["slot_start"]))
        rows.append(LineSync(
            str(line["id"]), str(line.get("speaker", "")), str(line.get("text", "")),
            round(line["slot_start"], 3), round(line["slot_end"], 3), round(placed, 3),
            None if start is None else round(start, 3), None if start is None else round(start + speech, 3),
            None if onset is None else round(onset, 3), round(displacement, 3),
            round(float(line.get("speedup", 1.0)), 3), round(overlap, 3), round(min(max(score, 0.0), 1.0), 3), status,
        ))
    return rows, summarize(rows, tolerance)


def summarize(rows, tolerance):
    """The numbers of sync_summary.json from the rows of :func:`measure`.

    Onset errors are absolute for the median and 90th percentile, signed for the worst.
    """
    onsets = [r for r in rows if r.onset_error is not None]
    sizes = [abs(r.onset_error) for r in onsets]
    worst = max(onsets, key=lambda r: abs(r.onset_error)) if onsets else None
    return {
        "segments": len(rows),
        "tolerance": tolerance,
        "median_onset_error": round(statistics.median(sizes), 3) if sizes else None,
        "p90_onset_error": round(float(np.percentile(sizes, 90)), 3) if sizes else None,
        "worst_onset_error": worst.onset_error if worst else None,
        "worst_onset_id": worst.id if worst else None,
        "within_0_25": round(sum(s <= 0.25 for s in sizes) / len(rows), 3) if rows else None,
        "overlaps": sum(r.overlap > OVERLAP for r in rows),
        "missing": sum(r.status == "missing" for r in rows),
        "sped_up": sum(r.speedup > 1.0005 for r in rows),
        "max_speedup": round(max((r.speedup for r in rows), default=1.0), 3),
        "speech_seconds": round(sum(r.measured_end - r.measured_start for r in onsets), 2),
        "slot_seconds": round(sum(r.slot_end - r.slot_start for r in rows), 2),
        "violations": [r.id for r in rows if r.status != "ok"],
    }


def as_dicts(rows):
    """The rows as plain dicts, in the sync table's column order."""
    return [asdict(row) for row in rows]



# An onset of the original's speech this near a line's slot start is that line's (ASR and subtitle
# starts are within 0.1 s of the speech on the phone call when a pause precedes it; see docs/BENCHMARKS.md).
ORIGINAL_ONSET_WINDOW = 0.5


def against_original(source_probs, dub_probs, rows):
    """(rows with original_onset and vs_original, summary): the dub against the original's speech.

    Both tracks' speech is found by the same voice-activity detector (``dubbing.vad``, 32 ms frames).
    Per line: the original's speech onset nearest the slot start (within ORIGINAL_ONSET_WINDOW), and the
    dub's measured start less it. For the whole video: seconds where the dub speaks over the original's
    silence, seconds of the original's speech with no dub over them, and the share of frames where both
    agree (speech or silence) and of speech frames shared (intersection over union).
    """
    from . import vad

    n = max(len(source_probs), len(dub_probs))
    original = np.zeros(n, bool)
    original[: len(source_probs)] = np.asarray(source_probs) >= vad.THRESHOLD
    dubbed = np.zeros(n, bool)
    dubbed[: len(dub_probs)] = np.asarray(dub_probs) >= vad.THRESHOLD
    starts = np.array(vad.onsets(source_probs))
    out, errors = [], []
    for row in rows:
        onset = None
        if starts.size:
            nearest = float(starts[np.argmin(np.abs(starts - row.slot_start))])
            if abs(nearest - row.slot_start) <= ORIGINAL_ONSET_WINDOW:
                onset = nearest
        versus = None if onset is None or row.measured_start is None else round(row.measured_start - onset, 3)
        if versus is not None:
            errors.append(abs(versus))
        out.append(replace(row, original_onset=onset, vs_original=versus))
    union = int(np.count_nonzero(original | dubbed))
    frame = vad.FRAME_SECONDS
    summary = {
        "original_speech_seconds": round(float(np.count_nonzero(original)) * frame, 2),
        "dub_speech_seconds": round(float(np.count_nonzero(dubbed)) * frame, 2),
        "dub_over_silence_seconds": round(float(np.count_nonzero(dubbed & ~original)) * frame, 2),
        "original_without_dub_seconds": round(float(np.count_nonzero(original & ~dubbed)) * frame, 2),
        "speech_agreement": round(float(np.mean(original == dubbed)), 3) if n else None,
        "shared_speech": round(float(np.count_nonzero(original & dubbed)) / union, 3) if union else None,
        "lines_with_original_onset": len(errors),
        "median_vs_original": round(statistics.median(errors), 3) if errors else None,
        "p90_vs_original": round(float(np.percentile(errors, 90)), 3) if errors else None,
    }
    return out, summary
