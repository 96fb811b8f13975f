"""Mixing the dub over the original: ducking by volume automation, then EBU R128 loudness.

The original is lowered wherever the dub track actually has sound (measured from the dub, not
from the plan), with short ramps so the change is smooth. Both tracks are streamed in chunks and
piped to ffmpeg twice (measure the loudness with ``ebur128``, then write with one constant gain),
so time grows linearly and memory stays bounded for hour-long videos.
"""

import logging
import math
import re
import subprocess
import tempfile
import wave

import numpy as np

from .audio import FFMPEG, SAMPLE_RATE, read_chunks, wav_levels
from .errors import DubbingError
from .files import atomic_output

log = logging.getLogger("dubbing")

BLOCK = SAMPLE_RATE // 100  # 10 ms analysis blocks
ACTIVE_DB = -50.0  # dub blocks louder than this count as speech
LEAD_BLOCKS = 15  # start lowering the original 150 ms before the dub speaks
HOLD_BLOCKS = 25  # and keep it low 250 ms after it stops
RAMP_BLOCKS = 8  # 80 ms ramps
CHUNK_FRAMES = SAMPLE_RATE * 10


def duck_envelope(dub_path, duck_db):
    """Per-10-ms-block gain for the original: 1.0 where the dub is silent, lowered where it speaks."""
    return gain_from_levels(wav_levels(dub_path, BLOCK), duck_db)


def gain_from_levels(level, duck_db):
    """Gain curve from block RMS levels (int16 scale): dilated speech mask, smoothed ramps."""
    active = level > 32768 * 10 ** (ACTIVE_DB / 20)
    if not active.any():
        return np.ones(level.size, dtype=np.float32)
    # Dilate the mask: LEAD before each active block, HOLD after it.
    kernel = np.ones(LEAD_BLOCKS + HOLD_BLOCKS + 1, dtype=np.float32)
    spread = np.convolve(active.astype(np.float32), kernel, mode="full")
    spread = spread[LEAD_BLOCKS : LEAD_BLOCKS + level.size] > 0
    target = np.where(spread, np.float32(10 ** (-duck_db / 20)), np.float32(1.0))
    ramp = np.ones(RAMP_BLOCKS, dtype=np.float32) / RAMP_BLOCKS
    padded = np.concatenate([np.full(RAMP_BLOCKS, target[0]), target, np.full(RAMP_BLOCKS, target[-1])])
    smooth = np.convolve(padded, ramp, mode="same")[RAMP_BLOCKS:-RAMP_BLOCKS]
    return np.minimum(smooth, 1.0).astype(np.float32)


def mixed_chunks(source_path, dub_path, mode, gain):
    """Yield float32 frames x channels of the mix, chunk by chunk."""
    frame = 0
    for source, dub in zip(read_chunks(source_path, CHUNK_FRAMES), read_chunks(dub_path, CHUNK_FRAMES)):
        n = min(len(source), len(dub))
        speech = dub[:n, :1].astype(np.float32) / 32768
        if mode == "replace":
            out = np.repeat(speech, source.shape[1], axis=1)
        else:
            blocks = (frame + np.arange(n)) / BLOCK
            g = np.interp(blocks, np.arange(gain.size), gain).astype(np.float32)[:, None]
            out = source[:n].astype(np.float32) / 32768 * g + speech
        frame += n
        yield np.ascontiguousarray(out, dtype="<f4")


def _pipe(cmd, chunks, what, path):
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err, stdout=subprocess.DEVNULL)
        try:
            for chunk in chunks:
                proc.stdin.write(chunk.tobytes())
        except BrokenPipeError:
            pass
        finally:
            proc.stdin.close()
        code = proc.wait()
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if code != 0:
        lines = text.strip().splitlines()
        raise DubbingError(path, f"{what} failed: {lines[-1] if lines else 'exit ' + str(code)}")
    return text


TRUE_PEAK_DB = -1.5  # the mix's true peak stays below this (dBTP), as loudnorm's TP=-1.5 did


def measure_loudness(chunks, channels, path):
    """Integrated loudness (LUFS) and true peak (dBTP) of float32 ``chunks`` (EBU R128, ffmpeg ``ebur128``).

    ``ebur128`` measures at the stream's rate (4x oversampled only for the peak); ``loudnorm``
    resamples everything to 192 kHz twice over, which cost 15 s of CPU per 10 minutes of stereo.
    """
    cmd = FFMPEG[:4] + ["info", "-nostats", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", str(channels), "-i", "-",
                        "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"]
    text = _pipe(cmd, chunks, "measuring loudness", path)
    summary = text[text.rfind("Summary:"):]
    integrated = re.search(r"\bI:\s+(-?[0-9.]+|-inf)\s+LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[0-9.]+|-inf)\s+dBFS", summary)
    if not integrated or not peak:
        raise DubbingError(path, "measuring loudness failed: ffmpeg printed no ebur128 summary")
    return {"input_i": float(integrated.group(1)), "input_tp": float(peak.group(1))}


def normalizing_gain(stats, lufs):
    """Linear gain that brings the mix to ``lufs`` (silence, below -70 LUFS, is left as it is)."""
    if not math.isfinite(stats["input_i"]) or stats["input_i"] < -70:
        return 1.0
    return 10 ** ((lufs - stats["input_i"]) / 20)


def _limiter(true_peak=TRUE_PEAK_DB):
    """ffmpeg's look-ahead limiter, delay-compensated; sample peaks 0.5 dB under ``true_peak`` leave room for
    the peaks between samples."""
    return f"alimiter=limit={10 ** ((true_peak - 0.5) / 20):.4f}:attack=5:release=50:level=false:latency=true"


def write_mix(source_path, dub_path, dest, mode, duck_db, lufs):
    """Mix ``dub_path`` over ``source_path`` and write a loudness-normalized FLAC to ``dest``.

    Two streamed passes: measure the mix's integrated loudness, then write it with the one
    constant gain that reaches ``lufs``; a look-ahead limiter catches only the peaks that gain
    would push over TRUE_PEAK_DB (what loudnorm did, without its 192 kHz resampling).
    """
    with wave.open(str(source_path), "rb") as wav:
        channels = wav.getnchannels()
    gain = duck_envelope(dub_path, duck_db) if mode == "duck" else None
    stats = measure_loudness(mixed_chunks(source_path, dub_path, mode, gain), channels, source_path)
    level = np.float32(normalizing_gain(stats, lufs))
    log.info("measured loudness: %s; gain %.2f dB to %s LUFS", stats, 20 * math.log10(level), lufs)
    normalized = (chunk * level for chunk in mixed_chunks(source_path, dub_path, mode, gain))
    with atomic_output(dest, ".flac") as tmp:
        cmd = FFMPEG + ["-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", str(channels), "-i", "-", "-af", _limiter(),
                        "-ar", str(SAMPLE_RATE), "-ac", str(channels), "-sample_fmt", "s16", "-c:a", "flac",
                        "-f", "flac", str(tmp)]
        _pipe(cmd, normalized, "mixing", dest)
    return stats
