"""Mixing the dub over the original: ducking by volume automation, then EBU R128 loudness.

The original is lowered wherever the dub track actually has sound (measured from the dub, not
from the plan), with short ramps so the change is smooth. Both tracks are streamed in chunks and
piped to ffmpeg twice (measure, then apply ``loudnorm`` linearly), so memory stays bounded for
hour-long videos.
"""

import json
import logging
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


def _loudnorm_args(lufs):
    return f"loudnorm=I={lufs}:TP=-1.5:LRA=11"


def measure_loudness(chunks, channels, lufs, path):
    cmd = FFMPEG[:4] + ["info", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", str(channels), "-i", "-",
                        "-af", _loudnorm_args(lufs) + ":print_format=json", "-f", "null", "-"]
    text = _pipe(cmd, chunks, "measuring loudness", path)
    match = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", text)
    if not match:
        raise DubbingError(path, "measuring loudness failed: ffmpeg printed no loudnorm summary")
    return json.loads(match.group(0))


def write_mix(source_path, dub_path, dest, mode, duck_db, lufs):
    """Mix ``dub_path`` over ``source_path`` and write a loudness-normalized FLAC to ``dest``."""
    with wave.open(str(source_path), "rb") as wav:
        channels = wav.getnchannels()
    gain = duck_envelope(dub_path, duck_db) if mode == "duck" else None
    stats = measure_loudness(mixed_chunks(source_path, dub_path, mode, gain), channels, lufs, source_path)
    log.info("measured loudness: %s", stats)
    if stats["input_i"] in ("-inf", "inf") or float(stats["input_i"]) < -70:
        audio_filter = "anull"  # silence: nothing to normalize
    else:
        audio_filter = (
            f"{_loudnorm_args(lufs)}:measured_I={stats['input_i']}:measured_TP={stats['input_tp']}"
            f":measured_LRA={stats['input_lra']}:measured_thresh={stats['input_thresh']}"
            f":offset={stats['target_offset']}:linear=true,aresample={SAMPLE_RATE}"
        )
    with atomic_output(dest, ".flac") as tmp:
        cmd = FFMPEG + ["-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", str(channels), "-i", "-",
                        "-af", audio_filter, "-ar", str(SAMPLE_RATE), "-ac", str(channels), "-sample_fmt", "s16", "-c:a", "flac",
                        "-f", "flac", str(tmp)]
        _pipe(cmd, mixed_chunks(source_path, dub_path, mode, gain), "mixing", dest)
    return stats
