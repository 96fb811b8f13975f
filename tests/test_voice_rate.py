"""Which speaking rate a line asks its voice for."""

from dubbing.fit import voice_rate


def test_tiny_speed_ups_are_left_to_stretching_and_send_nothing():
    assert voice_rate(1.0, 1.25, 2.0) == 1.0
    assert voice_rate(1.019, 1.25, 2.0) == 1.0


def test_rates_go_up_in_steps_so_small_timing_edits_reuse_the_cached_voice():
    assert voice_rate(1.03, 1.25, 2.0) == 1.05
    assert voice_rate(1.05, 1.25, 2.0) == 1.05
    assert voice_rate(1.051, 1.25, 2.0) == 1.1
    assert voice_rate(1.21, 1.25, 2.0) == 1.25


def test_never_past_max_speedup_nor_what_the_voice_can_take():
    assert voice_rate(1.24, 1.22, 2.0) == 1.22
    assert voice_rate(1.25, 1.25, 1.2) == 1.2  # ElevenLabs takes at most 1.2
    assert voice_rate(1.25, 1.25, 1.0) == 1.0  # a voice without a rate: stretching only


def test_a_second_ask_rounds_down_so_the_voice_does_not_overshoot():
    assert voice_rate(1.447, 2.0, 2.0, round_up=False) == 1.4
    assert voice_rate(1.447, 2.0, 2.0) == 1.45
