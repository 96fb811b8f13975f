"""Fit arithmetic: each segment's window and how much its speech is sped up."""

import pytest

from dubbing.fitting import Slot, plan_fit, slots_for
from dubbing.script import Segment


def seg(seg_id, start, end):
    return Segment(id=seg_id, start=start, end=end, text="x")


def test_each_window_runs_to_the_next_start_and_the_last_to_the_audio_end():
    slots = slots_for([seg("a", 0.5, 1.0), seg("b", 2.0, 3.0), seg("c", 3.0, 4.5)], 10.25)
    assert slots == [
        Slot("a", 0.5, 1.0, 2.0),
        Slot("b", 2.0, 3.0, 3.0),
        Slot("c", 3.0, 4.5, 10.25),
    ]
    assert [slot.window for slot in slots] == [1.5, 1.0, 7.25]


def test_last_window_is_never_negative_when_audio_is_shorter_than_the_script():
    slots = slots_for([seg("a", 5.0, 6.0)], 4.0)
    assert slots[0].window_end == 5.0
    assert slots[0].window == 0.0


def test_no_segments_no_slots():
    assert slots_for([], 10.0) == []


def test_speech_that_fits_its_window_is_not_sped_up():
    # 1.8 s of speech for a line scripted as 1 s, but the next line starts 2 s later.
    slot = slots_for([seg("a", 0.0, 1.0), seg("b", 2.0, 3.0)], 5.0)[0]
    plan = plan_fit(1.8, slot.window, 1.25)
    assert (plan.stretch, plan.fitted, plan.overflow) == (1.0, 1.8, 0.0)


def test_speech_exactly_filling_the_window_is_not_sped_up():
    plan = plan_fit(2.0, 2.0, 1.25)
    assert (plan.stretch, plan.overflow) == (1.0, 0.0)


def test_speech_ten_percent_too_long_is_sped_up_just_enough():
    plan = plan_fit(2.2, 2.0, 1.25)
    assert plan.stretch == pytest.approx(1.1)
    assert plan.fitted == pytest.approx(2.0)
    assert plan.overflow == 0.0


def test_speech_fifty_percent_too_long_is_capped_and_overflows():
    plan = plan_fit(3.0, 2.0, 1.25)
    assert plan.stretch == 1.25
    assert plan.fitted == pytest.approx(2.4)
    assert plan.overflow == pytest.approx(3.0 / 1.25 - 2.0)


def test_even_a_tiny_excess_is_fitted_rather_than_run_into_the_next_line():
    plan = plan_fit(60.1, 60.0, 1.25)
    assert plan.stretch == pytest.approx(60.1 / 60.0)
    assert plan.overflow == 0.0


def test_empty_window_gets_no_stretch_and_everything_overflows():
    plan = plan_fit(1.5, 0.0, 1.25)
    assert (plan.stretch, plan.fitted, plan.overflow) == (1.0, 1.5, 1.5)


def test_stretch_never_exceeds_max_speedup_and_never_slows_down():
    for max_speedup in (1.0, 1.1, 1.25, 1.5, 2.0):
        for ratio in (0.1, 0.5, 0.99, 1.0, 1.001, 1.003, 1.05, 1.2, 1.5, 2.0, 3.0, 10.0, 100.0):
            for window in (0.2, 1.0, 7.5, 60.0):
                plan = plan_fit(window * ratio, window, max_speedup)
                assert 1.0 <= plan.stretch <= max_speedup, (max_speedup, ratio, window)
                assert plan.fitted == pytest.approx(plan.speech / plan.stretch)
                assert plan.overflow >= 0.0
                if plan.overflow == 0.0:
                    assert plan.fitted <= window + 0.0005


def test_a_breath_is_kept_before_the_next_line_but_never_cuts_into_the_own_slot():
    slots = slots_for([seg("a", 0.0, 1.0), seg("b", 2.0, 3.0), seg("c", 3.0, 4.0)], 9.0, gap=0.1)
    assert [slot.window_end for slot in slots] == [1.9, 3.0, 9.0]
