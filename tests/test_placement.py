"""Pace and placement for the whole video: lines move only as much as they must, and never overlap."""

import random

import pytest

from dubbing.fitting import slots_for
from dubbing.placement import MAX_EARLY, MOST_SPEEDUP, Line, isotonic, lines_for, pace, place, tail_speedups
from dubbing.script import Segment

CAP = 1.25


def lines_from(rows, duration, gap=0.1):
    segments = [Segment(id=f"{i:04d}", start=start, end=end, text="x") for i, (start, end) in enumerate(rows)]
    return lines_for(slots_for(segments, duration, gap))


def assert_apart(lines, lengths, starts, duration):
    for i, (line, length, start) in enumerate(zip(lines, lengths, starts)):
        assert start >= -1e-9
        if i + 1 < len(lines):
            assert starts[i + 1] >= start + length + line.gap - 1e-9, f"line {i} runs into line {i + 1}"
    if sum(lengths) + sum(line.gap for line in lines) <= duration:
        assert starts[-1] + lengths[-1] <= duration + 1e-9


def cost(lines, starts):
    return sum((start - line.start) ** 2 for line, start in zip(lines, starts))


def test_lines_that_fit_stay_on_their_script_time_at_their_natural_rate():
    lines = lines_from([(1.0, 2.0), (3.0, 4.0), (6.0, 7.5)], 10.0)
    speech = [1.5, 2.0, 3.0]  # each fits before the next line (less the 0.1 s breath)
    rates = pace(lines, speech, CAP)
    assert rates == [1.0, 1.0, 1.0]
    assert place(lines, speech, 10.0) == [1.0, 3.0, 6.0]


def test_a_line_too_long_for_its_window_is_sped_up_before_anything_moves():
    lines = lines_from([(1.0, 2.0), (3.0, 4.0)], 10.0)
    rates = pace(lines, [2.2, 1.0], CAP)  # 2.2 s in a 1.9 s window: 1.158x fits it
    assert rates[0] == pytest.approx(2.2 / 1.9)
    assert rates[1] == 1.0
    assert place(lines, [2.2 / rates[0], 1.0], 10.0) == pytest.approx([1.0, 3.0])


def test_what_the_cap_cannot_absorb_is_shared_by_the_neighbours_and_the_next_pause_resyncs():
    # 0001 needs 3.0 s in 1.9 s: at 1.25x it still overflows by 0.5 s. 0002 follows at once;
    # after 0002 there is a long pause, and 0003 comes after it.
    lines = lines_from([(1.0, 2.9), (3.0, 4.0), (9.0, 10.0)], 12.0)
    speech = [3.0, 1.0, 1.0]
    rates = pace(lines, speech, CAP)
    assert rates[0] == CAP
    assert 1.0 <= rates[1] <= CAP
    lengths = [s / r for s, r in zip(speech, rates)]
    starts = place(lines, lengths, 12.0)
    assert_apart(lines, lengths, starts, 12.0)
    assert starts[2] == pytest.approx(9.0)  # after the pause: exactly on time, no drift
    # Least squares: the overrun is split between an early start and a late follower.
    assert starts[0] < 1.0 and starts[1] >= 3.0 - 1e-9


def test_a_late_line_catches_up_and_a_line_before_an_overlong_one_makes_room():
    lines = lines_from([(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)], 4.5, gap=0.0)
    speech = [1.4, 1.0, 1.0, 1.0]
    rates = pace(lines, speech, CAP)
    assert rates[0] == CAP
    assert rates[1] > 1.0  # starts 0.12 s late, so it speaks faster to be done by 2.0 s
    # The last line needs 2.5 s in its 1.9 s up to the video's end: even at 1.25x (2.0 s) it must
    # start 0.1 s early, so the line before it speaks faster to be done by then.
    lines = lines_from([(0.0, 1.0), (1.0, 2.0)], 2.9, gap=0.0)
    rates = pace(lines, [1.0, 2.5], CAP)
    assert rates == pytest.approx([1.0 / 0.9, CAP])


def test_rates_stay_between_natural_and_the_cap_whatever_the_input():
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 30)
        starts = sorted(rng.uniform(0, 60) for _ in range(n))
        rows = [(s, s + rng.uniform(0.1, 3)) for s in starts]
        rows = [(s, min(e, rows[i + 1][0]) if i + 1 < n else e) for i, (s, e) in enumerate(rows)]
        rows = [(s, max(e, s + 0.01)) for s, e in rows]
        lines = lines_from(rows, 70.0)
        speech = [rng.uniform(0.1, 6.0) for _ in range(n)]
        rates = pace(lines, speech, CAP)
        assert all(1.0 <= rate <= CAP for rate in rates)


def test_never_two_lines_at_once_and_nothing_beats_the_least_squares_placement():
    rng = random.Random(11)
    for _ in range(200):
        n = rng.randint(1, 7)
        starts = sorted(rng.uniform(0, 10) for _ in range(n))
        lines = [Line(s, s + 0.5, rng.choice([0.0, 0.1])) for s in starts]
        lengths = [rng.uniform(0.2, 3.0) for _ in range(n)]
        duration, earliest = rng.choice([(20.0, MAX_EARLY), (20.0, 0.2), (14.0, 100.0)])
        placed = place(lines, lengths, duration, earliest)
        assert_apart(lines, lengths, placed, duration)
        assert all(p >= max(0.0, line.start - earliest) - 1e-9 for p, line in zip(placed, lines))
        if placed[-1] + lengths[-1] > duration + 1e-9:
            continue  # the lines do not fit in the video: the end is given up, never the order
        best = cost(lines, placed)
        # Any other placement that keeps the lines apart, in the video and not too early is at least
        # as far from the script.
        for _ in range(300):
            other, t = [], 0.0
            for line, length in zip(lines, lengths):
                t = max(t, line.start + rng.uniform(-earliest, 2.5), line.start - earliest, 0.0)
                other.append(t)
                t += length + line.gap
            if other[-1] + lengths[-1] <= duration:
                assert cost(lines, other) >= best - 1e-9


def test_a_line_starts_at_most_half_a_second_early_the_rest_of_the_delay_goes_later():
    # 0002 is 2 s too long for its window: it may start only 0.5 s early, so 0003 takes the rest.
    lines = lines_from([(0.0, 1.0), (2.0, 3.0), (4.0, 5.0), (20.0, 21.0)], 30.0, gap=0.0)
    lengths = [1.0, 4.0, 1.0, 1.0]
    placed = place(lines, lengths, 30.0)
    assert placed[1] == pytest.approx(1.5) and placed[2] == pytest.approx(5.5) and placed[3] == 20.0


def test_lines_longer_than_the_video_run_past_its_end_rather_than_overlap():
    lines = lines_from([(0.5, 1.0), (1.0, 1.5)], 2.0, gap=0.0)
    placed = place(lines, [1.5, 1.5], 2.0)
    assert placed[0] == 0.0 and placed[1] == pytest.approx(1.5)


def test_the_last_sentence_moves_into_the_silence_before_it_rather_than_being_cut():
    # The phone-call case: the last line starts 2.5 s before the end and its dub lasts 4 s; 3 s of silence
    # before it. Half a second early is not enough; it starts 1.5 s early and ends with the video.
    lines = lines_from([(5.0, 8.0), (11.5, 14.0)], 14.0)
    placed = place(lines, [3.0, 4.0], 14.0)
    assert placed[0] == 5.0 and placed[1] == pytest.approx(10.0) and placed[1] + 4.0 <= 14.0 + 1e-9
    # Beyond TAIL_EARLY the lines before it move too, as little as they can.
    placed = place(lines_from([(5.0, 8.0), (11.5, 14.0)], 14.0), [6.0, 7.0], 14.0)
    assert placed[1] + 7.0 == pytest.approx(14.0) and placed[0] + 6.0 <= placed[1] + 1e-9 and placed[0] >= 0.0


def test_lines_that_cannot_fit_even_end_to_end_are_sped_up_at_the_tail_not_cut():
    lines = lines_from([(0.5, 1.0), (1.0, 1.5)], 2.0, gap=0.0)
    assert tail_speedups(lines, [0.8, 0.9], 2.0) == [1.0, 1.0]  # they fit: nothing changes
    extra = tail_speedups(lines, [1.0, 1.5], 2.0)  # 2.5 s of speech in 2 s: the last line, 1.5 -> 1.0 s
    assert extra == [1.0, pytest.approx(1.5)]
    lengths = [length / factor for length, factor in zip([1.0, 1.5], extra)]
    placed = place(lines, lengths, 2.0)
    assert placed[1] + lengths[1] <= 2.0 + 1e-9 and placed[0] + lengths[0] <= placed[1] + 1e-9
    # Never past MOST_SPEEDUP in all: more lines share the speed-up instead.
    extra = tail_speedups(lines, [2.0, 2.0], 2.0, rates=[1.25, 1.25])
    assert extra[0] > 1.0 and all(1.25 * factor <= MOST_SPEEDUP + 1e-9 for factor in extra)
    assert sum(length / factor for length, factor in zip([2.0, 2.0], extra)) == pytest.approx(2.0)
    # Beyond saving (10 minutes of speech in 2 s): nobody is hurried for nothing.
    assert tail_speedups(lines, [1.0, 600.0], 2.0, rates=[1.0, 1.25]) == [1.0, 1.0]


def test_isotonic_regression_pools_adjacent_violators_within_bounds():
    assert isotonic([1, 3, 2, 4]) == [1, 2.5, 2.5, 4]
    assert isotonic([5, 4, 3]) == [4, 4, 4]
    assert isotonic([]) == []
    assert isotonic([5, 4, 3], lower=[0, 0, 4.5]) == [4.5, 4.5, 4.5]  # a pooled block rises to its bound
    assert isotonic([1, 2, 9], upper=5) == [1, 2, 5]


def test_placement_of_600_lines_is_a_single_pass():
    lines = lines_from([(i * 6.0, i * 6.0 + 4.0) for i in range(600)], 3600.0)
    lengths = [6.5 if i % 3 == 0 else 4.0 for i in range(600)]  # every third line overruns by 0.6 s
    placed = place(lines, lengths, 3600.0)
    assert_apart(lines, lengths, placed, 3600.0)
    assert max(abs(p - line.start) for p, line in zip(placed, lines)) < 0.6
