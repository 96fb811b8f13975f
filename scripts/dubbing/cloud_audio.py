"""Checking audio that arrived over the network before it is accepted.

A body that was cut off, or that is far too short for its text, is treated as a transient
failure and requested again; it is never renamed into place.
"""

import struct
import wave

from .retry import TransientError

MIN_SECONDS = 0.15
MIN_SECONDS_PER_CHAR = 0.012  # ~80 characters/s: faster than anyone speaks
MAX_SECONDS_PER_CHAR = 0.6


def check_plausible(seconds, text, speed=1.0):
    """Raise TransientError unless ``seconds`` of speech is believable for ``text`` at ``speed``."""
    chars = max(1, len(text.strip()))
    low = max(MIN_SECONDS, MIN_SECONDS_PER_CHAR * chars / speed)
    high = 10.0 + MAX_SECONDS_PER_CHAR * chars / speed
    if not low <= seconds <= high:
        raise TransientError(f"implausible audio: {seconds:.2f} s for {chars} characters (expected {low:.1f}-{high:.0f} s)")


def pcm_to_wav(raw_path, wav_path, rate, text, speed=1.0):
    """Wrap raw 16-bit mono PCM as a WAV after checking it is whole and plausible; returns seconds."""
    data = raw_path.read_bytes()
    if len(data) % 2:
        raise TransientError(f"truncated audio: {len(data)} bytes is not whole 16-bit samples")
    seconds = len(data) / 2 / rate
    check_plausible(seconds, text, speed)
    with wave.open(str(wav_path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data)
    return seconds


def repair_wav(path, text, speed=1.0):
    """Check a downloaded WAV; streamed WAVs may declare unknown (0 or 0xFFFFFFFF) sizes, which are fixed."""
    data = bytearray(path.read_bytes())
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TransientError("truncated audio: not a complete WAV header")
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"data":
            available = len(data) - pos - 8
            if size in (0, 0xFFFFFFFF):
                struct.pack_into("<I", data, pos + 4, available)
                struct.pack_into("<I", data, 4, len(data) - 8)
                path.write_bytes(bytes(data))
            elif size > available:
                raise TransientError(f"truncated audio: WAV declares {size} bytes, {available} arrived")
            break
        pos += 8 + size + (size & 1)
    else:
        raise TransientError("truncated audio: no data chunk in the WAV")
    with wave.open(str(path), "rb") as wav:
        seconds = wav.getnframes() / wav.getframerate()
    check_plausible(seconds, text, speed)
    return seconds
