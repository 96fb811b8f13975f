"""Laying fitted segments on one track: exact positions, exact length, bounded memory."""

import wave

import numpy as np

from dubbing import timeline
from dubbing.timeline import place, write_track


def const(value, size):
    return np.full(size, value, dtype=np.int16)


def track(placements, total):
    chunks = list(place(placements, total))
    assert all(chunk.dtype == np.int16 for chunk in chunks)
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


def test_track_has_exactly_total_samples():
    for placements in ([], [(0, const(5, 10))], [(90, const(5, 50))], [(10, const(1, 3)), (500, const(2, 7))]):
        assert track(placements, 100).size == 100


def test_segments_land_on_their_start_sample_with_silence_between():
    out = track([(10, const(111, 5)), (20, const(222, 3)), (23, const(333, 2))], 40)
    expected = np.zeros(40, np.int16)
    expected[10:15] = 111
    expected[20:23] = 222
    expected[23:25] = 333
    np.testing.assert_array_equal(out, expected)


def test_segment_at_sample_zero():
    out = track([(0, const(7, 4))], 6)
    np.testing.assert_array_equal(out, [7, 7, 7, 7, 0, 0])


def test_never_two_voices_at_once_a_segment_asked_to_overlap_waits_for_the_previous_to_end():
    out = track([(0, const(1000, 10)), (5, const(2000, 10)), (30, const(-3000, 2)), (30, const(-4000, 2))], 40)
    np.testing.assert_array_equal(out[0:10], [1000] * 10)
    np.testing.assert_array_equal(out[10:20], [2000] * 10)  # starts when the first ends, never summed
    np.testing.assert_array_equal(out[30:34], [-3000, -3000, -4000, -4000])
    assert not out[20:30].any() and not out[34:].any()


def test_every_sample_of_the_track_comes_from_at_most_one_segment():
    rng = np.random.default_rng(3)
    for _ in range(50):
        starts = np.sort(rng.integers(0, 900, size=rng.integers(1, 12)))
        segments = [(int(start), const(int(i + 1), int(rng.integers(1, 200)))) for i, start in enumerate(starts)]
        out = track(segments, 1000)
        expected_starts = timeline.sample_starts([s for s, _ in segments], [seg.size for _, seg in segments])
        for (start, seg), placed in zip(segments, expected_starts):
            assert placed >= start
            end = min(placed + seg.size, 1000)
            if placed < 1000:
                np.testing.assert_array_equal(out[placed:end], seg[: end - placed])
        assert set(np.unique(out)) <= {0} | {int(seg[0]) for _, seg in segments}  # nothing summed


def test_segment_running_past_the_end_is_cut():
    out = track([(95, np.arange(1, 11, dtype=np.int16))], 100)
    assert out.size == 100
    np.testing.assert_array_equal(out[95:], [1, 2, 3, 4, 5])


def test_segment_starting_at_or_after_the_end_is_dropped():
    out = track([(10, const(9, 5)), (100, const(8, 5)), (150, const(7, 5))], 100)
    assert out.size == 100
    assert set(np.unique(out)) == {0, 9}


def test_no_placements_give_silence():
    out = track([], 12345)
    assert out.size == 12345 and not out.any()


def test_placements_may_be_a_generator():
    out = track(((start, const(1, 2)) for start in (0, 4, 8)), 10)
    np.testing.assert_array_equal(out, [1, 1, 0, 0, 1, 1, 0, 0, 1, 1])


def test_chunks_stay_small_on_a_long_track():
    total = 5_000_000
    chunks = list(place([(1_000, const(1, 100)), (4_000_000, const(2, 100))], total))
    assert sum(chunk.size for chunk in chunks) == total
    assert max(chunk.size for chunk in chunks) <= timeline.CHUNK
    out = np.concatenate(chunks)
    assert out[1_000:1_100].tolist() == [1] * 100 and out[4_000_000:4_000_100].tolist() == [2] * 100
    assert np.count_nonzero(out) == 200


def test_chunks_are_bounded_by_the_longest_segment_plus_overlap():
    long = const(1, timeline.CHUNK + 500)
    chunks = list(place([(10, long), (timeline.CHUNK, const(1, 1000)), (3 * timeline.CHUNK, const(1, 10))],
                        4 * timeline.CHUNK))
    assert max(chunk.size for chunk in chunks) <= long.size + 1000


def test_write_track_writes_mono_16_bit_wav_of_exact_length(tmp_path):
    dest = tmp_path / "out" / "dub.wav"
    write_track(dest, [(3, const(-1234, 4)), (8, const(32767, 100))], 10, 16000)
    with wave.open(str(dest), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.getnframes() == 10
        samples = np.frombuffer(wav.readframes(10), dtype="<i2")
    np.testing.assert_array_equal(samples, [0, 0, 0, -1234, -1234, -1234, -1234, 0, 32767, 32767])
    assert sorted(p.name for p in dest.parent.iterdir()) == ["dub.wav"]


def test_write_track_failure_leaves_no_file(tmp_path):
    dest = tmp_path / "dub.wav"

    def broken():
        yield 0, const(1, 5)
        raise RuntimeError("decoder died")

    try:
        write_track(dest, broken(), 10, 16000)
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []
