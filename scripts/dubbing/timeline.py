"""Laying fitted segments on one track at their script start times.

Segments are streamed in start order into a small rolling buffer, so time and memory grow with
the track's length and the longest segment, never with (segments x track length).
"""

import wave

import numpy as np

from .files import atomic_output

CHUNK = 1 << 20  # samples of silence written per call


def place(placements, total):
    """Yield int16 chunks of a ``total``-sample track with each (start_sample, samples) mixed in.

    ``placements`` must be sorted by start. Overlapping segments are summed (and clipped);
    anything past ``total`` is cut off, and the caller records it as overflow.
    """
    pos = 0  # samples already yielded
    pending = np.zeros(0, dtype=np.int32)  # accumulated samples from ``pos`` on
    for start, samples in placements:
        start = max(start, pos)
        if start >= total:
            break
        if start > pos + pending.size:
            if pending.size:
                yield _to_int16(pending)
                pos += pending.size
                pending = np.zeros(0, dtype=np.int32)
            while pos < start:
                step = min(CHUNK, start - pos)
                yield np.zeros(step, dtype=np.int16)
                pos += step
        offset = start - pos
        end = min(offset + samples.size, total - pos)
        if end > pending.size:
            pending = np.concatenate([pending, np.zeros(end - pending.size, dtype=np.int32)])
        pending[offset:end] += samples[: end - offset]
        if offset:
            # Nothing that comes later starts before ``start``: the head is final.
            yield _to_int16(pending[:offset])
            pos += offset
            pending = pending[offset:]
    if pending.size:
        yield _to_int16(pending)
        pos += pending.size
    while pos < total:
        step = min(CHUNK, total - pos)
        yield np.zeros(step, dtype=np.int16)
        pos += step


def _to_int16(values):
    return np.clip(values, -32768, 32767).astype(np.int16)


def write_track(dest, placements, total, rate):
    """Write the placed segments as a mono 16-bit WAV of exactly ``total`` samples."""
    with atomic_output(dest, ".wav") as tmp:
        with wave.open(str(tmp), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            for chunk in place(placements, total):
                wav.writeframes(chunk.astype("<i2").tobytes())
