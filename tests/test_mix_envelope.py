"""Ducking envelope: the original's gain per 10 ms block, from the dub's block RMS levels."""

import numpy as np
import pytest

from dubbing.mix import BLOCK, HOLD_BLOCKS, LEAD_BLOCKS, RAMP_BLOCKS, gain_from_levels, gain_samples

LOUD = 3000.0  # int16-scale RMS, about -21 dBFS: clearly speech
DUCK_DB = 12.0
DUCKED = 10 ** (-DUCK_DB / 20)


def levels(size, *spans):
    level = np.zeros(size, dtype=np.float32)
    for start, stop in spans:
        level[start:stop] = LOUD
    return level


@pytest.fixture
def gain():
    """300 blocks (3 s): silence, speech in blocks 100-199, silence."""
    return gain_from_levels(levels(300, (100, 200)), DUCK_DB)


def test_gain_is_one_far_from_speech(gain):
    assert np.all(gain[: 100 - LEAD_BLOCKS - RAMP_BLOCKS] == 1.0)
    assert np.all(gain[200 + HOLD_BLOCKS + RAMP_BLOCKS :] == 1.0)


def test_gain_is_fully_ducked_throughout_speech(gain):
    np.testing.assert_allclose(gain[100:200], DUCKED, atol=1e-3)


def test_gain_falls_before_speech_starts(gain):
    assert gain[100 - LEAD_BLOCKS] < 1.0
    assert gain[99] == pytest.approx(DUCKED, abs=1e-3)  # already fully down when the dub speaks


def test_gain_is_held_after_speech_then_recovers(gain):
    assert gain[200 + HOLD_BLOCKS // 2] == pytest.approx(DUCKED, abs=1e-3)
    assert DUCKED + 1e-3 < gain[200 + HOLD_BLOCKS] < 1.0  # on the way back up
    assert gain[200 + HOLD_BLOCKS + RAMP_BLOCKS] == 1.0


def test_ramps_are_monotonic_and_gradual(gain):
    down, up = np.diff(gain[:150]), np.diff(gain[150:])
    assert np.all(down <= 1e-6) and np.all(up >= -1e-6)
    largest_step = (1.0 - DUCKED) / RAMP_BLOCKS + 1e-3
    assert np.abs(down).max() <= largest_step and np.abs(up).max() <= largest_step


def test_gain_stays_between_ducked_level_and_one(gain):
    assert gain.max() <= 1.0
    assert gain.min() >= DUCKED - 1e-3


def test_short_pause_between_lines_stays_ducked():
    gain = gain_from_levels(levels(400, (100, 150), (150 + HOLD_BLOCKS, 220)), DUCK_DB)
    np.testing.assert_allclose(gain[100:220], DUCKED, atol=1e-3)


def test_long_pause_between_lines_comes_back_up():
    gain = gain_from_levels(levels(500, (100, 150), (350, 400)), DUCK_DB)
    assert gain[250] == 1.0
    assert gain[125] == pytest.approx(DUCKED, abs=1e-3) and gain[375] == pytest.approx(DUCKED, abs=1e-3)


def test_speech_at_the_very_start_and_end_ducks_the_edges():
    gain = gain_from_levels(levels(200, (0, 20), (180, 200)), DUCK_DB)
    assert gain[0] == pytest.approx(DUCKED, abs=1e-3)
    assert gain[-1] == pytest.approx(DUCKED, abs=1e-3)
    assert gain[100] == 1.0


def test_all_silent_or_faint_noise_gives_all_ones():
    for level in (np.zeros(250), np.full(250, 50.0)):  # 50 is about -56 dBFS, under the -50 dBFS threshold
        gain = gain_from_levels(level, DUCK_DB)
        assert gain.shape == (250,)
        assert np.all(gain == 1.0)


def test_moderate_speech_above_threshold_ducks():
    level = np.zeros(100)
    level[40:60] = 200.0  # about -44 dBFS
    assert gain_from_levels(level, DUCK_DB)[50] == pytest.approx(DUCKED, abs=1e-3)


@pytest.mark.parametrize("duck_db", [3.0, 6.0, 20.0])
def test_ducked_level_follows_duck_db(duck_db):
    gain = gain_from_levels(levels(300, (100, 200)), duck_db)
    assert gain[150] == pytest.approx(10 ** (-duck_db / 20), abs=1e-3)


@pytest.mark.parametrize("size", [0, 1, 5, RAMP_BLOCKS, 57, 1000])
def test_result_length_equals_input_length(size):
    for level in (np.zeros(size), np.full(size, LOUD)):
        gain = gain_from_levels(level, DUCK_DB)
        assert gain.shape == (size,)
        assert gain.dtype == np.float32
    if size:
        np.testing.assert_allclose(gain_from_levels(np.full(size, LOUD), DUCK_DB), DUCKED, atol=1e-3)


@pytest.mark.parametrize(("first_block", "n"), [(0, 480_000), (7, 1), (0, BLOCK * 300), (250, BLOCK * 80 + 17), (299, 5000)])
def test_gain_per_sample_is_linear_between_block_values_and_held_after(first_block, n):
    gain = gain_from_levels(levels(300, (100, 200)), DUCK_DB)
    first = first_block * BLOCK
    want = np.interp((first + np.arange(n)) / BLOCK, np.arange(gain.size), gain)
    np.testing.assert_allclose(gain_samples(gain, first, n), want, atol=1e-6)
