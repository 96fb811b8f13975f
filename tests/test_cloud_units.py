"""Unit tests for the cloud plumbing that needs no server: chunking, backoff, answer and audio checks, secrets."""

import struct
import wave

import numpy as np
import pytest

from dubbing import retry, secrets
from dubbing.backends.asr_openai import chunk_bounds
from dubbing.backends.translate_openai import batch_request, parse_answer
from dubbing.cloud_audio import check_plausible, pcm_to_wav, repair_wav
from dubbing.script import Segment


def test_chunks_cover_the_audio_and_cut_inside_pauses():
    frame = 0.01
    levels = np.full(3000, 3000.0)  # 30 s of speech...
    for pause_start in (9.0, 18.0):  # ...with two 0.6 s pauses
        levels[int(pause_start / frame) : int((pause_start + 0.6) / frame)] = 0.0
    bounds = chunk_bounds(levels, frame, 30.0, chunk_seconds=10.0)
    assert bounds[0][0] == 0.0 and bounds[-1][1] == 30.0
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    cuts = [end for _, end in bounds[:-1]]
    assert 9.0 < cuts[0] < 9.6 and 18.0 < cuts[1] < 18.6


def test_without_a_pause_nearby_the_cut_is_at_the_target():
    bounds = chunk_bounds(np.full(3000, 3000.0), 0.01, 30.0, chunk_seconds=10.0)
    assert [end for _, end in bounds[:-1]] == [10.0, 20.0]


def test_short_audio_is_one_chunk():
    assert chunk_bounds(np.zeros(500), 0.01, 5.0, chunk_seconds=600) == [(0.0, 5.0)]


def test_backoff_honours_the_server_and_grows_without_it():
    assert 2.0 <= retry.backoff(0, hint=2.0) <= 2.1
    waits = [retry.backoff(n) for n in range(8)]
    assert waits[0] <= 0.5 and all(w <= retry.MAX_DELAY for w in waits) and waits[5] >= retry.MAX_DELAY / 2


def test_transient_and_permanent_failures_are_told_apart():
    assert retry.classify(retry.TransientError("cut off")).retry
    assert retry.classify(ValueError("a bug")) is None


def test_translation_answers_must_return_every_id_with_text():
    assert parse_answer('{"segments": [{"id": "1", "text": "Hi"}]}', ["1"]) == {"1": "Hi"}
    for bad in ('{"segments": [{"id": "1", "text": " "}]}', '{"segments": []}', "not json", '{"lines": []}'):
        with pytest.raises(retry.TransientError):
            parse_answer(bad, ["1"])


def test_translation_request_carries_slot_lengths_and_context():
    lines = [(Segment(f"{i:04d}", i, i + 1, "t", source_text=f"line {i}"), 2.0) for i in range(1, 8)]
    request = batch_request(lines, 3, 2, "de")
    assert [s["id"] for s in request["segments"]] == ["0004", "0005"]
    assert request["segments"][0]["seconds"] == 2.0 and request["segments"][0]["max_chars"] == 30
    assert request["context_before"] == ["line 1", "line 2", "line 3"] and request["context_after"][0] == "line 6"


def test_implausible_audio_is_rejected():
    check_plausible(2.0, "Twenty characters!!!")
    for seconds in (0.0, 0.1, 60.0):
        with pytest.raises(retry.TransientError):
            check_plausible(seconds, "Twenty characters!!!")


def test_odd_pcm_is_truncated_and_even_pcm_becomes_a_wav(tmp_path):
    raw = tmp_path / "a.pcm"
    raw.write_bytes(b"\x00\x01" * 24000 + b"\x02")
    with pytest.raises(retry.TransientError, match="truncated"):
        pcm_to_wav(raw, tmp_path / "a.wav", 24000, "Hello there")
    raw.write_bytes(b"\x00\x01" * 24000)
    assert pcm_to_wav(raw, tmp_path / "a.wav", 24000, "Hello there") == 1.0
    with wave.open(str(tmp_path / "a.wav")) as wav:
        assert wav.getnframes() == 24000 and wav.getframerate() == 24000


def test_streamed_wav_with_unknown_sizes_is_repaired_and_short_data_rejected(tmp_path):
    path = tmp_path / "s.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(24000)
        wav.writeframes(b"\x00\x00" * 24000)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 40, 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    assert repair_wav(path, "Hello there") == 1.0
    struct.pack_into("<I", data, 40, 96000)  # declares twice what arrived
    path.write_bytes(bytes(data))
    with pytest.raises(retry.TransientError, match="truncated"):
        repair_wav(path, "Hello there")


def test_keys_come_from_env_or_dotenv_and_are_redacted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert secrets.get("OPENAI_API_KEY") is None
    (tmp_path / ".env").write_text('# comment\nexport OPENAI_API_KEY="sk-from-file-123"\nOTHER=1 # note\n')
    assert secrets.get("OPENAI_API_KEY") == "sk-from-file-123" and secrets.get("OTHER") == "1"
    assert secrets.redact("Bearer sk-from-file-123 failed") == "Bearer *** failed"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-456")
    assert secrets.get("OPENAI_API_KEY") == "sk-from-env-456"
