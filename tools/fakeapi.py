"""A real HTTP fake of the OpenAI and ElevenLabs endpoints the dubbing workflow uses, with fault injection.

Stdlib HTTP server (``ThreadingHTTPServer``, HTTP/1.1 keep-alive) on 127.0.0.1 that the real ``openai`` and
``elevenlabs`` SDKs can talk to:

* ``POST /v1/audio/speech``             OpenAI TTS (wav / pcm, 24 kHz mono int16)
* ``POST /v1/text-to-speech/{voice_id}`` ElevenLabs TTS (``?output_format=pcm_<rate>``; also ``.../stream``)
* ``POST /v1/voices/add``, ``GET /v1/voices``, ``GET|DELETE /v1/voices/{voice_id}``  ElevenLabs instant voice
  cloning: a clone speaks at the pitch of its samples (see "Cloned voices" below)
* ``POST /v1/audio/transcriptions``     OpenAI transcription (multipart; energy-based segments; with
  ``gpt-4o-transcribe-diarize`` and ``diarized_json`` each segment also names its speaker, told apart by pitch:
  see "Speakers" below)
* ``POST /v1/chat/completions``         OpenAI chat (translates a JSON ``{"segments": [...]}`` document; with
  ``"task": "shorten"`` it cuts each line's ``text`` to whole words within its ``max_chars``)
* ``GET /_stats``, ``POST /_control``, ``POST /_reset``  (no auth, not recorded, not rate limited)

In-process use (pytest)::

    with FakeAPI(latency=0.05) as api:
        client = openai.OpenAI(api_key=api.key, base_url=api.openai_base_url, max_retries=0)
        ...
        assert api.count("/v1/audio/speech", outcome="ok") == 3

Out of process (benchmarks)::

    python tools/fakeapi.py --rpm 60 --p-500 0.05   # prints FAKEAPI_URL=http://127.0.0.1:PORT

Order of checks for an API request: route (404) -> body read (413 when too large) -> auth (401) ->
``quota_exhausted`` -> ``rpm`` window -> ``max_concurrent`` -> [admitted, in flight] -> one pending ``fail_next``
fault, else a ``fail_text`` match (TTS), else a random fault (one draw per admitted request) -> validation
(400/422; 404 ``voice_not_found`` for a deleted clone) -> latency sleep -> response; the voices endpoints go through
all of it like any other (``xi-api-key``, quota, rpm, concurrency, faults, latency). Rejections before admission
and injected 429/quota/401 faults answer at once; every other admitted request sleeps ``latency + uniform(0,
jitter)`` (+ ``latency_per_char`` * chars for TTS) before answering (drop / truncate included; validation errors
answer at once). ``slow`` sleeps 30 s, then answers normally. A request leaves the in-flight count and its record
is appended just BEFORE its response bytes are written (so a client that got its answer always finds its record,
and a sequential client never trips ``max_concurrent=1``); ``t`` is the arrival time, ``duration`` the handling
time up to that point.
Chat-only faults (drop_id, empty_text, bad_json) popped by another endpoint are consumed and do nothing.

Speakers (``gpt-4o-transcribe-diarize``, ``response_format=diarized_json``): every speech stretch (a loud region of
``speech_regions``: a speaker's turn needs a pause of 0.35 s or more before the next one) is one segment, and its
voice is its *pitch*: the strongest frequency between 60 and 400 Hz in the stretch (``dominant_pitch``), which for
the fake's own TTS is the voice's ``voice_f0``. Two stretches are one speaker when their pitches are within 4 %
(``same_voice``). Speakers are labelled ``A``, ``B``, ... in order of first appearance in the request. With
``known_speaker_names[]`` + ``known_speaker_references[]`` (data URLs of 2-10 s clips, at most 4), a stretch whose
pitch matches a reference's (the pitch of the clip's loud part; the nearest wins) gets that reference's name, and
the other voices get the letters A, B, ... that are not a known name. As the real API: ``chunking_strategy`` is
required over 30 s of audio (400 ``invalid_value``), at most 1,400 s per request, no ``prompt``, no
``timestamp_granularities``; the answer is ``{"task", "duration", "text", "segments": [{"type":
"transcript.text.segment", "id", "start", "end", "text", "speaker"}], "usage"}``. Every form field, references
included, is in the request's record (``rec["json"]``).

Cloned voices (ElevenLabs instant voice cloning): ``POST /v1/voices/add`` takes a multipart form with ``name``
(required), one or more ``files`` parts (any audio ffmpeg decodes), and optional ``description``,
``remove_background_noise`` (``true``/``false``) and ``labels`` (a JSON object of strings, or ``null``), and answers
``{"voice_id": "<20 base-62 chars>", "requires_verification": false}``. The clone's voice is the pitch of its samples
(``sample_pitch``: ``dominant_pitch`` of the loud parts of all files put end to end), and ElevenLabs TTS with its id
speaks at that f0 instead of ``voice_f0(id)`` (``FakeAPI.voice_pitch(id)`` says which). Ids come from
``clone_voice_id(name, files' bytes, nth)``: the same upload gets the same id in every server, a repeat of it within
one server a new one. Rejected: no ``name`` or no ``files`` (422 ``invalid_request``), bad ``labels`` or
``remove_background_noise`` (422 ``invalid_request``), a file ffmpeg cannot decode (400 ``corrupted_file``), under
1 s of audio in all (400 ``audio_too_short``); errors are ``{"detail": {"status", "message"}}``.
``GET /v1/voices`` answers ``{"voices": [...]}``: the premade voices of ``ELEVENLABS_PREMADE`` (``"category":
"premade"``), then the clones (``"cloned"``, with ``samples``, ``labels``, ``description``); ``GET
/v1/voices/{id}`` one of them. ``DELETE /v1/voices/{id}`` answers ``{"status": "ok"}``, 404 ``voice_not_found`` for an
id that is not a live clone (400 for a premade one); after it the id answers 404 ``voice_not_found`` to TTS and
GET. Any other voice id still speaks at ``voice_f0(id)``. A voices/add record has ``rec["json"]`` = the form (``name``,
``description``, ``remove_background_noise``, ``labels`` as sent; ``files``: ``[{"filename", "content_type",
"bytes"}]``) and ``rec["clone"]`` = ``{"voice_id", "name", "pitch", "seconds", "files": [{"filename", "bytes",
"seconds", "pitch"}]}`` once the samples decoded (``voice_id`` None when rejected), else None. ``FakeAPI.voices()``
lists the live clones; ``reset(voices=True)`` (``POST /_reset {"voices": true}``) deletes them all. A ``drop`` fault
on voices/add loses the answer, not the clone (as a real lost response would).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import email.parser
import email.policy
import hashlib
import json
import math
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

__all__ = ["FakeAPI", "speech_audio", "speech_duration", "voice_f0", "wav_bytes", "speech_regions", "dominant_pitch",
           "same_voice", "sample_pitch", "clone_voice_id", "FAULTS"]

OPENAI_TTS_MODELS = ("gpt-4o-mini-tts", "tts-1", "tts-1-hd")
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
                 "marin", "cedar")
OPENAI_TTS_RATE = 24000
DIARIZE_MODEL = "gpt-4o-transcribe-diarize"
TRANSCRIBE_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", DIARIZE_MODEL)
DIARIZE_UNCHUNKED_SECONDS = 30.0    # longer audio needs chunking_strategy
DIARIZE_MAX_SECONDS = 1400.0        # the longest audio one diarizing request may carry
MAX_KNOWN_SPEAKERS = 4
REFERENCE_SECONDS = (2.0, 10.0)     # a known speaker's reference clip, as documented
PITCH_RANGE = (60.0, 400.0)         # where the fake looks for a voice's pitch
SAME_VOICE = 0.04                   # pitches within 4 % are one voice
ELEVENLABS_FORMATS = {"pcm_16000": 16000, "pcm_22050": 22050, "pcm_24000": 24000, "pcm_44100": 44100}
ELEVENLABS_PREMADE = {           # the premade voices the fake lists (any other id still speaks, at voice_f0(id))
    "21m00Tcm4TlvDq8ikWAM": "Rachel", "pNInz6obpgDQGcFmaJgB": "Adam", "ErXwobaYiN019PkySvjV": "Antoni",
    "EXAVITQu4vr4xnSDxMaL": "Bella", "AZnzlk1XvdvUeBnXmlld": "Domi", "MF3mGyEYCl7XYWbV9V6O": "Elli",
    "TxGEqnHWrfWFTfGW9XjX": "Josh", "VR6AewLTigWG4xSOukaG": "Arnold", "yoZ06aMxZJJ28mfd3POQ": "Sam",
}
CLONE_MIN_SECONDS = 1.0             # a clone's samples must hold at least this much audio in all
CLONE_ID_CHARS = 20
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MAX_TTS_CHARS = 4096
MAX_ELEVENLABS_CHARS = 10000
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 2 * 1024 * 1024   # bigger bodies are drained, not stored
CHUNK = 16 * 1024
SLOW_SECONDS = 30.0

FAULTS = ("429", "500", "503", "408", "drop", "truncate", "quota", "401", "400", "slow",
          "drop_id", "empty_text", "bad_json")
CHAT_FAULTS = ("drop_id", "empty_text", "bad_json")
CONTROL_PATHS = ("/_stats", "/_control", "/_reset")

_DEFAULT_KNOBS = {
    "latency": 0.0,
    "latency_per_char": 0.0,
    "jitter": 0.0,
    "max_concurrent": None,
    "rpm": None,
    "p_429": 0.0,
    "p_500": 0.0,
    "p_drop": 0.0,
    "p_truncate": 0.0,
    "quota_exhausted": False,
    "fail_next": (),
    "fail_text": {},
    "transcript_lines": None,
    "translation_format": "{text} [{target}]",  # what a translation answers ({text}: the source, {target})
    "voice_pace": 1.0,  # the voices speak this many times slower than speech_duration (a voice the client mispredicts)
}


# --------------------------------------------------------------------------------------------------- audio

def voice_f0(voice) -> int:
    """Fundamental frequency (Hz) the fake gives a voice name / voice id."""
    return 90 + (zlib.crc32(str(voice).encode()) % 160)


def speech_duration(text, speed=1.0) -> float:
    """Seconds of audio the fake produces for ``text`` at ``speed``."""
    return (0.3 + 0.06 * len(text)) / float(speed)


def _harmonic_peak(f0) -> float:
    t = np.arange(4096) / (4096 * f0)            # one fundamental period, finely sampled
    return float(np.max(np.abs(sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 7)))))


@lru_cache(maxsize=32)
def _speech_bytes(text, f0, rate, speed) -> bytes:
    n = int(round(speech_duration(text, speed) * rate))
    pad = int(round(0.10 * rate))
    out = np.zeros(n, dtype="<i2")
    m = n - 2 * pad
    if m <= 0:
        return out.tobytes()
    scale = 0.5 * 32767 / _harmonic_peak(f0)      # peak about -6 dBFS
    fade = max(1, min(int(round(0.005 * rate)), m // 2))
    block = 1 << 18
    for start in range(0, m, block):
        idx = np.arange(start, min(m, start + block))
        t = idx / rate
        sig = np.zeros(idx.size)
        for k in range(1, 7):
            sig += np.sin(2 * np.pi * k * f0 * t) / k
        sig *= 0.3 + 0.7 * np.abs(np.sin(np.pi * 4.0 * t))   # 4 syllables per second
        gain = np.minimum(1.0, np.minimum((idx + 1) / fade, (m - idx) / fade))
        out[pad + start:pad + start + idx.size] = np.round(sig * gain * scale).astype("<i2")
    return out.tobytes()


def speech_audio(text, voice, rate, speed=1.0, f0=None) -> np.ndarray:
    """Deterministic speech-like int16 mono samples for ``text`` spoken by ``voice`` at ``rate`` Hz.

    Length ``round((0.3 + 0.06 * len(text)) / speed * rate)``; 0.10 s of digital silence at both ends; in between
    6 harmonics (1/k) of ``voice_f0(voice)`` (or of ``f0`` Hz when given: a cloned voice speaks at its sample's
    pitch) under a 4 Hz syllable envelope, peak about -6 dBFS, 5 ms fades.
    """
    f0 = float(voice_f0(voice) if f0 is None else f0)
    return np.frombuffer(_speech_bytes(str(text), f0, int(rate), float(speed)), dtype="<i2").copy()


def wav_bytes(samples, rate) -> bytes:
    """A canonical 44-byte-header PCM WAV (mono, 16 bit) holding ``samples``."""
    data = np.asarray(samples, dtype="<i2").tobytes()
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, int(rate), int(rate) * 2, 2, 16)
            + b"data" + struct.pack("<I", len(data)) + data)


def speech_regions(samples, rate=16000, frame=0.01, threshold_db=-40.0, min_gap=0.35, min_len=0.15):
    """``[(start_s, end_s)]`` of loud regions: 10 ms frames with RMS above ``threshold_db`` dBFS, gaps shorter than
    ``min_gap`` merged, regions shorter than ``min_len`` dropped."""
    size = int(round(rate * frame))
    x = np.asarray(samples)
    count = x.size // size
    if count == 0:
        return []
    blocks = x[:count * size].astype(np.float64).reshape(count, size) / 32768.0
    rms = np.sqrt(np.mean(blocks * blocks, axis=1))
    loud = 20 * np.log10(np.maximum(rms, 1e-12)) > threshold_db
    edges = np.diff(np.concatenate(([0], loud.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    merged = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        if merged and (s - merged[-1][1]) * frame < min_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(round(s * frame, 3), round(e * frame, 3)) for s, e in merged if (e - s) * frame >= min_len]


def dominant_pitch(samples, rate=16000):
    """The strongest frequency (Hz) between 60 and 400 Hz of ``samples`` (Hann window, zero-padded to at least
    1 s so bins are 1 Hz or finer, parabolic peak interpolation); None for silence or under 50 ms."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size < rate // 20 or not np.any(x):
        return None
    n = max(x.size, rate)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    low, high = int(PITCH_RANGE[0] * n / rate), int(PITCH_RANGE[1] * n / rate) + 1
    k = low + int(np.argmax(spectrum[low:high]))
    if spectrum[k] <= 0:
        return None
    offset = 0.0
    if 0 < k < spectrum.size - 1:
        a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
        if a - 2 * b + c != 0:
            offset = 0.5 * (a - c) / (a - 2 * b + c)
    return round((k + offset) * rate / n, 2)


def same_voice(pitch, other) -> bool:
    """Whether two pitches are one voice to the fake (within 4 % of each other)."""
    return pitch is not None and other is not None and abs(pitch - other) <= SAME_VOICE * min(pitch, other)


def sample_pitch(samples, rate=16000):
    """A voice sample's pitch: ``dominant_pitch`` of its loud parts (``speech_regions``) put end to end, or of the
    whole sample when nothing is loud; None for digital silence."""
    x = np.asarray(samples)
    loud = [x[int(a * rate):int(b * rate)] for a, b in speech_regions(x, rate)]
    pitch = dominant_pitch(np.concatenate(loud) if loud else x, rate)
    return None if pitch is None else float(pitch)


def clone_voice_id(name, samples, nth=0) -> str:
    """The id the fake gives the ``nth`` (0 = first) instant clone named ``name`` of the files ``samples`` (their
    bytes, in upload order) within one server's life: 20 base-62 characters of a SHA-256 over the name, each file's
    SHA-256 and ``nth``, so ids depend only on what was uploaded, not on how parallel requests interleave."""
    digest = hashlib.sha256()
    digest.update(b"fakeapi-ivc\0" + str(name).encode() + b"\0" + str(int(nth)).encode())
    for data in samples:
        digest.update(b"\0" + hashlib.sha256(bytes(data)).digest())
    number, out = int.from_bytes(digest.digest(), "big"), []
    for _ in range(CLONE_ID_CHARS):
        number, digit = divmod(number, 62)
        out.append(_BASE62[digit])
    return "".join(out)


def decode_audio(data: bytes, filename="upload") -> np.ndarray:
    """Decode any audio ffmpeg reads to 16 kHz mono int16 (raises ValueError when ffmpeg cannot)."""
    suffix = os.path.splitext(os.path.basename(filename or ""))[1][:10]
    fd, path = tempfile.mkstemp(prefix="fakeapi-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        done = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", path,
                               "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    if done.returncode != 0:
        raise ValueError(done.stderr.decode("utf-8", "replace").strip()[-300:] or "ffmpeg failed")
    return np.frombuffer(done.stdout, dtype="<i2")


# ------------------------------------------------------------------------------------------------- errors

class _Response:
    __slots__ = ("status", "body", "ctype", "headers", "outcome", "reason", "truncate", "drop", "record")

    def __init__(self, status, body=b"", ctype="application/json", headers=(), outcome=None, reason=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = list(headers)
        self.outcome = outcome or ("ok" if 200 <= status < 300 else str(status))
        self.reason = reason
        self.truncate = False
        self.drop = False
        self.record = None      # extra fields for the request's record (voices/add: "clone")


def _json_response(status, obj, headers=(), outcome=None, reason=None):
    return _Response(status, json.dumps(obj).encode(), "application/json", headers, outcome, reason)


# Injected faults answered the same way by both families: status, message, OpenAI error type, ElevenLabs status.
SERVER_FAULTS = {
    "500": (500, "The server had an error", "server_error", "internal_server_error"),
    "503": (503, "The engine is currently overloaded, please try again later", "server_error", "service_unavailable"),
    "408": (408, "Request timed out.", "timeout", "request_timeout"),
    "400": (400, "Injected bad request (fakeapi fault '400').", "invalid_request_error", "invalid_request"),
}


def _openai_error(status, message, type_, code=None, param=None, headers=(), outcome=None, reason=None):
    return _json_response(status, {"error": {"message": message, "type": type_, "param": param, "code": code}},
                          headers, outcome, reason)


def _el_error(status, status_name, message, headers=(), outcome=None, reason=None):
    return _json_response(status, {"detail": {"status": status_name, "message": message}}, headers, outcome, reason)


def _retry_headers(ms):
    ms = max(1, int(math.ceil(ms)))
    return [("retry-after-ms", str(ms)), ("retry-after", str(max(1, math.ceil(ms / 1000.0))))]


def _fault_response(family, fault, reason):
    """The error response for an injected fault (``429 500 503 408 quota 401 400``)."""
    oa = family == "openai"
    if fault == "429":
        msg = "Rate limit reached for requests. Please try again in 50ms."
        return (_openai_error(429, msg, "requests", "rate_limit_exceeded", headers=_retry_headers(50), reason=reason)
                if oa else _el_error(429, "rate_limit_exceeded", msg, _retry_headers(50), reason=reason))
    if fault == "quota":
        return _quota_response(family, reason)
    if fault == "401":
        return _auth_response(family, reason)
    if fault in SERVER_FAULTS:
        status, message, openai_type, elevenlabs_status = SERVER_FAULTS[fault]
        return (_openai_error(status, message, openai_type, reason=reason) if oa
                else _el_error(status, elevenlabs_status, message, reason=reason))
    raise ValueError(fault)


def _quota_response(family, reason):
    if family == "openai":
        return _openai_error(429, "You exceeded your current quota, please check your plan and billing details.",
                             "insufficient_quota", "insufficient_quota", outcome="quota", reason=reason)
    return _el_error(401, "quota_exceeded", "This request exceeds your quota of characters. You have 0 credits "
                     "remaining, while the request requires more.", outcome="quota", reason=reason)


def _auth_response(family, reason, received=""):
    """401; a rejected key is echoed back whole (worse than the real APIs, which mask it), so tests can
    prove the client never prints or logs what the server says about it."""
    provided = f": {received}" if received else ""
    if family == "openai":
        return _openai_error(401, f"Incorrect API key provided{provided}. You can find your API key at "
                             "https://platform.openai.com/account/api-keys.", "invalid_request_error",
                             "invalid_api_key", outcome="401", reason=reason)
    return _el_error(401, "invalid_api_key", f"Invalid API key{provided}", outcome="401", reason=reason)


class _BadBody(Exception):
    pass


# ------------------------------------------------------------------------------------------------ handler

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeapi/1.0"
    sys_version = ""
    timeout = 300            # idle keep-alive connections end after 5 minutes

    # -- plumbing
    def setup(self):
        super().setup()
        self.server.fake._track(self, True)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track(self, False)

    def log_message(self, format, *args):   # noqa: A002 - silence the default stderr log
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _kill_socket(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_body(self):
        """The request body (b"" when too large: then ``self._too_large`` is set and the body was drained)."""
        self._too_large = False
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise _BadBody("connection closed inside a chunked body")
                try:
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    raise _BadBody("bad chunk size") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                piece = self.rfile.read(size)
                if len(piece) < size:
                    raise _BadBody("connection closed inside a chunked body")
                if len(out) + size <= MAX_BODY_BYTES:
                    out += piece
                else:
                    self._too_large = True
                self.rfile.readline(65537)
            return b"" if self._too_large else bytes(out)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadBody("bad Content-Length") from None
        if length < 0:
            raise _BadBody("bad Content-Length")
        if length > MAX_BODY_BYTES:
            self._too_large = True
            left = length
            while left > 0:
                piece = self.rfile.read(min(left, 1 << 20))
                if not piece:
                    raise _BadBody("connection closed inside the body")
                left -= len(piece)
            return b""
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise _BadBody("connection closed inside the body")
        return body

    def _send(self, resp: _Response):
        body = resp.body if isinstance(resp.body, (bytes, bytearray, memoryview)) else bytes(resp.body)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in resp.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self._headers_sent = True
        view = memoryview(body)
        if resp.truncate:
            view = view[:len(body) // 2]
        for i in range(0, len(view), CHUNK):
            self.wfile.write(view[i:i + CHUNK])
        if resp.truncate:
            self._kill_socket()

    # -- the request
    def _dispatch(self, method):
        fake = self.server.fake
        t0 = time.monotonic()
        self._headers_sent = False
        split = urlsplit(self.path)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        rec = {"t": t0, "method": method, "path": path, "query": query, "status": None, "outcome": None,
               "reason": None, "json": None, "authorized": None, "duration": None}
        recorded = path not in CONTROL_PATHS
        self._admitted = False
        self._pending_rec = rec if recorded else None
        self._t0 = t0
        try:
            try:
                body = self._read_body()
            except _BadBody as exc:
                self.close_connection = True
                resp = _openai_error(400, f"Could not read the request body: {exc}", "invalid_request_error")
                self._finish(rec, resp)
                return
            if not recorded:
                self._finish(rec, self._control(method, path, body))
                return
            route = _route(method, path)
            family = "elevenlabs" if path.startswith(("/v1/text-to-speech", "/v1/voices")) else "openai"
            if route is None:
                resp = (_openai_error(404, f"Invalid URL ({method} {path})", "invalid_request_error")
                        if family == "openai" else _el_error(404, "not_found", f"Not found: {method} {path}"))
                self._finish(rec, resp)
                return
            name, params = route
            if name == "voices_add":
                rec["clone"] = None          # what the fake measured of the samples, once it has decoded them
            payload, parse_error = _parse_payload(name, self.headers, body)
            rec["json"] = dict(payload) if isinstance(payload, _Form) else payload   # never the file bytes
            if self._too_large:
                resp = (_openai_error(413, f"Maximum content size limit ({MAX_UPLOAD_BYTES}) exceeded "
                                      f"({self.headers.get('Content-Length', '?')} bytes read)",
                                      "server_error", outcome="413")
                        if family == "openai" else _el_error(413, "payload_too_large", "Request body too large"))
                self._finish(rec, resp)
                return
            # authentication
            key = fake._knob_key()
            if key is None:
                authorized = True
            elif family == "openai":
                authorized = (self.headers.get("Authorization") or "") == f"Bearer {key}"
            else:
                authorized = (self.headers.get("xi-api-key") or "") == key
            rec["authorized"] = authorized
            if not authorized:
                received = (self.headers.get("Authorization") or "").removeprefix("Bearer ") if family == "openai" \
                    else self.headers.get("xi-api-key") or ""
                self._finish(rec, _auth_response(family, "auth", received))
                return
            text = _tts_text(name, payload)
            decision = fake._admit(family, name, text)
            if isinstance(decision, _Response):
                self._finish(rec, decision)
                return
            self._admitted = True
            fault, reason, delay = decision
            rec["reason"] = reason
            resp = self._handle(fake, family, name, params, query, payload, parse_error, fault, reason, delay)
            self._finish(rec, resp)
        except Exception as exc:   # noqa: BLE001 - a handler thread must never die with a traceback
            if isinstance(exc, OSError):      # the client went away (or stop() shut the socket)
                rec["outcome"] = "aborted" if fake._stopping.is_set() else "client_gone"
            else:
                fake._note_error(exc)
                rec["outcome"] = "error"
            if not self._headers_sent and not isinstance(exc, OSError):
                try:
                    self.close_connection = True
                    self._send(_openai_error(500, "fakeapi internal error", "server_error"))
                    rec["status"] = 500
                except Exception:   # noqa: BLE001
                    pass
            self._kill_socket()
        finally:
            self._settle()

    def _settle(self):
        """Leave the in-flight set and append the record -- BEFORE the response goes out, so a client that has its
        answer always sees its record and never races its own previous request against ``max_concurrent``."""
        fake = self.server.fake
        if self._admitted:
            self._admitted = False
            fake._leave()
        rec, self._pending_rec = self._pending_rec, None
        if rec is not None:
            rec["duration"] = time.monotonic() - self._t0
            fake._record(rec)

    def _finish(self, rec, resp: _Response):
        rec["status"] = 0 if resp.drop else resp.status
        rec["outcome"] = resp.outcome
        if resp.reason is not None:
            rec["reason"] = resp.reason
        if resp.record:
            rec.update(resp.record)
        self._settle()
        if resp.drop:
            self._kill_socket()
            return
        self._send(resp)

    def _handle(self, fake, family, name, params, query, payload, parse_error, fault, reason, delay):
        if fault in ("429", "quota", "401"):
            return _fault_response(family, fault, reason)
        if fault == "slow":
            fake._sleep(SLOW_SECONDS)
        if fault in ("500", "503", "408", "400"):
            fake._sleep(delay)
            return _fault_response(family, fault, reason)
        if parse_error:
            return (_openai_error(400, parse_error, "invalid_request_error") if family == "openai"
                    else _el_error(400, "invalid_request", parse_error))
        if name == "openai_tts":
            resp = _openai_tts(payload, fake, delay)
        elif name == "elevenlabs_tts":
            resp = _elevenlabs_tts(params["voice_id"], query, payload, fake, delay)
        elif name == "transcriptions":
            resp = _transcription(payload, fake, delay)
        elif name == "voices_add":
            resp = _voices_add(payload, fake, delay)
        elif name in ("voices_list", "voice_get", "voice_delete"):
            resp = _voices(name, params.get("voice_id"), fake, delay)
        else:
            resp = _chat(payload, fake, delay, fault if fault in CHAT_FAULTS else None)
        if fault == "drop":
            made, resp = resp, _Response(0, outcome="drop", reason=reason)
            resp.drop = True
            resp.record = made.record        # a clone made before the drop is in the record all the same
        elif fault == "truncate" and 200 <= resp.status < 300:
            resp.truncate = True
            resp.outcome = "truncate"
            self.close_connection = True
        if fake._stopping.is_set():
            resp.outcome = "aborted"
        return resp

    # -- /_stats, /_control, /_reset
    def _control(self, method, path, body):
        fake = self.server.fake
        if path == "/_stats" and method == "GET":
            return _json_response(200, fake.stats())
        if path in ("/_control", "/_reset") and method == "POST":
            try:
                args = json.loads(body or b"{}")
                if not isinstance(args, dict):
                    raise ValueError("expected a JSON object")
                if path == "/_control":
                    fake.configure(**args)
                else:
                    fake.reset(**args)
            except (ValueError, TypeError) as exc:
                return _json_response(400, {"error": {"message": str(exc), "type": "invalid_request_error",
                                                      "param": None, "code": None}})
            return _json_response(200, {"ok": True, "knobs": fake.knobs()})
        return _json_response(405, {"error": {"message": f"{method} {path} not allowed",
                                              "type": "invalid_request_error", "param": None, "code": None}})


def _route(method, path):
    parts = path.split("/")
    # /v1/voices, /v1/voices/add, /v1/voices/{voice_id}
    if len(parts) in (3, 4) and parts[1] == "v1" and parts[2] == "voices":
        if len(parts) == 3:
            return ("voices_list", {}) if method == "GET" else None
        if parts[3] == "add" and method == "POST":
            return "voices_add", {}
        if parts[3] and method in ("GET", "DELETE"):
            return ("voice_get" if method == "GET" else "voice_delete"), {"voice_id": unquote(parts[3])}
        return None
    if method != "POST":
        return None
    if path == "/v1/audio/speech":
        return "openai_tts", {}
    if path == "/v1/audio/transcriptions":
        return "transcriptions", {}
    if path == "/v1/chat/completions":
        return "chat", {}
    # /v1/text-to-speech/{voice_id}[/stream]
    if len(parts) in (4, 5) and parts[1] == "v1" and parts[2] == "text-to-speech" and parts[3]:
        if len(parts) == 5 and parts[4] != "stream":
            return None
        return "elevenlabs_tts", {"voice_id": unquote(parts[3])}
    return None


def _parse_payload(name, headers, body):
    """(payload for the record, error message or None)."""
    if name in ("voices_list", "voice_get", "voice_delete"):
        return None, None                # no body: the path says it all
    if name in ("transcriptions", "voices_add"):
        ctype = headers.get("Content-Type") or ""
        if not ctype.lower().startswith("multipart/form-data"):
            return None, "Expected multipart/form-data."
        try:
            if name == "voices_add":       # one or more "files" parts, filename or not
                return _parse_multipart(ctype, body, file_fields=("files",), list_fields=("files",)), None
            return _parse_multipart(ctype, body), None
        except Exception as exc:   # noqa: BLE001
            return None, f"Could not parse multipart body: {exc}"
    if not body:
        return None, "We could not parse the JSON body of your request: the body is empty."
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, "We could not parse the JSON body of your request."
    if not isinstance(payload, dict):
        return payload, "The JSON body must be an object."
    return payload, None


def _parse_multipart(ctype, body, file_fields=("file",), list_fields=()):
    """Form fields and file parts (a part with a filename, or named in ``file_fields``); a file field in
    ``list_fields`` holds a list of every part of that name (``[]`` when none was sent), any other the last."""
    head = b"Content-Type: " + ctype.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n"
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise ValueError("not multipart")
    fields, files = {}, {field: [] for field in list_fields}
    for part in msg.iter_parts():
        field = part.get_param("name", header="content-disposition")
        if not field:
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None or field in file_fields:
            info = {"filename": filename, "content_type": part.get_content_type(), "data": data}
            if field in list_fields:
                files[field].append(info)
            else:
                files[field] = info
            continue
        value = data.decode("utf-8", "replace")
        if field in fields:
            old = fields[field]
            fields[field] = (old if isinstance(old, list) else [old]) + [value]
        elif field.endswith("[]"):
            fields[field] = [value]
        else:
            fields[field] = value
    record = dict(fields)

    def meta(info):
        return {"filename": info["filename"], "content_type": info["content_type"], "bytes": len(info["data"])}

    for field, info in files.items():
        record[field] = [meta(one) for one in info] if isinstance(info, list) else meta(info)
    return _Form(record, files)


class _Form(dict):
    """Form fields for the record (file parts as metadata); the file bytes live in ``.files`` only."""

    def __init__(self, record, files):
        super().__init__(record)
        self.files = files


def _tts_text(name, payload):
    if not isinstance(payload, dict):
        return None
    if name == "openai_tts":
        text = payload.get("input")
    elif name == "elevenlabs_tts":
        text = payload.get("text")
    else:
        return None
    return text if isinstance(text, str) else None


# ------------------------------------------------------------------------------------------------ endpoints

def _openai_tts(payload, fake, delay):
    def bad(message, param):
        return _openai_error(400, message, "invalid_request_error", None, param)

    model = payload.get("model")
    if model not in OPENAI_TTS_MODELS:
        return bad(f"Invalid model {model!r}; the fake knows {', '.join(OPENAI_TTS_MODELS)}.", "model")
    text = payload.get("input")
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_TTS_CHARS:
        return bad(f"'input' must be a string of 1 to {MAX_TTS_CHARS} characters.", "input")
    voice = payload.get("voice")
    if voice not in OPENAI_VOICES:
        return bad(f"Invalid value for 'voice': {voice!r}.", "voice")
    fmt = payload.get("response_format", "mp3")
    if fmt not in ("wav", "pcm"):
        return bad(f"response_format {fmt!r}: the fake serves only wav and pcm", "response_format")
    speed = payload.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
        return bad("'speed' must be a number between 0.25 and 4.0.", "speed")
    if payload.get("instructions") is not None and model in ("tts-1", "tts-1-hd"):
        return bad(f"instructions are not supported by {model}", "instructions")
    samples = speech_audio(text, voice, OPENAI_TTS_RATE, float(speed) / fake._knobs["voice_pace"])
    fake._sleep(delay)
    if fmt == "pcm":
        body, ctype = samples.astype("<i2").tobytes(), "audio/pcm"
    else:
        body, ctype = wav_bytes(samples, OPENAI_TTS_RATE), "audio/wav"
    return _Response(200, body, ctype, [("x-request-id", f"req_{uuid.uuid4().hex}"),
                                        ("openai-processing-ms", str(int(delay * 1000)))])


def _voice_not_found(voice_id):
    return _el_error(404, "voice_not_found", f"A voice with the voice_id {voice_id} was not found.")


def _elevenlabs_tts(voice_id, query, payload, fake, delay):
    f0 = fake.voice_pitch(voice_id)         # a clone's sample pitch; voice_f0(id) for any other id
    if f0 is None:                          # a deleted clone
        return _voice_not_found(voice_id)
    fmt = query.get("output_format", "mp3_44100_128")
    if fmt not in ELEVENLABS_FORMATS:
        return _el_error(422, "invalid_output_format",
                         f"output_format {fmt!r}: the fake serves only {', '.join(ELEVENLABS_FORMATS)}")
    text = payload.get("text")
    if not isinstance(text, str):
        return _el_error(422, "invalid_request", "Field 'text' is required and must be a string.")
    if not text.strip():
        return _el_error(400, "invalid_text", "Text must not be empty.")
    if len(text) > MAX_ELEVENLABS_CHARS:
        return _el_error(400, "max_character_limit_exceeded",
                         f"Text is {len(text)} characters; the maximum is {MAX_ELEVENLABS_CHARS}.")
    speed = 1.0
    settings = payload.get("voice_settings")
    if isinstance(settings, dict) and settings.get("speed") is not None:
        speed = settings["speed"]
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.7 <= speed <= 1.2:
            return _el_error(400, "invalid_voice_settings", "voice_settings.speed must be between 0.7 and 1.2.")
    rate = ELEVENLABS_FORMATS[fmt]
    samples = speech_audio(text, voice_id, rate, float(speed) / fake._knobs["voice_pace"], f0=f0)
    fake._sleep(delay)
    return _Response(200, samples.astype("<i2").tobytes(), "audio/pcm",
                     [("request-id", str(uuid.uuid4())), ("character-cost", str(len(text)))])


def _voices_add(form, fake, delay):
    """``POST /v1/voices/add``: an instant clone of the uploaded samples, speaking at their pitch."""
    def bad(status, code, message, record=None):
        resp = _el_error(status, code, message)
        resp.record = record
        return resp

    name = form.get("name")
    if isinstance(name, list):
        name = name[-1]
    if not isinstance(name, str) or not name.strip():
        return bad(422, "invalid_request", "Field 'name' is required: the name that identifies the voice.")
    uploads = form.files.get("files") or []
    if not uploads:
        return bad(422, "invalid_request", "Field 'files' is required: at least one audio sample of the voice.")
    labels = form.get("labels")
    if labels is None or (isinstance(labels, str) and labels.strip() in ("", "null")):
        labels = {}
    else:
        try:
            labels = json.loads(labels) if isinstance(labels, str) else None
        except ValueError:
            labels = None
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            return bad(422, "invalid_request", "Field 'labels' must be a JSON object of strings, e.g. "
                       '{"accent": "american"}.')
    denoise = form.get("remove_background_noise", "false")
    if not isinstance(denoise, str) or denoise.strip().lower() not in ("true", "false"):
        return bad(422, "invalid_request", "Field 'remove_background_noise' must be true or false.")
    description = form.get("description")
    decoded, files = [], []
    for index, upload in enumerate(uploads):
        try:
            samples = decode_audio(upload["data"], upload["filename"] or "sample")
        except (ValueError, subprocess.SubprocessError, OSError):
            samples = None
        if samples is None or samples.size == 0:
            return bad(400, "corrupted_file", f"File upload is corrupted. Please ensure it is playable audio "
                       f"(files[{index}], {upload['filename'] or 'no filename'!r}).")
        decoded.append(samples)
        files.append({"filename": upload["filename"], "bytes": len(upload["data"]),
                      "seconds": round(samples.size / 16000, 3), "pitch": sample_pitch(samples)})
    everything = np.concatenate(decoded)
    clone = {"voice_id": None, "name": name, "pitch": sample_pitch(everything),
             "seconds": round(everything.size / 16000, 3), "files": files}
    if everything.size / 16000 < CLONE_MIN_SECONDS:
        return bad(400, "audio_too_short", f"The samples hold {everything.size / 16000:.2f} s of audio; an instant "
                   f"voice clone needs at least {CLONE_MIN_SECONDS:.0f} s.", {"clone": clone})
    fake._sleep(delay)
    voice = fake._add_clone(name, description, labels, denoise.strip().lower() == "true", uploads, clone)
    clone["voice_id"] = voice["voice_id"]
    resp = _json_response(200, {"voice_id": voice["voice_id"], "requires_verification": False},
                          [("request-id", str(uuid.uuid4()))])
    resp.record = {"clone": clone}
    return resp


def _voices(name, voice_id, fake, delay):
    """``GET /v1/voices``, ``GET /v1/voices/{id}``, ``DELETE /v1/voices/{id}``."""
    if name == "voices_list":
        fake._sleep(delay)
        return _json_response(200, {"voices": fake._voice_list()})
    if name == "voice_delete" and voice_id in ELEVENLABS_PREMADE and not fake._has_clone(voice_id):
        return _el_error(400, "invalid_request", f"The premade voice {voice_id} cannot be deleted.")
    if name == "voice_delete":
        if not fake._has_clone(voice_id):
            return _voice_not_found(voice_id)
        fake._sleep(delay)
        if not fake._delete_clone(voice_id):     # a parallel DELETE got there first
            return _voice_not_found(voice_id)
        return _json_response(200, {"status": "ok"})
    voice = fake._voice_entry(voice_id)
    if voice is None:
        return _voice_not_found(voice_id)
    fake._sleep(delay)
    return _json_response(200, voice)


def _transcription(form, fake, delay):
    def bad(message, param=None, code=None):
        return _openai_error(400, message, "invalid_request_error", code, param)

    upload = getattr(form, "files", {}).get("file")
    if upload is None:
        return bad("Missing required parameter: 'file'.", "file")
    model = form.get("model")
    if model not in TRANSCRIBE_MODELS:
        return bad(f"Invalid model {model!r}; the fake knows {', '.join(TRANSCRIBE_MODELS)}.", "model")
    if len(upload["data"]) > MAX_UPLOAD_BYTES:
        return _openai_error(413, f"Maximum content size limit ({MAX_UPLOAD_BYTES}) exceeded "
                             f"({len(upload['data'])} bytes read)", "server_error")
    diarize = model == DIARIZE_MODEL
    fmt = form.get("response_format", "json")
    if fmt not in ("json", "verbose_json", "text", "diarized_json"):
        return bad(f"response_format {fmt!r}: the fake serves only json, verbose_json, diarized_json and text",
                   "response_format")
    if fmt == "verbose_json" and model != "whisper-1":
        return bad(f"response_format 'verbose_json' is not compatible with model '{model}'. "
                   "Use 'json' or 'text' instead.", "response_format", "unsupported_value")
    if fmt == "diarized_json" and not diarize:
        return bad(f"response_format 'diarized_json' is not compatible with model '{model}'. "
                   f"Use '{DIARIZE_MODEL}'.", "response_format", "unsupported_value")
    granularities = _form_list(form, "timestamp_granularities[]")
    names = _form_list(form, "known_speaker_names[]")
    references = _form_list(form, "known_speaker_references[]")
    known = []
    if diarize:
        if form.get("prompt") is not None:
            return bad("Prompt is not supported for diarization models", "prompt", "unsupported_parameter")
        if granularities:
            return bad("timestamp_granularities are not supported for diarization models.",
                       "timestamp_granularities", "unsupported_parameter")
        known = _known_speakers(names, references)
        if isinstance(known, _Response):
            return known
    elif names or references:
        return bad(f"known speakers are supported only by '{DIARIZE_MODEL}'.", "known_speaker_names",
                   "unsupported_parameter")
    # "auto" is sent as a plain field; a server_vad object as chunking_strategy[type], [threshold], ...
    chunking = form.get("chunking_strategy", form.get("chunking_strategy[type]"))
    if chunking is not None and chunking != ("auto" if "chunking_strategy" in form else "server_vad"):
        return bad(f"Invalid value for 'chunking_strategy': {chunking!r}.", "chunking_strategy", "invalid_value")
    try:
        samples = decode_audio(upload["data"], upload["filename"] or "upload")
    except (ValueError, subprocess.SubprocessError, OSError):
        return bad("Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', "
                   "'oga', 'ogg', 'wav', 'webm']", "file")
    duration = samples.size / 16000
    if diarize and duration > DIARIZE_MAX_SECONDS:
        return bad(f"audio duration {duration:.1f} seconds is longer than {DIARIZE_MAX_SECONDS:.0f} seconds which is "
                   "the maximum for this model", "file", "invalid_value")
    if diarize and chunking is None and duration > DIARIZE_UNCHUNKED_SECONDS:
        return bad("chunking_strategy is required for diarization models", "chunking_strategy", "invalid_value")
    regions = speech_regions(samples, 16000)
    lines = fake._take_lines(len(regions))
    fake._sleep(delay)
    segments = []
    for i, ((start, end), line) in enumerate(zip(regions, lines)):
        segments.append({"id": i, "seek": 0, "start": start, "end": end, "text": " " + line, "tokens": [],
                         "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.2,
                         "no_speech_prob": 0.01})
    text = "".join(seg["text"] for seg in segments).strip()
    usage = {"type": "duration", "seconds": int(math.ceil(duration))}
    if fmt == "text":
        return _Response(200, (text + "\n").encode(), "text/plain; charset=utf-8")
    if fmt == "json":
        return _json_response(200, {"text": text, "usage": usage})
    if fmt == "diarized_json":
        speakers = _diarize(samples, regions, known)
        out = [{"type": "transcript.text.segment", "id": f"seg_{i}", "start": seg["start"], "end": seg["end"],
                "text": seg["text"], "speaker": speaker} for i, (seg, speaker) in enumerate(zip(segments, speakers))]
        return _json_response(200, {"task": "transcribe", "duration": round(duration, 3), "text": text,
                                    "segments": out, "usage": usage})
    out = {"task": "transcribe", "language": "english", "duration": round(duration, 3), "text": text}
    if not granularities or "segment" in granularities:
        out["segments"] = segments
    if "word" in granularities:
        words = []
        for seg in segments:
            parts = seg["text"].split()
            step = (seg["end"] - seg["start"]) / max(1, len(parts))
            for j, word in enumerate(parts):
                words.append({"word": word, "start": round(seg["start"] + j * step, 3),
                              "end": round(seg["start"] + (j + 1) * step, 3)})
        out["words"] = words
    return _json_response(200, out)


def _form_list(form, field):
    value = form.get(field, [])
    return [value] if isinstance(value, str) else list(value)


def _known_speakers(names, references):
    """``[(name, pitch)]`` of the known speakers, or a 400 naming what is wrong with them."""
    def bad(message, param):
        return _openai_error(400, message, "invalid_request_error", "invalid_value", param)

    if len(names) != len(references):
        return bad(f"known_speaker_names has {len(names)} entries but known_speaker_references has "
                   f"{len(references)}; they must match one to one.", "known_speaker_names")
    if len(names) > MAX_KNOWN_SPEAKERS:
        return bad(f"At most {MAX_KNOWN_SPEAKERS} known speakers are supported, got {len(names)}.",
                   "known_speaker_names")
    if len(set(names)) != len(names) or not all(name.strip() for name in names):
        return bad("known_speaker_names must be distinct, non-empty names.", "known_speaker_names")
    known = []
    for index, (name, url) in enumerate(zip(names, references)):
        head, comma, payload = url.partition(",")
        if not (head.startswith("data:") and head.endswith(";base64") and comma):
            return bad(f"known_speaker_references[{index}] is not a base64 data URL.", "known_speaker_references")
        try:
            clip = decode_audio(base64.b64decode(payload, validate=True), "reference")
        except (binascii.Error, ValueError, subprocess.SubprocessError, OSError):
            return bad(f"known_speaker_references[{index}] is not audio the server can decode.",
                       "known_speaker_references")
        seconds = clip.size / 16000
        if not REFERENCE_SECONDS[0] <= seconds <= REFERENCE_SECONDS[1]:
            return bad(f"Known speaker references has duration {seconds:.2f} seconds, but must be between "
                       f"{REFERENCE_SECONDS[0]} and {REFERENCE_SECONDS[1]} seconds", "known_speaker_references")
        loud = [clip[int(a * 16000):int(b * 16000)] for a, b in speech_regions(clip, 16000)]
        known.append((name, dominant_pitch(np.concatenate(loud), 16000) if loud else None))
    return known


def _diarize(samples, regions, known):
    """A speaker name per region: the known speaker of the nearest matching pitch, else A, B, ... (skipping known
    names) in order of first appearance."""
    voices = [(name, pitch) for name, pitch in known if pitch is not None]
    taken = {name for name, _ in known}
    letters = (chr(ord("A") + i % 26) * (1 + i // 26) for i in range(10_000))
    labels = []
    for start, end in regions:
        pitch = dominant_pitch(samples[int(start * 16000):int(end * 16000)], 16000)
        matches = [(abs(pitch - other), name) for name, other in voices if same_voice(pitch, other)]
        if matches:
            labels.append(min(matches)[1])
            continue
        label = next(letter for letter in letters if letter not in taken)
        taken.add(label)
        voices.append((label, pitch))
        labels.append(label)
    return labels


def _chat(payload, fake, delay, fault):
    def bad(message, param=None):
        return _openai_error(400, message, "invalid_request_error", None, param)

    model = payload.get("model")
    if not isinstance(model, str) or not model:
        return bad("Missing required parameter: 'model'.", "model")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        return bad("'messages' must be a non-empty array.", "messages")
    if payload.get("stream"):
        return bad("the fake does not stream chat completions", "stream")
    content = None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = _message_text(message.get("content"))
            break
    try:
        doc = json.loads(content) if isinstance(content, str) else None
    except ValueError:
        doc = None
    segs = doc.get("segments") if isinstance(doc, dict) else None
    if not isinstance(segs, list) or not all(isinstance(s, dict) and "id" in s for s in segs):
        return bad("the fake expects the last user message to be a JSON document with a 'segments' list of "
                   "objects with 'id' and 'source_text'", "messages")
    target = doc.get("target_language") or "xx"
    if doc.get("task") == "shorten":  # a model that keeps to the budget: whole words up to max_chars
        out = [{"id": s["id"], "text": _shorter(str(s.get("text", "")), s.get("max_chars"))} for s in segs]
    else:
        form = fake._knobs["translation_format"]
        out = [{"id": s["id"], "text": form.format(text=s.get("source_text", ""), target=target)} for s in segs]
    if fault == "drop_id" and out:
        out = out[:-1]
    elif fault == "empty_text" and out:
        out[0]["text"] = ""
    answer = json.dumps({"segments": out}, ensure_ascii=False)
    if fault == "bad_json":
        answer = "Sure! Here are the translations:\n" + answer[: max(1, len(answer) // 2)]
    fake._sleep(delay)
    prompt_chars = sum(len(_message_text(m.get("content")) or "") for m in messages if isinstance(m, dict))
    prompt_tokens = max(1, prompt_chars // 4 + 4 * len(messages))
    completion_tokens = max(1, len(answer) // 4)
    result = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer, "refusal": None,
                                             "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}},
        "service_tier": "default",
        "system_fingerprint": "fp_fakeapi",
    }
    return _json_response(200, result, [("x-request-id", f"req_{uuid.uuid4().hex}")],
                          outcome=fault if fault else None, reason=fault)


def _shorter(text, max_chars):
    """``text`` cut to whole words within ``max_chars`` characters (at least one word)."""
    if not isinstance(max_chars, int) or len(text) <= max_chars:
        return text
    words, out = text.split(), []
    for word in words:
        if out and len(" ".join(out + [word])) > max_chars:
            break
        out.append(word)
    return " ".join(out)


def _message_text(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return None


# ---------------------------------------------------------------------------------------------- the server

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256     # bursts of parallel clients must not overflow the listen backlog

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):
            self.fake._note_error(exc)


class FakeAPI:
    """The fake OpenAI + ElevenLabs server. See the module docstring; knobs are listed in ``_DEFAULT_KNOBS``."""

    def __init__(self, key="test-key", seed=0, *, port=0, **knobs):
        self._lock = threading.RLock()
        self._knobs = {k: (list(v) if isinstance(v, tuple) else (dict(v) if isinstance(v, dict) else v))
                       for k, v in _DEFAULT_KNOBS.items()}
        self._fail_next = collections.deque()
        self.key = key
        self.seed = seed
        self._rng = random.Random(seed)
        self._jitter_rng = random.Random(f"{seed}-jitter")
        self._port = port
        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._handlers = set()
        self._window = collections.deque()
        self._line_no = 0
        self._clones = {}               # voice_id -> the clone (see _add_clone), in order of creation
        self._deleted = set()           # ids of deleted clones: TTS and GET answer 404 voice_not_found
        self._clone_counts = collections.Counter()   # (name, sample hashes) -> clones made of it so far
        self.requests: list[dict] = []
        self.errors: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        if knobs:
            self.configure(**knobs)

    # -- lifecycle
    def start(self) -> "FakeAPI":
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fakeapi-{server.server_address[1]}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for handler in handlers:
            thread = getattr(handler, "_thread", None)
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread is not None:
            self._thread.join(2.0)
        self._server = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeAPI is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def elevenlabs_base_url(self) -> str:
        return self.url

    # -- knobs
    def configure(self, **knobs):
        """Thread-safe update of knobs (see ``_DEFAULT_KNOBS``, plus ``key`` and ``seed``)."""
        clean = {}
        for name, value in knobs.items():
            if name == "key":
                if value is not None and not isinstance(value, str):
                    raise TypeError("key must be a string or None")
            elif name == "seed":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError("seed must be an int")
            elif name not in _DEFAULT_KNOBS:
                raise TypeError(f"unknown FakeAPI knob {name!r}")
            elif name == "voice_pace":
                value = float(value)
                if not value > 0:
                    raise ValueError("voice_pace must be > 0")
            elif name in ("latency", "latency_per_char", "jitter"):
                value = float(value)
                if not value >= 0:
                    raise ValueError(f"{name} must be >= 0")
            elif name in ("max_concurrent", "rpm"):
                if value is not None:
                    if isinstance(value, bool) or int(value) != value or value < 0:
                        raise ValueError(f"{name} must be a non-negative int or None")
                    value = int(value)
            elif name.startswith("p_"):
                value = float(value)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must be within 0..1")
            elif name == "quota_exhausted":
                value = bool(value)
            elif name == "fail_next":
                value = [value] if isinstance(value, str) else list(value or ())
                for fault in value:
                    if fault not in FAULTS:
                        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
            elif name == "fail_text":
                value = dict(value or {})
                for needle, fault in value.items():
                    if not isinstance(needle, str) or not needle or fault not in FAULTS:
                        raise ValueError(f"fail_text needs non-empty strings -> fault names, got {needle!r}: {fault!r}")
            elif name == "translation_format":
                value = str(value)
                if "{text}" not in value:
                    raise ValueError("translation_format needs {text}")
            elif name == "transcript_lines":
                if value is not None:
                    value = [str(line) for line in value]
                    if not value:
                        value = None
            clean[name] = value
        with self._lock:
            for name, value in clean.items():
                if name == "key":
                    self.key = value
                elif name == "seed":
                    self.seed = value
                    self._rng = random.Random(value)
                    self._jitter_rng = random.Random(f"{value}-jitter")
                elif name == "fail_next":
                    self._fail_next = collections.deque(value)
                else:
                    if name == "transcript_lines":
                        self._line_no = 0
                    self._knobs[name] = value

    def knobs(self) -> dict:
        """The current knobs (the key is never included)."""
        with self._lock:
            out = {k: (list(v) if isinstance(v, list) else (dict(v) if isinstance(v, dict) else v))
                   for k, v in self._knobs.items()}
            out["fail_next"] = list(self._fail_next)
            out["seed"] = self.seed
            out["auth"] = self.key is not None
            return out

    def reset(self, knobs=False, voices=False):
        """Clear records, counters, the rpm window and pending ``fail_next`` faults; reseed the random faults.
        With ``knobs=True`` also restore every knob to its default (the key stays); with ``voices=True`` delete
        every cloned voice (as ``DELETE /v1/voices/{id}`` would: their ids answer 404 from then on)."""
        with self._lock:
            if voices:
                self._deleted.update(self._clones)
                self._clones.clear()
            del self.requests[:]
            del self.errors[:]
            self._fail_next.clear()
            self._window.clear()
            self._line_no = 0
            self.max_in_flight = self.in_flight
            self._rng = random.Random(self.seed)
            self._jitter_rng = random.Random(f"{self.seed}-jitter")
            if knobs:
                self._knobs = {k: (list(v) if isinstance(v, tuple) else (dict(v) if isinstance(v, dict) else v))
                               for k, v in _DEFAULT_KNOBS.items()}

    # -- voices
    def voices(self) -> list:
        """The cloned voices alive now, oldest first: dicts with ``voice_id``, ``name``, ``description``,
        ``labels``, ``remove_background_noise``, ``pitch`` (Hz the fake's TTS speaks it at; None for a silent
        sample), ``seconds`` (audio in its samples), ``files`` (``filename``, ``bytes``, ``seconds``, ``pitch`` of
        each), ``created_at_unix``."""
        with self._lock:
            return [json.loads(json.dumps(clone)) for clone in self._clones.values()]

    def voice_pitch(self, voice_id):
        """The f0 (Hz) the fake's ElevenLabs TTS speaks ``voice_id`` at: a clone's sample pitch, ``voice_f0(id)``
        for any other id (premade or not), None for a deleted clone (TTS answers 404 ``voice_not_found``)."""
        with self._lock:
            clone = self._clones.get(voice_id)
            if clone is None and voice_id in self._deleted:
                return None
        if clone is not None and clone["pitch"] is not None:
            return clone["pitch"]
        return float(voice_f0(voice_id))

    def _add_clone(self, name, description, labels, denoise, uploads, clone):
        samples = [upload["data"] for upload in uploads]
        identity = (name, tuple(hashlib.sha256(data).hexdigest() for data in samples))
        with self._lock:
            while True:
                nth = self._clone_counts[identity]
                self._clone_counts[identity] += 1
                voice_id = clone_voice_id(name, samples, nth)
                if voice_id not in self._clones and voice_id not in self._deleted \
                        and voice_id not in ELEVENLABS_PREMADE:
                    break
            voice = {"voice_id": voice_id, "name": name, "description": description, "labels": dict(labels),
                     "remove_background_noise": denoise, "pitch": clone["pitch"], "seconds": clone["seconds"],
                     "files": [dict(f, content_type=upload["content_type"], sha256=sha)
                               for f, upload, sha in zip(clone["files"], uploads, identity[1])],
                     "created_at_unix": int(time.time())}
            self._clones[voice_id] = voice
            return voice

    def _has_clone(self, voice_id):
        with self._lock:
            return voice_id in self._clones

    def _delete_clone(self, voice_id):
        with self._lock:
            if self._clones.pop(voice_id, None) is None:
                return False
            self._deleted.add(voice_id)
            return True

    def _voice_entry(self, voice_id):
        """A voice as ``GET /v1/voices`` shows it (None when the fake does not list it)."""
        with self._lock:
            clone = self._clones.get(voice_id)
            if clone is not None:
                samples = [{"sample_id": f["sha256"][:CLONE_ID_CHARS], "file_name": f["filename"] or "sample",
                            "mime_type": f["content_type"], "size_bytes": f["bytes"], "hash": f["sha256"],
                            "duration_secs": f["seconds"]} for f in clone["files"]]
                return {"voice_id": voice_id, "name": clone["name"], "category": "cloned", "samples": samples,
                        "labels": dict(clone["labels"]), "description": clone["description"], "preview_url": None,
                        "settings": None, "is_owner": True, "created_at_unix": clone["created_at_unix"]}
        if voice_id in ELEVENLABS_PREMADE:
            return {"voice_id": voice_id, "name": ELEVENLABS_PREMADE[voice_id], "category": "premade",
                    "samples": None, "labels": {}, "description": None, "preview_url": None, "settings": None,
                    "is_owner": False, "created_at_unix": None}
        return None

    def _voice_list(self):
        with self._lock:
            ids = list(ELEVENLABS_PREMADE) + [v for v in self._clones if v not in ELEVENLABS_PREMADE]
            return [self._voice_entry(voice_id) for voice_id in ids]

    # -- records
    def count(self, path_prefix="", outcome=None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r["path"].startswith(path_prefix)
                       and (outcome is None or r["outcome"] == outcome))

    def stats(self) -> dict:
        with self._lock:
            by_path, by_outcome = {}, {}
            for r in self.requests:
                by_path.setdefault(r["path"], {}).setdefault(r["outcome"], 0)
                by_path[r["path"]][r["outcome"]] += 1
                by_outcome[r["outcome"]] = by_outcome.get(r["outcome"], 0) + 1
            return {"total": len(self.requests), "by_path": by_path, "by_outcome": by_outcome,
                    "max_in_flight": self.max_in_flight, "in_flight": self.in_flight,
                    "errors": len(self.errors), "clones": len(self._clones), "knobs": self.knobs()}

    # -- internals used by the handler
    def _track(self, handler, add):
        with self._lock:
            if add:
                handler._thread = threading.current_thread()
                self._handlers.add(handler)
            else:
                self._handlers.discard(handler)

    def _record(self, rec):
        with self._lock:
            self.requests.append(rec)

    def _note_error(self, exc):
        with self._lock:
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def _knob_key(self):
        with self._lock:
            return self.key

    def _sleep(self, seconds):
        if seconds > 0:
            self._stopping.wait(seconds)

    def _take_lines(self, n):
        with self._lock:
            lines = self._knobs["transcript_lines"]
            out = []
            for _ in range(n):
                out.append(lines[self._line_no % len(lines)] if lines else f"Spoken line number {self._line_no + 1}.")
                self._line_no += 1
            return out

    def _admit(self, family, name, text):
        """Either a rejection ``_Response`` or ``(fault or None, reason, delay)`` for an admitted request."""
        with self._lock:
            k = self._knobs
            if k["quota_exhausted"]:
                return _quota_response(family, "quota_exhausted")
            now = time.monotonic()
            if k["rpm"] is not None:
                while self._window and self._window[0] <= now - 60.0:
                    self._window.popleft()
            self._window.append(now)
            if k["rpm"] is not None and len(self._window) > k["rpm"]:
                wait_ms = (self._window[0] + 60.0 - now) * 1000.0
                msg = (f"Rate limit reached in organization org-fakeapi on requests per min (RPM): Limit {k['rpm']}, "
                       f"Used {len(self._window) - 1}, Requested 1. Please try again in {wait_ms / 1000.0:.3f}s.")
                return (_openai_error(429, msg, "requests", "rate_limit_exceeded", headers=_retry_headers(wait_ms),
                                      reason="rpm") if family == "openai"
                        else _el_error(429, "rate_limit_exceeded", msg, _retry_headers(wait_ms), reason="rpm"))
            if k["max_concurrent"] is not None and self.in_flight >= k["max_concurrent"]:
                msg = (f"Too many concurrent requests: {self.in_flight} in flight, the limit is "
                       f"{k['max_concurrent']}.")
                headers = _retry_headers(max(50.0, 1000.0 * k["latency"]))
                return (_openai_error(429, msg, "requests", "rate_limit_exceeded", headers=headers,
                                      reason="concurrency") if family == "openai"
                        else _el_error(429, "too_many_concurrent_requests", msg, headers, reason="concurrency"))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault, reason = None, None
            if self._fail_next:
                fault, reason = self._fail_next.popleft(), "fail_next"
            elif text is not None:
                for needle, bad in k["fail_text"].items():
                    if needle in text:
                        fault, reason = bad, "fail_text"
                        break
            draw = self._rng.random()        # one draw per admitted request keeps the sequence reproducible
            if fault is None:
                edge = 0.0
                for knob, name_ in (("p_429", "429"), ("p_500", "500"), ("p_drop", "drop"),
                                    ("p_truncate", "truncate")):
                    edge += k[knob]
                    if draw < edge:
                        fault, reason = name_, "random"
                        break
            if fault in CHAT_FAULTS and name != "chat":
                fault = None                 # consumed, but chat-only faults do nothing elsewhere
            delay = k["latency"] + (self._jitter_rng.uniform(0.0, k["jitter"]) if k["jitter"] > 0 else 0.0)
            if text is not None:
                delay += k["latency_per_char"] * len(text)
            return fault, reason, delay

    def _leave(self):
        with self._lock:
            self.in_flight -= 1


# -------------------------------------------------------------------------------------------------- CLI

def main(argv=None):
    parser = argparse.ArgumentParser(description="Fake OpenAI + ElevenLabs HTTP server for tests and benchmarks.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="test-key", help="API key clients must send ('' = no auth)")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--latency-per-char", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--max-concurrent", type=int, default=None)
    parser.add_argument("--rpm", type=int, default=None)
    parser.add_argument("--p-429", type=float, default=0.0)
    parser.add_argument("--p-500", type=float, default=0.0)
    parser.add_argument("--p-drop", type=float, default=0.0)
    parser.add_argument("--p-truncate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration-limit", type=float, default=3600.0,
                        help="stop by itself after this many seconds")
    args = parser.parse_args(argv)
    done = threading.Event()

    def on_signal(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    api = FakeAPI(key=args.key or None, seed=args.seed, port=args.port, latency=args.latency,
                  latency_per_char=args.latency_per_char, jitter=args.jitter, max_concurrent=args.max_concurrent,
                  rpm=args.rpm, p_429=args.p_429, p_500=args.p_500, p_drop=args.p_drop, p_truncate=args.p_truncate)
    api.start()
    print(f"FAKEAPI_URL={api.url}", flush=True)
    try:
        deadline = time.monotonic() + args.duration_limit
        while not done.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done.wait(min(left, 0.5))
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
