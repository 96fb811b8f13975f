"""Fit arithmetic: how much time each segment may use and how much to speed it up. Pure; no I/O."""

from dataclasses import dataclass

# Overflow shorter than this (half a millisecond) is rounding, not speech running late.
OVERFLOW_EPSILON = 0.0005


@dataclass(frozen=True)
class Slot:
    """Where a segment may speak: from ``start`` until ``window_end`` (the next segment's start).

    ``end`` is the script's end of the line; the silence after it up to the next segment is
    usable too, so that speech is sped up only when it would run into the next line.
    """

    id: str
    start: float
    end: float
    window_end: float

    @property
    def window(self):
        return self.window_end - self.start


@dataclass(frozen=True)
class FitPlan:
    speech: float  # seconds of synthesized speech after trimming silence
    window: float  # seconds available
    stretch: float  # speed-up factor applied (1.0 = none)
    fitted: float  # seconds after stretching
    overflow: float  # seconds that still run past the window (0 when it fits)


def slots_for(segments, audio_duration, gap=0.0):
    """Slots for time-ordered segments: each may speak until ``gap`` seconds before the next one
    starts (a breath between lines; never less than its own script slot), the last one until the
    audio ends."""
    slots = []
    for index, seg in enumerate(segments):
        if index + 1 < len(segments):
            window_end = max(segments[index + 1].start - gap, min(seg.end, segments[index + 1].start))
        else:
            window_end = max(audio_duration, seg.start)
        slots.append(Slot(seg.id, seg.start, seg.end, round(window_end, 3)))
    return slots


def plan_fit(speech, window, max_speedup):
    """Speed up only as much as needed to fit ``window``, never beyond ``max_speedup``."""
    if window <= 0:
        return FitPlan(speech, window, 1.0, speech, speech)
    stretch = min(max(speech / window, 1.0), max_speedup)
    fitted = speech / stretch
    overflow = fitted - window
    if overflow < OVERFLOW_EPSILON:
        overflow = 0.0
    return FitPlan(speech, window, stretch, fitted, overflow)
