"""Measured sync: where the dubbed speech really starts and ends, against the script's slots.

The dub track (``dub.wav``, what the mix and the video carry) is cut into speech regions by its
own level, and each script line is matched to the region that starts nearest its slot. Nothing
from the pipeline's plan is trusted: a segment placed late, early, or running into the next line
shows up here, whatever the timing table says.
"""

import logging
import statistics
from dataclasses import dataclass

import numpy as np

from .audio import wav_info, wav_levels

log = logging.getLogger("dubbing")

FRAME = 0.01
SPEECH_DB = -45.0  # the dub track is silent between lines: anything above this is speech
MERGE_GAP = 0.15  # pauses shorter than this are inside one utterance
MATCH_WINDOW = 1.0  # a line's speech must start within this many seconds of its slot


def speech_regions(levels, frame=FRAME, threshold_db=SPEECH_DB, merge_gap=MERGE_GAP):
    """[(start, end)] seconds of speech in a track, from its per-frame RMS levels."""
    loud = levels > 32768 * 10 ** (threshold_db / 20)
    if not loud.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    regions = []
    for start, end in zip(edges[::2], edges[1::2]):
        if regions and (start - regions[-1][1]) * frame < merge_gap:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    return [(round(s * frame, 3), round(e * frame, 3)) for s, e in regions]


@dataclass
class SegmentSync:
    id: str
    speaker: str
    text: str
    slot_start: float
    slot_end: float
    next_start: float | None
    stretch: float
    measured_start: float | None
    measured_end: float | None
    onset_error: float | None
    overflow: float
    status: str


def match(segments, regions, stretches, tolerance):
    """One SegmentSync per script line (time order).

    Each line takes the unclaimed region that starts nearest its slot (within MATCH_WINDOW); the
    regions after it up to the next claimed one are its own pauses (a comma, a breath), so the
    line ends where the last of them ends.
    """
    claimed = []
    used = set()
    for seg in segments:
        candidates = [(abs(start - seg.start), i) for i, (start, _) in enumerate(regions)
                      if i not in used and abs(start - seg.start) <= MATCH_WINDOW]
        best = min(candidates)[1] if candidates else None
        if best is not None:
            used.add(best)
        claimed.append(best)
    starts = sorted(i for i in claimed if i is not None)
    rows = []
    for index, (seg, best) in enumerate(zip(segments, claimed)):
        next_start = segments[index + 1].start if index + 1 < len(segments) else None
        measured_start = measured_end = onset = None
        overflow = 0.0
        if best is not None:
            following = [i for i in starts if i > best]
            last = (following[0] - 1) if following else len(regions) - 1
            measured_start, measured_end = regions[best][0], regions[last][1]
            onset = round(measured_start - seg.start, 3)
            if next_start is not None and measured_end > next_start + 0.005:
                overflow = round(measured_end - next_start, 3)
        if onset is None:
            # No speech starts near the slot: missing, or still the previous line running over.
            previous_over = rows and rows[-1].overflow > 0
            status = "masked by previous overflow" if previous_over else "missing"
        elif abs(onset) > tolerance:
            status = "late" if onset > 0 else "early"
        elif overflow > tolerance:
            status = "overflow"
        else:
            status = "ok"
        rows.append(SegmentSync(seg.id, seg.speaker, seg.text, seg.start, seg.end, next_start,
                                stretches.get(seg.id, 1.0), measured_start, measured_end, onset, overflow, status))
    return rows


def summarize(rows, tolerance):
    onsets = [abs(r.onset_error) for r in rows if r.onset_error is not None]
    sped_up = [r for r in rows if r.stretch > 1.0005]
    speech = sum((r.measured_end - r.measured_start) for r in rows if r.measured_start is not None)
    slots = sum(r.slot_end - r.slot_start for r in rows)
    violations = [r.id for r in rows if r.status != "ok"]
    return {
        "segments": len(rows),
        "tolerance": tolerance,
        "worst_onset_error": max(onsets) if onsets else None,
        "worst_onset_id": max((r for r in rows if r.onset_error is not None), key=lambda r: abs(r.onset_error)).id
        if onsets else None,
        "median_onset_error": round(statistics.median(onsets), 3) if onsets else None,
        "sped_up": len(sped_up),
        "max_stretch": round(max((r.stretch for r in rows), default=1.0), 3),
        "overflowed": [r.id for r in rows if r.overflow > tolerance],
        "speech_seconds": round(speech, 2),
        "slot_seconds": round(slots, 2),
        "violations": violations,
    }


def measure(dub_wav, segments, stretches, tolerance):
    rate, _channels, _frames = wav_info(dub_wav)
    block = int(rate * FRAME)
    regions = speech_regions(wav_levels(dub_wav, block))
    rows = match(segments, regions, stretches, tolerance)
    return rows, summarize(rows, tolerance)
