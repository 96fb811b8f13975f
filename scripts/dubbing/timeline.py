"""Laying fitted segments on one track at their placed start times, one voice at a time.

The track never carries two segments at once: a segment asked to start before the previous one
has ended starts when it ends (placement.place already keeps them apart; this is the guarantee
behind it, and it also absorbs sub-millisecond rounding). Segments are streamed in start order, so
time and memory grow with the track's length and the longest segment, never with (segments x track
length).
"""

import wave

import numpy as np

from .files import atomic_output

CHUNK = 1 << 20  # samples of silence written per call


def sample_starts(starts, lengths):
    """The start sample of each segment (sorted by start) as the track lays it: never before the
    previous segment's end."""
    out, end = [], 0
    for start, length in zip(starts, lengths):
        start = max(int(start), end)
        out.append(start)
        end = start + int(length)
    return out


def place(placements, total):
    """Yield int16 chunks of a ``total``-sample track with each (start_sample, samples) laid in.

    ``placements`` must be sorted by start. A segment never overlaps the one before it (see
    ``sample_starts``); anything past ``total`` is cut off, and the caller records it.
    """
    pos = 0  # samples already yielded
    for start, samples in placements:
        start = max(int(start), pos)
        if start >= total:
            break
        while pos < start:
            step = min(CHUNK, start - pos)
            yield np.zeros(step, dtype=np.int16)
            pos += step
        kept = np.asarray(samples, dtype=np.int16)[: total - pos]
        if kept.size:
            yield kept
            pos += kept.size
    while pos < total:
        step = min(CHUNK, total - pos)
        yield np.zeros(step, dtype=np.int16)
        pos += step


def write_track(dest, placements, total, rate):
    """Write the placed segments as a mono 16-bit WAV of exactly ``total`` samples."""
    with atomic_output(dest, ".wav") as tmp:
        with wave.open(str(tmp), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            for chunk in place(placements, total):
                wav.writeframes(chunk.astype("<i2").tobytes())
