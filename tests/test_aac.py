"""The video's AAC encoded in pieces at once (scripts/dubbing/aac.py), with real ffmpeg encoders.

What a viewer would notice: a shift of the whole track (the priming frame), a click or dropout
where two pieces meet, a track longer or shorter than the video, a half-written file after a
failure. Each is measured on the decoded audio against the PCM that went in.
"""

import io
import json
import subprocess

import numpy as np
import pytest

from dubbing.aac import FRAME, MIN_PART, PartedEncoder, frame_count, kept_frames, plan_parts
from dubbing.errors import DubbingError

RATE = 48000


@pytest.mark.parametrize("total", [1, FRAME, MIN_PART - 1, MIN_PART * 2, MIN_PART * 2 + 777, 172_800_000])
@pytest.mark.parametrize("parts", [1, 2, 3, 4])
def test_pieces_tile_the_track_on_the_frame_grid(total, parts):
    plan = plan_parts(total, parts)
    assert 1 <= len(plan) <= parts
    assert len(plan) == 1 or total // len(plan) >= MIN_PART  # no piece too short to be worth an encoder
    assert plan[0][0] == -FRAME and plan[-1][1] == total
    for (_, end, _, _), (start, _, feed_start, _) in zip(plan, plan[1:]):
        assert end == start and start % FRAME == 0 and feed_start % FRAME == 0 and feed_start < start
    kept = [kept_frames(piece, total) for piece in plan]
    assert sum(end - first for first, end in kept) == frame_count(total)


def lecture_like(seconds):
    """Stereo int16 a waveform coder keeps closely: a voice-like harmonic tone (gliding pitch,
    syllable-rate envelope), the right channel delayed and softer, and a click right where the
    middle cut falls. (No broadband noise: AAC replaces noise with noise, so a waveform error says
    nothing there.)"""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    phase = 2 * np.pi * np.cumsum(160 + 40 * np.sin(2 * np.pi * 0.3 * t)) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 12)) * 0.25
    voice *= 0.2 + 0.8 * np.abs(np.sin(2 * np.pi * 2.1 * t))
    pcm = np.stack([voice, 0.7 * np.roll(voice, 240)], axis=1)
    middle = n // 2 // FRAME * FRAME
    pcm[middle - 5 : middle + 5] = 0.95
    return (np.clip(pcm, -1, 1) * 32767).astype("<i2")


def encode(pcm, dest, parts):
    with PartedEncoder(dest, len(pcm), pcm.shape[1], "192k", parts) as encoder:
        encoder.feed(io.BufferedReader(io.BytesIO(pcm.tobytes())))
        encoder.finish()
        pieces = len(encoder.plan)
    return pieces


def decoded(path):
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<i2").reshape(-1, 2).astype(np.float64)


def lag(piece, source, at, search=200):
    """Samples by which ``piece`` (taken at ``at``) sits later than the source (best cross-correlation)."""
    scores = [np.dot(piece, source[at - shift : at - shift + len(piece)]) for shift in range(-search, search + 1)]
    return int(np.argmax(scores)) - search


def snr_db(got, want):
    return 10 * np.log10((want ** 2).sum() / max(((got - want) ** 2).sum(), 1e-9))


@pytest.fixture(scope="module")
def encodes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aac")
    pcm = lecture_like(40.01)  # not a whole number of frames or milliseconds
    return pcm, {parts: (encode(pcm, folder / f"p{parts}.m4a", parts), folder / f"p{parts}.m4a") for parts in (1, 2, 3)}


def test_pieces_join_without_a_shift_or_a_seam(encodes):
    pcm, results = encodes
    want = pcm.astype(np.float64)
    single = decoded(results[1][1])[: len(pcm)]
    for parts in (2, 3):
        pieces, path = results[parts]
        assert pieces == parts
        got = decoded(path)
        assert len(pcm) <= len(got) < len(pcm) + FRAME  # ffmpeg decodes the last frame whole
        got = got[: len(pcm)]
        # No shift: around the middle (the click on the cut) the decoded audio lines up with the source.
        middle = len(pcm) // 2 // FRAME * FRAME
        assert lag(got[middle - 4800 : middle + 4800, 0], want[:, 0], middle - 4800) == 0
        assert lag(got[-9800:-200, 0], want[:, 0], len(pcm) - 9800) == 0
        plan = plan_parts(len(pcm), parts)
        for _, cut, _, _ in plan[:-1]:
            around = slice(cut - 2 * FRAME, cut + 2 * FRAME)
            # The error where pieces meet is what one encoder makes there, not a click or a gap.
            assert snr_db(got[around], want[around]) > snr_db(single[around], want[around]) - 1.0
            assert snr_db(got[around], want[around]) > 20  # a lost or doubled frame gives about 0 dB
        # Before the first cut the first piece's encoder saw exactly what the single one did.
        first_cut = plan[0][1]
        assert np.array_equal(got[: first_cut - 2 * FRAME], single[: first_cut - 2 * FRAME])
        assert snr_db(got, want) > snr_db(single, want) - 0.5


def test_track_is_as_long_as_the_pcm(encodes):
    pcm, results = encodes
    for _, path in results.values():
        info = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=duration_ts,sample_rate,codec_name", "-of", "json",
             str(path)], capture_output=True, text=True, check=True).stdout)["streams"][0]
        assert info.pop("duration_ts") == pytest.approx(len(pcm), abs=47)  # the edit list counts milliseconds
        assert info == {"codec_name": "aac", "sample_rate": "48000"}


def test_a_stream_shorter_than_announced_fails_and_writes_nothing(tmp_path):
    pcm = lecture_like(25)
    dest = tmp_path / "mix.m4a"
    with pytest.raises(DubbingError, match=r"mix\.m4a: encoding AAC failed: expected 1440000 samples"):
        with PartedEncoder(dest, len(pcm) + 240_000, 2, "192k", 2) as encoder:
            encoder.feed(io.BufferedReader(io.BytesIO(pcm.tobytes())))
            encoder.finish()
    assert list(tmp_path.iterdir()) == []  # no output, no scratch pieces


def test_an_encoder_error_is_reported_and_writes_nothing(tmp_path):
    pcm = lecture_like(25)
    dest = tmp_path / "mix.m4a"
    with pytest.raises(DubbingError, match=r"mix\.m4a: encoding AAC failed: .*bit_rate"):
        with PartedEncoder(dest, len(pcm), 2, "-5k", 2) as encoder:
            encoder.feed(io.BufferedReader(io.BytesIO(pcm.tobytes())))
            encoder.finish()
    assert list(tmp_path.iterdir()) == []


def test_a_cut_off_piece_is_reported_with_the_output_named(tmp_path):
    from dubbing.aac import adts_frames

    pcm = lecture_like(2)
    adts = tmp_path / "piece.aac"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "s16le", "-ar", "48000", "-ac", "2", "-i", "-",
                    "-c:a", "aac", "-f", "adts", str(adts)], input=pcm.tobytes(), check=True)
    data = adts.read_bytes()
    with open(adts, "rb") as whole:
        assert len(list(adts_frames(whole, "mix.m4a"))) == frame_count(len(pcm))
    adts.write_bytes(data[:-100])
    with open(adts, "rb") as cut, pytest.raises(DubbingError, match=r"^mix\.m4a: .*cut-off ADTS frame"):
        list(adts_frames(cut, "mix.m4a"))


class Trickle:
    """A pipe that hands out whatever it has: reads of odd sizes that split sample frames."""

    def __init__(self, data, seed=3):
        self.data, self.pos, self.rng = data, 0, np.random.default_rng(seed)

    def read(self, n):
        take = min(n, int(self.rng.integers(1, 70_000)))
        out = self.data[self.pos : self.pos + take]
        self.pos += len(out)
        return out


def test_reads_that_split_samples_give_the_same_track(tmp_path, encodes):
    pcm, results = encodes
    dest = tmp_path / "trickled.m4a"
    with PartedEncoder(dest, len(pcm), 2, "192k", 2) as encoder:
        encoder.feed(Trickle(pcm.tobytes()))
        encoder.finish()
    assert np.array_equal(decoded(dest), decoded(results[2][1]))
