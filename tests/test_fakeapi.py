"""The fake OpenAI / ElevenLabs server (tools/fakeapi.py) driven by the REAL SDKs over HTTP, SDK retries off."""

import base64
import json
import subprocess
import sys
import threading
import urllib.request
import wave
from pathlib import Path

import httpx
import httpx2
import numpy as np
import openai
import pytest
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError

from fakeapi import (ELEVENLABS_PREMADE, FakeAPI, clone_voice_id, dominant_pitch, same_voice, sample_pitch,
                     speech_audio, speech_duration, voice_f0, wav_bytes)

KEY = "test-key"
TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.fixture
def api():
    with FakeAPI(key=KEY) as server:
        yield server
        assert server.errors == []


@pytest.fixture
def client(api):
    return openai.OpenAI(api_key=KEY, base_url=api.openai_base_url, max_retries=0, timeout=10)


def tts_pcm(client, path, text=TEXT, voice="alloy", fmt="pcm", **extra):
    with client.audio.speech.with_streaming_response.create(model="gpt-4o-mini-tts", voice=voice, input=text,
                                                            response_format=fmt, **extra) as response:
        response.stream_to_file(path)
    return Path(path).read_bytes()


def dominant_hz(samples, rate):
    x = samples.astype(np.float64) * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(x))
    spectrum[:int(40 * samples.size / rate)] = 0            # ignore DC / envelope
    return np.argmax(spectrum) * rate / samples.size


def expected_samples(text, rate=24000, speed=1.0):
    return round(speech_duration(text, speed) * rate)


# ------------------------------------------------------------------------------------------- OpenAI TTS

def test_openai_pcm_length_silence_and_voice_pitch(api, client, tmp_path):
    data = tts_pcm(client, tmp_path / "a.pcm")
    assert abs(len(data) - 2 * 24000 * speech_duration(TEXT)) <= 4
    samples = np.frombuffer(data, dtype="<i2")
    assert np.array_equal(samples, speech_audio(TEXT, "alloy", 24000))
    assert not samples[:2400].any() and not samples[-2400:].any()           # 0.1 s of digital silence each end
    assert 0.45 < np.abs(samples).max() / 32768 < 0.55                     # about -6 dBFS
    assert abs(dominant_hz(samples[2400:-2400], 24000) - voice_f0("alloy")) <= 3
    onyx = np.frombuffer(tts_pcm(client, tmp_path / "b.pcm", voice="onyx"), dtype="<i2")
    assert abs(dominant_hz(onyx[2400:-2400], 24000) - voice_f0("onyx")) <= 3
    assert api.count("/v1/audio/speech", outcome="ok") == 2
    record = api.requests[0]
    assert record["authorized"] and record["status"] == 200 and record["json"]["input"] == TEXT


def test_openai_wav_parses_and_longer_text_is_longer(client, tmp_path):
    tts_pcm(client, tmp_path / "a.wav", fmt="wav")
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.getnframes() == expected_samples(TEXT)
    long_text = TEXT * 3
    tts_pcm(client, tmp_path / "b.wav", text=long_text, fmt="wav", speed=2.0)
    with wave.open(str(tmp_path / "b.wav")) as w:
        assert w.getnframes() == expected_samples(long_text, speed=2.0) > expected_samples(TEXT)


def test_openai_errors_quota_key_validation(api, client, tmp_path):
    api.configure(quota_exhausted=True)
    with pytest.raises(openai.RateLimitError) as err:
        tts_pcm(client, tmp_path / "q.pcm")
    assert err.value.status_code == 429 and err.value.code == "insufficient_quota"
    assert err.value.body["type"] == "insufficient_quota"
    api.configure(quota_exhausted=False)

    wrong = openai.OpenAI(api_key="sk-wrong-secret", base_url=api.openai_base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        tts_pcm(wrong, tmp_path / "k.pcm")
    # The fake echoes the rejected key whole (the real API masks it) so the workflow's redaction is tested.
    assert err.value.code == "invalid_api_key" and "provided: sk-wrong-secret." in err.value.response.text
    assert api.requests[-1]["authorized"] is False and api.requests[-1]["outcome"] == "401"

    with pytest.raises(openai.BadRequestError, match="instructions are not supported by tts-1"):
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="pcm",
                                   instructions="cheerful")
    with pytest.raises(openai.BadRequestError, match="only wav and pcm"):
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="mp3")
    assert [r["outcome"] for r in api.requests] == ["quota", "401", "400", "400"]


def test_drop_and_truncate_raise_connection_errors(api, client, tmp_path):
    api.configure(fail_next=["drop", "truncate"])
    with pytest.raises(openai.APIConnectionError):            # no response at all
        tts_pcm(client, tmp_path / "d.pcm")
    # Truncated body: headers arrive (200, full Content-Length), the body stops half-way. With the streaming
    # response the SDK does not wrap the error: httpx2 (openai 3.x's HTTP library, NOT httpx) raises
    # RemoteProtocolError from stream_to_file.
    with pytest.raises(httpx2.RemoteProtocolError, match="peer closed connection"):
        tts_pcm(client, tmp_path / "t.pcm")
    # Non-streaming, the SDK reads the body inside its request loop and wraps it.
    api.configure(fail_next=["truncate"])
    with pytest.raises(openai.APIConnectionError):
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="pcm")
    assert [r["outcome"] for r in api.requests] == ["drop", "truncate", "truncate"]
    assert api.requests[0]["status"] == 0
    assert len(tts_pcm(client, tmp_path / "ok.pcm")) == 2 * expected_samples(TEXT)   # the server is fine after


def test_rpm_limit_sends_retry_after(api, client):
    api.configure(rpm=2)
    for _ in range(2):
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="pcm")
    with pytest.raises(openai.RateLimitError) as err:
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="pcm")
    headers = err.value.response.headers
    assert err.value.code == "rate_limit_exceeded"
    assert 55_000 < int(headers["retry-after-ms"]) <= 60_000 and headers["retry-after"] == "60"
    assert api.count(outcome="ok") == 2 and api.count(outcome="429") == 1


def test_max_concurrent_rejects_the_second_parallel_request(api, client):
    api.configure(max_concurrent=1, latency=0.5)
    results = []

    def call():
        try:
            client.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="pcm")
            results.append("ok")
        except openai.RateLimitError as exc:
            results.append(exc.response.headers.get("retry-after-ms"))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results, key=str) == ["500", "ok"]
    assert api.max_in_flight == 1
    assert [r["reason"] for r in api.requests if r["outcome"] == "429"] == ["concurrency"]


def test_fail_next_is_consumed_in_order_and_counted(api, client):
    api.configure(fail_next=["500", "429", "503"])
    kinds = []
    for _ in range(4):
        try:
            client.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="pcm")
            kinds.append("ok")
        except openai.APIStatusError as exc:
            kinds.append(type(exc).__name__)
    assert kinds == ["InternalServerError", "RateLimitError", "InternalServerError", "ok"]
    assert api.requests[0]["status"] == 500
    assert api.count("/v1/audio", outcome="500") == 1 and api.count("/v1/audio/speech") == 4
    assert api.count(outcome="ok") == 1 and api.max_in_flight == 1
    api.reset()
    assert api.count() == 0 and api.knobs()["fail_next"] == []


# ------------------------------------------------------------------------------------------- ElevenLabs

def test_elevenlabs_convert_pcm_and_context(api):
    eleven = ElevenLabs(api_key=KEY, base_url=api.elevenlabs_base_url)
    text = "Hola, buenos días."
    audio = b"".join(eleven.text_to_speech.convert(
        voice_id="v1", text=text, model_id="eleven_multilingual_v2", output_format="pcm_24000",
        previous_text="a", next_text="b", request_options={"max_retries": 0}))
    assert len(audio) == 2 * expected_samples(text)
    samples = np.frombuffer(audio, dtype="<i2")
    assert abs(dominant_hz(samples[2400:-2400], 24000) - voice_f0("v1")) <= 3
    record = api.requests[-1]
    assert record["path"] == "/v1/text-to-speech/v1" and record["query"]["output_format"] == "pcm_24000"
    assert (record["json"]["previous_text"], record["json"]["next_text"]) == ("a", "b")

    audio16 = b"".join(eleven.text_to_speech.convert(voice_id="v1", text=text, output_format="pcm_16000",
                                                     request_options={"max_retries": 0}))
    assert len(audio16) == 2 * expected_samples(text, rate=16000)

    api.configure(fail_next=["quota"])
    with pytest.raises(ApiError) as err:
        b"".join(eleven.text_to_speech.convert(voice_id="v1", text=text, output_format="pcm_24000",
                                               request_options={"max_retries": 0}))
    assert err.value.status_code == 401 and err.value.body["detail"]["status"] == "quota_exceeded"

    # The ElevenLabs SDK never wraps transport errors: plain httpx exceptions, raised when the generator is consumed.
    api.configure(fail_next=["drop", "truncate"])
    for message in ("without sending a response", "peer closed connection"):
        with pytest.raises(httpx.RemoteProtocolError, match=message):
            b"".join(eleven.text_to_speech.convert(voice_id="v1", text=text, output_format="pcm_24000",
                                                   request_options={"max_retries": 0}))

    api.configure(fail_text={"BROKEN": "500"})
    for _ in range(2):
        with pytest.raises(ApiError) as err:
            b"".join(eleven.text_to_speech.convert(voice_id="v1", text="a BROKEN line", output_format="pcm_24000",
                                                   request_options={"max_retries": 0}))
        assert err.value.status_code == 500
    bad_key = ElevenLabs(api_key="nope", base_url=api.elevenlabs_base_url)
    with pytest.raises(ApiError) as err:
        b"".join(bad_key.text_to_speech.convert(voice_id="v1", text=text, output_format="pcm_24000",
                                                request_options={"max_retries": 0}))
    assert err.value.status_code == 401 and err.value.body["detail"]["status"] == "invalid_api_key"
    assert [r["outcome"] for r in api.requests] == ["ok", "ok", "quota", "drop", "truncate", "500", "500", "401"]


# ------------------------------------------------------------------------------------------- transcription

def test_transcription_segments_follow_the_speech(api, client, tmp_path):
    rate = 16000
    t = np.arange(6 * rate) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    gate = ((t >= 1.0) & (t < 2.0)) | ((t >= 3.5) & (t < 5.0))
    path = tmp_path / "bursts.wav"
    path.write_bytes(wav_bytes(np.round(tone * gate * 32767).astype(np.int16), rate))
    with open(path, "rb") as fh:
        result = client.audio.transcriptions.create(file=fh, model="whisper-1", response_format="verbose_json",
                                                    timestamp_granularities=["segment"])
    starts = [seg.start for seg in result.segments]
    ends = [seg.end for seg in result.segments]
    assert len(starts) == 2
    assert abs(starts[0] - 1.0) <= 0.05 and abs(starts[1] - 3.5) <= 0.05
    assert abs(ends[0] - 2.0) <= 0.05 and abs(ends[1] - 5.0) <= 0.05
    assert [seg.text for seg in result.segments] == [" Spoken line number 1.", " Spoken line number 2."]
    assert abs(result.duration - 6.0) < 0.01 and result.language == "english"
    record = api.requests[-1]["json"]
    assert record["model"] == "whisper-1" and record["timestamp_granularities[]"] == ["segment"]
    assert record["file"]["bytes"] == path.stat().st_size        # metadata only, never the bytes

    api.configure(transcript_lines=["Hola."])
    with open(path, "rb") as fh:
        plain = client.audio.transcriptions.create(file=fh, model="whisper-1", response_format="json")
    assert plain.text == "Hola. Hola."


DIARIZE = "gpt-4o-transcribe-diarize"


def conversation(turns, seconds, rate=16000):
    """Mono int16 audio of ``(voice, start_s, text)`` turns in the fake's TTS voices (each voice its own pitch)."""
    track = np.zeros(int(seconds * rate), dtype=np.int16)
    for voice, start, text in turns:
        speech = speech_audio(text, voice, rate)
        track[int(start * rate):int(start * rate) + speech.size] = speech
    return track


def as_ogg(samples, path, rate=16000):
    """``samples`` as the workflow uploads them (Opus in Ogg, 16 kHz, 32 kbit/s)."""
    wav = path.with_suffix(".wav")
    wav.write_bytes(wav_bytes(samples, rate))
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-c:a", "libopus", "-b:a", "32k",
                    "-application", "voip", str(path)], check=True)
    return path


def wav_url(samples, rate=16000):
    return "data:audio/wav;base64," + base64.b64encode(wav_bytes(samples, rate)).decode()


def diarized(client, path, **extra):
    with open(path, "rb") as fh:
        return client.audio.transcriptions.create(file=fh, model=DIARIZE, response_format="diarized_json", **extra)


SENTENCE = "Each of these turns lasts a little over three seconds."   # 54 characters: 3.5 s of speech


def test_pitch_is_the_voice_and_survives_opus(tmp_path):
    for voice in ("nova", "ash", "onyx"):
        speech = speech_audio(SENTENCE, voice, 16000)
        assert abs(dominant_pitch(speech) - voice_f0(voice)) <= 1
        path = as_ogg(speech, tmp_path / f"{voice}.ogg")
        decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "16000",
                                  "-"], capture_output=True, check=True).stdout
        assert abs(dominant_pitch(np.frombuffer(decoded, dtype="<i2")) - voice_f0(voice)) <= 1
    assert dominant_pitch(np.zeros(16000)) is None


def test_diarized_segments_name_each_voice_in_order_of_appearance(api, client, tmp_path):
    turns = [("onyx", 0.5, SENTENCE), ("nova", 4.5, SENTENCE), ("onyx", 8.5, "Short."), ("ash", 10.0, SENTENCE)]
    path = as_ogg(conversation(turns, 14.0), tmp_path / "talk.ogg")
    result = diarized(client, path, chunking_strategy="auto")
    assert [seg.speaker for seg in result.segments] == ["A", "B", "A", "C"]
    assert [round(seg.start, 1) for seg in result.segments] == [0.6, 4.6, 8.6, 10.1]   # after the 0.1 s lead-in
    assert [seg.type for seg in result.segments] == ["transcript.text.segment"] * 4
    assert [seg.id for seg in result.segments] == ["seg_0", "seg_1", "seg_2", "seg_3"]
    assert result.text.startswith("Spoken line number 1.") and abs(result.duration - 14.0) < 0.05
    assert result.usage.type == "duration"
    record = api.requests[-1]["json"]
    assert record["model"] == DIARIZE and record["chunking_strategy"] == "auto"
    assert record["response_format"] == "diarized_json"


def test_known_speakers_are_named_by_their_reference_clips(api, client, tmp_path):
    turns = [("nova", 0.5, SENTENCE), ("onyx", 4.5, SENTENCE), ("ash", 8.5, SENTENCE), ("nova", 12.5, "Again.")]
    path = as_ogg(conversation(turns, 15.0), tmp_path / "talk.ogg")
    onyx = wav_url(conversation([("onyx", 0.2, SENTENCE)], 4.0))
    result = diarized(client, path, chunking_strategy="auto", known_speaker_names=["host"],
                      known_speaker_references=[onyx])
    # The named voice keeps its name wherever it is heard; the others get the letters in order of appearance.
    assert [seg.speaker for seg in result.segments] == ["A", "host", "B", "A"]
    record = api.requests[-1]["json"]
    assert record["known_speaker_names[]"] == ["host"] and record["known_speaker_references[]"] == [onyx]
    # A known name that is a letter is skipped by the automatic labels.
    result = diarized(client, path, chunking_strategy="auto", known_speaker_names=["A"],
                      known_speaker_references=[onyx])
    assert [seg.speaker for seg in result.segments] == ["B", "A", "C", "B"]


@pytest.mark.parametrize("extra, param, message", [
    ({"known_speaker_names": ["a", "b"], "known_speaker_references": ["x"]}, "known_speaker_names", "must match"),
    ({"known_speaker_names": list("abcde"), "known_speaker_references": ["x"] * 5}, "known_speaker_names",
     "At most 4"),
    ({"known_speaker_names": ["a"], "known_speaker_references": ["https://example.com/a.wav"]},
     "known_speaker_references", "not a base64 data URL"),
    ({"known_speaker_names": ["a"], "known_speaker_references": ["short"]}, "known_speaker_references",
     "must be between 2.0 and 10.0 seconds"),
    ({"prompt": "Speakers: Ann and Bob."}, "prompt", "Prompt is not supported"),
], ids=["count-mismatch", "five", "not-data-url", "too-short", "prompt"])
def test_diarize_rejects_what_the_real_api_rejects(api, client, tmp_path, extra, param, message):
    path = as_ogg(conversation([("nova", 0.5, SENTENCE)], 5.0), tmp_path / "talk.ogg")
    if extra.get("known_speaker_references") == ["short"]:
        extra = dict(extra, known_speaker_references=[wav_url(speech_audio("Hi.", "onyx", 16000))])
    with pytest.raises(openai.BadRequestError) as err:
        diarized(client, path, chunking_strategy="auto", **extra)
    assert err.value.body["param"] == param and message in err.value.body["message"]


def test_diarize_needs_chunking_strategy_over_30_seconds(api, client, tmp_path):
    turns = [("nova", 1.0, SENTENCE), ("onyx", 27.0, SENTENCE)]
    long = as_ogg(conversation(turns, 31.0), tmp_path / "long.ogg")
    with pytest.raises(openai.BadRequestError) as err:
        diarized(client, long)
    assert err.value.body == {"message": "chunking_strategy is required for diarization models",
                              "type": "invalid_request_error", "param": "chunking_strategy", "code": "invalid_value"}
    assert [seg.speaker for seg in diarized(client, long, chunking_strategy="auto").segments] == ["A", "B"]
    assert len(diarized(client, long, chunking_strategy={"type": "server_vad", "threshold": 0.5}).segments) == 2
    short = as_ogg(conversation(turns[:1], 6.0), tmp_path / "short.ogg")
    assert [seg.speaker for seg in diarized(client, short).segments] == ["A"]    # 30 s or less: not needed
    with pytest.raises(openai.BadRequestError):                                 # whisper-1 has no speakers
        with open(short, "rb") as fh:
            client.audio.transcriptions.create(file=fh, model="whisper-1", response_format="diarized_json")
    assert [r["status"] for r in api.requests] == [400, 200, 200, 200, 400]


# ------------------------------------------------------------------------------------------- voice cloning

CLONE_TEXT = "This is how I sound when I read a line for the dub."


def sample_wav(f0, text=CLONE_TEXT, rate=16000):
    """A speech-like voice sample at ``f0`` Hz as WAV bytes."""
    return wav_bytes(speech_audio(text, None, rate, f0=f0), rate)


def encoded(f0, fmt, tmp_path, text=CLONE_TEXT):
    """A voice sample at ``f0`` Hz encoded by ffmpeg as ``fmt`` (mp3, flac, ogg...)."""
    wav = tmp_path / f"sample-{f0}.wav"
    wav.write_bytes(sample_wav(f0, text))
    out = tmp_path / f"sample-{f0}.{fmt}"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), str(out)], check=True)
    return out.read_bytes()


@pytest.fixture
def xi(api):
    with httpx.Client(base_url=api.url, headers={"xi-api-key": KEY}, timeout=30) as http:
        yield http


def add_voice(http, name="Speaker A", files=(("a.wav", b"", "audio/wav"),), **data):
    form = {} if name is None else {"name": name}
    form.update(data)
    return http.post("/v1/voices/add", data=form, files=[("files", f) for f in files])


def speak(http, voice_id, text="Bonjour, je double cette ligne.", rate=16000):
    return http.post(f"/v1/text-to-speech/{voice_id}", params={"output_format": f"pcm_{rate}"},
                     json={"text": text, "model_id": "eleven_multilingual_v2"})


def pitch_of_pcm(body, rate=16000):
    return dominant_pitch(np.frombuffer(body, dtype="<i2"), rate)


def test_clone_speaks_at_the_pitch_of_its_sample(api, xi, tmp_path):
    low, high = sample_wav(112.0), encoded(213.0, "mp3", tmp_path)
    answer = add_voice(xi, "Ann", [("ann.wav", low, "audio/wav")], description="host",
                       labels=json.dumps({"accent": "british"}), remove_background_noise="false")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    ann = answer.json()
    assert set(ann) == {"voice_id", "requires_verification"} and ann["requires_verification"] is False
    assert len(ann["voice_id"]) == 20 and ann["voice_id"].isalnum()
    bob = add_voice(xi, "Bob", [("bob.mp3", high, "audio/mpeg")]).json()["voice_id"]
    assert bob != ann["voice_id"]

    # Each clone is voiced at its sample's pitch, not at the pitch the fake gives an arbitrary id.
    text = "Bonjour, je double cette ligne."
    for voice_id, f0 in ((ann["voice_id"], 112.0), (bob, 213.0)):
        spoken = speak(xi, voice_id, text)
        assert spoken.status_code == 200
        assert abs(pitch_of_pcm(spoken.content) - f0) <= 1.0
        assert abs(api.voice_pitch(voice_id) - f0) <= 1.0
        assert not same_voice(api.voice_pitch(voice_id), voice_f0(voice_id))
        assert np.array_equal(np.frombuffer(spoken.content, dtype="<i2"),
                              speech_audio(text, voice_id, 16000, f0=api.voice_pitch(voice_id)))
    # A premade (or any other) id keeps its own pitch.
    rachel = speak(xi, "21m00Tcm4TlvDq8ikWAM", text)
    assert abs(pitch_of_pcm(rachel.content) - voice_f0("21m00Tcm4TlvDq8ikWAM")) <= 1.0

    record = api.requests[0]
    assert record["path"] == "/v1/voices/add" and record["status"] == 200 and record["authorized"] is True
    assert record["json"]["name"] == "Ann" and record["json"]["description"] == "host"
    assert record["json"]["labels"] == '{"accent": "british"}'
    assert record["json"]["files"] == [{"filename": "ann.wav", "content_type": "audio/wav", "bytes": len(low)}]
    clone = record["clone"]
    assert clone["voice_id"] == ann["voice_id"] and clone["name"] == "Ann" and abs(clone["pitch"] - 112.0) <= 1.0
    assert clone["files"] == [{"filename": "ann.wav", "bytes": len(low), "seconds": clone["seconds"],
                               "pitch": clone["pitch"]}]
    assert clone["pitch"] == sample_pitch(speech_audio(CLONE_TEXT, None, 16000, f0=112.0))
    assert abs(clone["seconds"] - speech_duration(CLONE_TEXT)) < 0.01
    assert abs(api.requests[1]["clone"]["pitch"] - 213.0) <= 1.0          # through MP3 too
    assert [v["name"] for v in api.voices()] == ["Ann", "Bob"]
    assert api.voices()[0]["labels"] == {"accent": "british"}


def test_clone_of_several_files_and_through_the_sdk(api, tmp_path):
    """The real ElevenLabs SDK: several files (FLAC and Ogg Vorbis) make one clone at their common pitch."""
    eleven = ElevenLabs(api_key=KEY, base_url=api.elevenlabs_base_url)
    files = [("one.flac", encoded(170.0, "flac", tmp_path), "audio/flac"),
             ("two.ogg", encoded(170.0, "ogg", tmp_path, "A second, shorter sample."), "audio/ogg")]
    made = eleven.voices.ivc.create(name="Cleo", files=files, labels={"gender": "female"},
                                    remove_background_noise=True, request_options={"max_retries": 0})
    assert made.requires_verification is False
    record = api.requests[-1]
    assert [(f["filename"], f["bytes"]) for f in record["json"]["files"]] == [(n, len(b)) for n, b, _ in files]
    assert record["json"]["remove_background_noise"] == "true"
    assert [f["filename"] for f in record["clone"]["files"]] == ["one.flac", "two.ogg"]
    assert all(abs(f["pitch"] - 170.0) <= 1.0 for f in record["clone"]["files"])
    assert abs(record["clone"]["seconds"] - sum(f["seconds"] for f in record["clone"]["files"])) < 0.01
    audio = b"".join(eleven.text_to_speech.convert(voice_id=made.voice_id, text="Hola a todos.",
                                                   output_format="pcm_24000", request_options={"max_retries": 0}))
    assert abs(pitch_of_pcm(audio, 24000) - 170.0) <= 1.0
    voice = eleven.voices.get(made.voice_id)
    assert (voice.name, voice.category, voice.labels) == ("Cleo", "cloned", {"gender": "female"})
    assert [s.file_name for s in voice.samples] == ["one.flac", "two.ogg"]
    assert eleven.voices.delete(made.voice_id).status == "ok"
    assert api.voices() == []


def test_clone_ids_are_deterministic_and_distinct(xi):
    sample = sample_wav(150.0)
    first = [add_voice(xi, "Ann", [("a.wav", sample, "audio/wav")]).json()["voice_id"] for _ in range(2)]
    other = add_voice(xi, "Bob", [("a.wav", sample, "audio/wav")]).json()["voice_id"]
    assert first == [clone_voice_id("Ann", [sample], 0), clone_voice_id("Ann", [sample], 1)]
    assert len({*first, other}) == 3 and other == clone_voice_id("Bob", [sample])
    with FakeAPI(key=KEY) as again, httpx.Client(base_url=again.url, headers={"xi-api-key": KEY}) as http:
        # Another server, the clones made in another order: the same upload gets the same id.
        assert add_voice(http, "Bob", [("b.wav", sample, "audio/wav")]).json()["voice_id"] == other
        assert add_voice(http, "Ann", [("a.wav", sample, "audio/wav")]).json()["voice_id"] == first[0]


def test_voices_list_get_and_delete(api, xi):
    ann = add_voice(xi, "Ann", [("ann.wav", sample_wav(120.0), "audio/wav")]).json()["voice_id"]
    bob = add_voice(xi, "Bob", [("bob.wav", sample_wav(190.0), "audio/wav")], description="guest").json()["voice_id"]
    listing = xi.get("/v1/voices")
    assert listing.status_code == 200 and set(listing.json()) == {"voices"}
    voices = listing.json()["voices"]
    premade = [v for v in voices if v["category"] == "premade"]
    assert {v["voice_id"]: v["name"] for v in premade} == ELEVENLABS_PREMADE
    cloned = [v for v in voices if v["category"] == "cloned"]
    assert [(v["voice_id"], v["name"]) for v in cloned] == [(ann, "Ann"), (bob, "Bob")]
    assert cloned[1]["description"] == "guest" and cloned[1]["samples"][0]["file_name"] == "bob.wav"
    assert xi.get(f"/v1/voices/{ann}").json()["name"] == "Ann"

    deleted = xi.delete(f"/v1/voices/{ann}")
    assert deleted.status_code == 200 and deleted.json() == {"status": "ok"}
    gone = speak(xi, ann)
    assert gone.status_code == 404 and gone.json()["detail"]["status"] == "voice_not_found"
    assert ann in gone.json()["detail"]["message"]
    assert [v["voice_id"] for v in xi.get("/v1/voices").json()["voices"] if v["category"] == "cloned"] == [bob]
    assert xi.get(f"/v1/voices/{ann}").status_code == 404
    assert xi.delete(f"/v1/voices/{ann}").status_code == 404                      # not twice
    unknown = xi.delete("/v1/voices/NoSuchVoice000000000")
    assert unknown.status_code == 404 and unknown.json()["detail"]["status"] == "voice_not_found"
    assert xi.delete("/v1/voices/21m00Tcm4TlvDq8ikWAM").status_code == 400         # premade: not yours to delete
    assert speak(xi, bob).status_code == 200 and speak(xi, "some-other-id").status_code == 200
    assert api.voice_pitch(ann) is None and [v["voice_id"] for v in api.voices()] == [bob]

    api.reset(voices=True)                                                         # every clone deleted
    assert api.voices() == [] and speak(xi, bob).status_code == 404
    assert [v["category"] for v in xi.get("/v1/voices").json()["voices"]] == ["premade"] * len(ELEVENLABS_PREMADE)


@pytest.mark.parametrize("case, status, code", [
    ("no-files", 422, "invalid_request"),
    ("no-name", 422, "invalid_request"),
    ("blank-name", 422, "invalid_request"),
    ("not-audio", 400, "corrupted_file"),
    ("one-bad-file", 400, "corrupted_file"),
    ("too-short", 400, "audio_too_short"),
    ("bad-labels", 422, "invalid_request"),
    ("not-multipart", 400, "invalid_request"),
])
def test_voices_add_rejects(api, xi, case, status, code):
    good = ("a.wav", sample_wav(150.0), "audio/wav")
    if case == "no-files":
        answer = xi.post("/v1/voices/add", data={"name": "Ann"}, files={"description": (None, "x")})
    elif case == "no-name":
        answer = add_voice(xi, None, [good])
    elif case == "blank-name":
        answer = add_voice(xi, "  ", [good])
    elif case == "not-audio":
        answer = add_voice(xi, "Ann", [("a.wav", b"RIFF, but not really a wave file at all" * 20, "audio/wav")])
    elif case == "one-bad-file":
        answer = add_voice(xi, "Ann", [good, ("notes.txt", b"hello", "text/plain")])
    elif case == "too-short":   # 0.9 s of audio in two files
        short = wav_bytes(speech_audio("Hi.", None, 16000, f0=150.0)[:7200], 16000)
        answer = add_voice(xi, "Ann", [("a.wav", short, "audio/wav"), ("b.wav", short, "audio/wav")])
    elif case == "bad-labels":
        answer = add_voice(xi, "Ann", [good], labels="accent=british")
    else:
        answer = xi.post("/v1/voices/add", json={"name": "Ann"})
    assert answer.status_code == status
    assert answer.json()["detail"]["status"] == code and answer.json()["detail"]["message"]
    assert api.voices() == [] and xi.get("/v1/voices").json()["voices"][-1]["category"] == "premade"
    record = api.requests[0]
    assert record["path"] == "/v1/voices/add" and record["status"] == status
    if case == "too-short":
        assert record["clone"]["voice_id"] is None and record["clone"]["seconds"] == 0.9
        assert abs(record["clone"]["pitch"] - 150.0) <= 2.0
    elif case != "not-multipart":
        assert record["clone"] is None and isinstance(record["json"]["files"], list)


def test_voices_need_the_key(api):
    sample = [("files", ("a.wav", sample_wav(150.0), "audio/wav"))]
    with httpx.Client(base_url=api.url) as http:
        for headers in ({}, {"xi-api-key": "wrong"}):
            answer = http.post("/v1/voices/add", data={"name": "Ann"}, files=sample, headers=headers)
            assert answer.status_code == 401 and answer.json()["detail"]["status"] == "invalid_api_key"
        assert http.get("/v1/voices").status_code == 401
        assert http.delete("/v1/voices/whatever").status_code == 401
    assert api.voices() == [] and [r["authorized"] for r in api.requests] == [False] * 4


def test_voices_add_gets_the_same_faults_and_latency(api, xi):
    sample = [("a.wav", sample_wav(150.0), "audio/wav")]
    api.configure(fail_next=["429", "500"])
    limited = add_voice(xi, "Ann", sample)
    assert limited.status_code == 429 and limited.json()["detail"]["status"] == "rate_limit_exceeded"
    assert "retry-after-ms" in limited.headers
    assert add_voice(xi, "Ann", sample).status_code == 500
    assert api.voices() == []                                    # a refused request makes no clone
    api.configure(latency=0.3)
    made = add_voice(xi, "Ann", sample)
    assert made.status_code == 200 and api.requests[-1]["duration"] >= 0.3
    api.configure(latency=0.0, fail_next=["drop"])
    with pytest.raises(httpx.RemoteProtocolError):               # the clone was made; the answer never came
        add_voice(xi, "Ann", sample)
    assert len(api.voices()) == 2 and api.requests[-1]["outcome"] == "drop"
    assert api.requests[-1]["clone"]["voice_id"] == api.voices()[1]["voice_id"]
    api.configure(quota_exhausted=True)
    assert add_voice(xi, "Ann", sample).status_code == 401
    assert [r["outcome"] for r in api.requests] == ["429", "500", "ok", "drop", "quota"]


# ------------------------------------------------------------------------------------------- chat

def test_chat_translates_segments_and_drop_id(api, client):
    doc = {"target_language": "English", "context_before": "", "context_after": "",
           "segments": [{"id": "0001", "source_text": "Hola", "seconds": 1.2, "max_chars": 20},
                        {"id": "0002", "source_text": "Adiós", "seconds": 0.8, "max_chars": 15}]}
    messages = [{"role": "system", "content": "Translate."},
                {"role": "user", "content": json.dumps(doc, ensure_ascii=False)}]
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    out = json.loads(reply.choices[0].message.content)
    assert [s["id"] for s in out["segments"]] == ["0001", "0002"]
    assert out["segments"][1]["text"] == "Adiós [English]"
    assert reply.choices[0].finish_reason == "stop" and reply.usage.total_tokens > 0

    api.configure(fail_next=["drop_id", "bad_json"])
    out = json.loads(client.chat.completions.create(model="gpt-4o-mini", messages=messages)
                     .choices[0].message.content)
    assert [s["id"] for s in out["segments"]] == ["0001"]
    content = client.chat.completions.create(model="gpt-4o-mini", messages=messages).choices[0].message.content
    with pytest.raises(ValueError):
        json.loads(content)
    assert [r["outcome"] for r in api.requests] == ["ok", "drop_id", "bad_json"]


# ------------------------------------------------------------------------------------------- CLI

def test_cli_prints_url_and_serves_stats():
    script = Path(__file__).resolve().parents[1] / "tools" / "fakeapi.py"
    proc = subprocess.Popen([sys.executable, str(script), "--duration-limit", "20", "--latency", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("FAKEAPI_URL=http://127.0.0.1:")
        url = line.split("=", 1)[1]
        request = urllib.request.Request(url + "/_control", data=json.dumps({"rpm": 5}).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.load(resp)["knobs"]["rpm"] == 5
        with httpx.Client(base_url=url) as http:
            assert http.post("/v1/audio/speech", json={}).status_code == 401
            stats = http.get("/_stats").json()
        assert stats["total"] == 1 and stats["by_path"]["/v1/audio/speech"] == {"401": 1}
        assert "key" not in stats["knobs"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
