"""Where each dubbed line goes and how fast it is spoken, for the whole video at once. Pure; no I/O.

A dubbed line often takes longer than the original speaker did. Two levers keep it in sync:
1. **Pace** (`pace`): speak faster, never beyond ``max_speedup``. A line is sped up to fit its own
   window (its script start to the next line's start, less a breath); a line that starts late
   because the one before ran over speeds up to catch up; a line that must end early so that an
   over-long next line can start in time speeds up to make room.
2. **Placement** (`place`): what still does not fit moves. Start times minimise the total squared
   displacement from the script, subject to no two lines overlapping (each ends, plus its breath,
   before the next starts) and all inside the video. With the offsets ``c_i`` (the lengths and
   breaths of the lines before ``i``) this is isotonic regression of ``s_i - c_i``, solved exactly
   in linear time by pool-adjacent-violators: a run of lines that cannot all start on time shares
   the delay (some start a little early, some a little late), and every pause re-synchronises.
"""

from dataclasses import dataclass

MAX_EARLY = 0.5  # seconds a line may start before its script time ("a little earlier", into the silence)
# ... and lines the end of the video leaves no room for, before they may start any earlier still: moving
# the last lines earlier is better than cutting the last sentence off.
TAIL_EARLY = 2.0
# When the lines cannot all fit in the video even end to end, the last ones are sped up beyond
# max_speedup (and named in a warning) rather than cut: but never past this in all.
MOST_SPEEDUP = 3.0


@dataclass(frozen=True)
class Line:
    """One line as placement sees it: its script start, the end of its window, the breath after it."""

    start: float
    window_end: float  # where its speech may run to without moving anything (next start less the breath)
    gap: float  # silence kept between its end and the next line's start (0 for the last line)


def lines_for(slots):
    """Lines from time-ordered fitting.Slots: the breath is what the slot keeps before the next start."""
    return [Line(slot.start, slot.window_end,
                 max(0.0, slots[i + 1].start - slot.window_end) if i + 1 < len(slots) else 0.0)
            for i, slot in enumerate(slots)]


def _rate(speech, available, floor, cap):
    """The speed-up that makes ``speech`` seconds fit ``available`` seconds, within [floor, cap]."""
    if available <= 0:
        return cap
    return min(cap, max(floor, speech / available))


def pace(lines, speech, max_speedup, earliest=MAX_EARLY):
    """The speed-up of each line (1.0 = natural, at most ``max_speedup``), given its natural ``speech`` seconds.

    Three linear passes: each line to its own window; forward, a line delayed by the one before
    catches up; backward, a line ends early enough for the next one's (possibly early) start.
    """
    n = len(lines)
    rates = [_rate(speech[i], line.window_end - line.start, 1.0, max_speedup) for i, line in enumerate(lines)]
    end = float("-inf")
    for i, line in enumerate(lines):
        start = max(line.start, end + (lines[i - 1].gap if i else 0.0))
        if start > line.start:
            rates[i] = _rate(speech[i], line.window_end - start, rates[i], max_speedup)
        end = start + speech[i] / rates[i]
    next_start = float("inf")
    for i in range(n - 1, -1, -1):
        line = lines[i]
        latest_end = min(line.window_end, next_start - line.gap)
        if latest_end < line.window_end:
            rates[i] = _rate(speech[i], latest_end - line.start, rates[i], max_speedup)
        next_start = min(line.start, max(line.start - earliest, latest_end - speech[i] / rates[i]))
    return rates


def isotonic(values, lower=None, upper=float("inf")):
    """The non-decreasing sequence closest to ``values`` in least squares, each element at least its
    ``lower`` bound and all at most ``upper`` (pool adjacent violators).

    A pooled block takes the mean of its values raised to its highest lower bound, then capped at
    ``upper`` (lower bounds win: if both cannot hold, the block is too late rather than too early).
    PAV is exact for any separable convex objective under a simple order, and a block's minimiser
    here is computed from three running numbers, so the whole pass is linear.
    """
    lower = lower or [float("-inf")] * len(values)
    blocks = []  # [sum, count, highest lower bound, value]
    for value, bound in zip(values, lower):
        block = [float(value), 1, bound, 0.0]
        block[3] = max(bound, min(upper, value))
        while blocks and blocks[-1][3] > block[3]:
            before = blocks.pop()
            total, count, bound = before[0] + block[0], before[1] + block[1], max(before[2], block[2])
            block = [total, count, bound, max(bound, min(upper, total / count))]
        blocks.append(block)
    out = []
    for _total, count, _bound, value in blocks:
        out.extend([value] * count)
    return out


def place(lines, lengths, duration, earliest=MAX_EARLY):
    """Start times (seconds) for lines of the given fitted ``lengths``: as close to the script as possible,
    none overlapping the next (with its breath), none more than ``earliest`` seconds before its script
    time, all within ``[0, duration]``.

    When the end of the video leaves no room for the last lines, they may start earlier, into the
    silence before them: up to ``TAIL_EARLY`` seconds, then as early as it takes (never before 0).
    A sentence is cut at the end of the video only when the lines cannot all fit in it even end to end.
    """
    offsets, total = [], 0.0
    for line, length in zip(lines, lengths):
        offsets.append(total)
        total += length + line.gap
    if not lines:
        return []
    upper = duration - offsets[-1] - lengths[-1]
    for allowed in (earliest, max(earliest, TAIL_EARLY), float("inf")):
        lower = [max(0.0, line.start - allowed) - offset for line, offset in zip(lines, offsets)]
        if upper >= max(lower):
            break
    else:  # cannot all end inside the video even end to end: keep the sync, let the end be cut
        upper = float("inf")
    shifted = isotonic([line.start - offset for line, offset in zip(lines, offsets)], lower, upper)
    return [value + offset for value, offset in zip(shifted, offsets)]


def tail_speedups(lines, lengths, duration, rates=None, most=MOST_SPEEDUP):
    """Extra speed-up (1.0 = none) for each line so that all of them fit in ``duration`` end to end.

    Only when they cannot as they are: the fewest last lines are sped up by one common factor,
    each to at most ``most`` in all (with its ``rates``), so the end of the video cuts no sentence.
    When even that cannot fit them, nothing is sped up (the end is cut, and placement says so).
    """
    rates = rates or [1.0] * len(lines)
    extra = [1.0] * len(lines)
    total = sum(lengths) + sum(line.gap for line in lines[:-1])
    excess = total - duration
    if not lines or excess <= 1e-6:
        return extra
    for k in range(1, len(lines) + 1):
        tail = sum(lengths[-k:])
        if tail <= excess:
            continue
        factor = tail / (tail - excess)
        if all(rate * factor <= most + 1e-9 for rate in rates[-k:]):
            return extra[:-k] + [factor] * k
    return extra  # not even at ``most``: hurrying every line would not save the end, so none is hurried
