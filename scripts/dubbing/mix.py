"""Mixing the dub over the original: ducking by volume automation, then EBU R128 loudness.

The original is lowered wherever the dub track actually has sound (measured from the dub, not
from the plan), with short ramps so the change is smooth. Both tracks are streamed in chunks and
piped to ffmpeg twice (measure the loudness with ``ebur128``, then write with one constant gain),
so time grows linearly and memory stays bounded for hour-long videos.
"""

import contextlib
import logging
import math
import re
import queue
import subprocess
import tempfile
import threading
import wave
from pathlib import Path

import numpy as np

from .aac import PartedEncoder
from .audio import FFMPEG, SAMPLE_RATE, read_chunks, tool_error, wav_levels
from .errors import DubbingError
from .files import atomic_output, scratch_file

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


def gain_from_levels(level, duck_db, lead=LEAD_BLOCKS, hold=HOLD_BLOCKS):
    """Gain curve from block RMS levels (int16 scale): dilated speech mask, smoothed ramps."""
    active = level > 32768 * 10 ** (ACTIVE_DB / 20)
    if not active.any():
        return np.ones(level.size, dtype=np.float32)
    # Dilate the mask: LEAD before each active block, HOLD after it.
    kernel = np.ones(lead + hold + 1, dtype=np.float32)
    spread = np.convolve(active.astype(np.float32), kernel, mode="full")
    spread = spread[lead : lead + level.size] > 0
    target = np.where(spread, np.float32(10 ** (-duck_db / 20)), np.float32(1.0))
    ramp = np.ones(RAMP_BLOCKS, dtype=np.float32) / RAMP_BLOCKS
    padded = np.concatenate([np.full(RAMP_BLOCKS, target[0]), target, np.full(RAMP_BLOCKS, target[-1])])
    smooth = np.convolve(padded, ramp, mode="same")[RAMP_BLOCKS:-RAMP_BLOCKS]
    return np.minimum(smooth, 1.0).astype(np.float32)


def gain_samples(gain, first, n):
    """The per-block ``gain`` as a gain per sample for samples ``first`` .. ``first + n``.

    Linear from each block's value to the next one's, held after the last block: what
    ``np.interp(sample / BLOCK, arange(blocks), gain)`` gives, computed a block at a time
    (``first`` is on a block boundary) in float32, 20x faster on an hour of audio.
    """
    if first % BLOCK:
        raise ValueError(f"gain_samples: {first} is not on a {BLOCK}-sample block boundary")
    if gain.size == 0:
        return np.ones(n, dtype=np.float32)
    k = first // BLOCK
    values = gain[np.minimum(np.arange(k, k + -(-n // BLOCK) + 1), gain.size - 1)].astype(np.float32)
    ramp = np.arange(BLOCK, dtype=np.float32) / np.float32(BLOCK)
    return (values[:-1, None] + (values[1:] - values[:-1])[:, None] * ramp).reshape(-1)[:n]


def span_blocks(spans, blocks):
    """Per 10 ms block, 1.0 inside ``spans`` ([(start, end)] seconds) and 0.0 outside, with RAMP_BLOCKS ramps."""
    target = np.zeros(max(blocks, int(max((end for _start, end in spans), default=0) * 100) + 1), np.float32)
    for start, end in spans:
        target[int(start * 100):int(np.ceil(end * 100))] = 1.0
    ramp = np.ones(RAMP_BLOCKS, dtype=np.float32) / RAMP_BLOCKS
    padded = np.concatenate([np.zeros(RAMP_BLOCKS, np.float32), target, np.zeros(RAMP_BLOCKS, np.float32)])
    return np.clip(np.convolve(padded, ramp, mode="same")[RAMP_BLOCKS:-RAMP_BLOCKS], 0, 1).astype(np.float32)


def restore(background, source, weight, dest):
    """``background`` with ``source`` faded in where ``weight`` (per 10 ms block) is 1, streamed to ``dest``."""
    with wave.open(str(background), "rb") as wav:
        channels = wav.getnchannels()
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        frame = 0
        for bed, original in zip(read_chunks(background, CHUNK_FRAMES), read_chunks(source, CHUNK_FRAMES)):
            n = min(len(bed), len(original))
            w = gain_samples(weight, frame, n)[:, None]
            mixed = bed[:n].astype(np.float32) * (1 - w) + original[:n, :channels].astype(np.float32) * w
            out.writeframes(np.clip(np.round(mixed), -32768, 32767).astype("<i2").tobytes())
            frame += n


def speech_blocks(speech, blocks, threshold=None):
    """Whether the original speaks in each 10 ms block (``speech``: its voice-activity probabilities, 32 ms;
    ``threshold``: the probability that counts, default the VAD's own)."""
    from . import vad

    probs = vad.probabilities_of(speech)
    if not probs.size:
        return np.zeros(blocks, bool)
    frame_of_block = np.minimum((np.arange(blocks) / 100 / vad.FRAME_SECONDS).astype(int), probs.size - 1)
    return probs[frame_of_block] > (vad.THRESHOLD if threshold is None else threshold)


def speech_gain(speech, duck_db):
    """Per-10-ms-block gain lowering the background by ``duck_db`` where the original may speak (its voice
    activity above ``separate.DUCK_THRESHOLD``), with the duck's lead, hold and ramps; None without ``speech``."""
    if speech is None:
        return None
    from . import separate, vad

    blocks = int(vad.probabilities_of(speech).size * vad.FRAME_SECONDS * 100)
    level = np.where(speech_blocks(speech, blocks, separate.DUCK_THRESHOLD), np.float32(32767), np.float32(0))
    return gain_from_levels(level, duck_db, lead=4, hold=6)  # only over the voice: the music between is kept


def _db(numerator, denominator):
    if denominator <= 0:
        return None
    return round(10 * math.log10(numerator / denominator), 1) if numerator > 0 else None


def scores(gain, source_path, speech, background=None):
    """What is left of the original voice and of its background, in dB against the original.

    ``voice_left_db``: where the original speaks, the level of its voice in the mix against the source (None:
    none left, or, separated, not measurable here). ``background_kept_db``: where nobody speaks (the voice
    activity at most ``separate.DUCK_THRESHOLD``: where no local duck acts), the level of what is under the dub
    against the source (0: all of it). ``gain``: per 10 ms block (None: replaced).
    Ducked, both follow from the gain and the source's level. Separated (``background``: the original without
    its voice), the background kept is measured from it; the voice left is not: what the separator missed
    cannot be told from the voice it found (its own estimate was 10-16 dB too hopeful on real mixes), so it is
    measured where the truth is known, in docs/BENCHMARKS.md ("Keeping the music")."""
    from .separate import DUCK_THRESHOLD

    level = wav_levels(source_path, BLOCK).astype(np.float64) ** 2
    talk = speech_blocks(speech, level.size)
    quiet = ~speech_blocks(speech, level.size, DUCK_THRESHOLD)
    g2 = np.zeros(level.size) if gain is None else \
        np.pad(gain, (0, max(0, level.size - gain.size)), constant_values=1.0)[: level.size].astype(np.float64) ** 2
    bed = level if background is None else \
        np.pad(wav_levels(background, BLOCK).astype(np.float64) ** 2, (0, level.size))[: level.size]
    voice = None if background is not None else _db(np.sum(g2[talk] * level[talk]), np.sum(level[talk]))
    return {"voice_left_db": voice, "background_kept_db": _db(np.sum(g2[quiet] * bed[quiet]), np.sum(level[quiet])),
            "original_speech_seconds": round(float(np.sum(talk)) * 0.01, 2)}


CENTRE = 2  # 5.1 channel order FL FR FC LFE BL BR: the dialogue is in FC


def mixed_chunks(source_path, dub_path, mode, gain, centre=None):
    """Yield float32 frames x channels of the mix, chunk by chunk.

    ``centre``: the index of the dialogue channel of a surround source (5.1: CENTRE); the dub goes there
    alone and only that channel is ducked (or replaced), the others pass as they are. Else the dub goes
    into every channel over the whole ducked (or replaced) original."""
    frame = 0
    scale = np.float32(1 / 32768)
    for source, dub in zip(read_chunks(source_path, CHUNK_FRAMES), read_chunks(dub_path, CHUNK_FRAMES)):
        n = min(len(source), len(dub))
        speech = dub[:n, :1].astype(np.float32)
        speech *= scale
        if centre is not None:
            out = source[:n].astype(np.float32)
            out *= scale
            if mode == "replace":
                out[:, centre] = 0.0
            else:
                out[:, centre] *= gain_samples(gain, frame, n)
            out[:, centre] += speech[:, 0]
        elif mode == "replace":
            out = np.repeat(speech, source.shape[1], axis=1)
        else:
            out = source[:n].astype(np.float32)
            out *= (gain_samples(gain, frame, n) * scale)[:, None]
            out += speech
        frame += n
        yield out


def prefetch(chunks, depth=2):
    """Iterate ``chunks`` while a thread computes the next ones.

    numpy's arithmetic and the pipe writes both release the GIL, so computing the mix and ffmpeg's
    reading of it overlap instead of taking turns (measured: a 60-minute loudness pass 11.8 s -> 6.9 s).
    """
    items, stop, done = queue.Queue(depth), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                items.put(item, timeout=0.1)
                return True
        return False

    def run():
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(done)
        except BaseException as error:  # handed to the consumer, raised there
            put(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _pipe(cmd, chunks, what, path, reader=None):
    """Feed ``chunks`` to ffmpeg ``cmd`` on stdin; with ``reader``, a thread hands it ffmpeg's stdout
    (the reader must read it to the end). Returns ffmpeg's stderr."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err,
                                stdout=subprocess.PIPE if reader else subprocess.DEVNULL)
        failures = []

        def read():
            try:
                reader(proc.stdout)
            except BaseException as error:
                failures.append(error)
                while proc.stdout.read(1 << 20):
                    pass

        thread = threading.Thread(target=read, daemon=True) if reader else None
        if thread:
            thread.start()
        try:
            for chunk in chunks:
                proc.stdin.write(memoryview(np.ascontiguousarray(chunk)).cast("B"))
        except BrokenPipeError:
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            code = proc.wait()
            if thread:
                thread.join()
                proc.stdout.close()
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if code != 0:
        raise tool_error(path, what, text, code)
    if failures:
        raise failures[0]
    return text


TRUE_PEAK_DB = -1.5  # the mix's peaks stay below about this (dBTP), as loudnorm's TP=-1.5 did


def measure_loudness(chunks, channels, path):
    """Integrated loudness (LUFS) of float32 ``chunks`` (EBU R128, ffmpeg ``ebur128``).

    ``ebur128`` measures at the stream's rate; ``loudnorm`` resamples everything to 192 kHz, which
    cost 15 s of CPU per 10 minutes of stereo, in each of two passes. Peaks are left to the limiter.
    """
    cmd = FFMPEG[:4] + ["info", "-nostats", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", str(channels), "-i", "-",
                        "-af", "ebur128=framelog=verbose", "-f", "null", "-"]
    text = _pipe(cmd, chunks, "measuring loudness", path)
    summary = text[text.rfind("Summary:"):]
    integrated = re.search(r"\bI:\s+(-?[0-9.]+|-inf)\s+LUFS", summary)
    if not integrated:
        raise DubbingError(path, "measuring loudness failed: ffmpeg printed no ebur128 summary")
    return {"input_i": float(integrated.group(1))}


def normalizing_gain(stats, lufs):
    """Linear gain that brings the mix to ``lufs`` (silence, below -70 LUFS, is left as it is)."""
    if not math.isfinite(stats["input_i"]) or stats["input_i"] < -70:
        return 1.0
    return 10 ** ((lufs - stats["input_i"]) / 20)


def _limiter(true_peak=TRUE_PEAK_DB):
    """ffmpeg's look-ahead limiter, delay-compensated; sample peaks 0.5 dB under ``true_peak`` leave room for
    the peaks between samples."""
    return f"alimiter=limit={10 ** ((true_peak - 0.5) / 20):.4f}:attack=5:release=50:level=false:latency=true"


SURROUND_CHANNELS = 6  # a 5.1 source keeps 5.1: its dub replaces only the dialogue of the centre channel


def decode_surround(media, dest, track=0):
    """A 5.1 source's audio track ``track`` as a 48 kHz 6-channel 16-bit WAV at ``dest``, in the order FL FR FC LFE
    BL BR. Streamed through Python's ``wave`` writer: ffmpeg's own WAV of more than two channels is
    WAVE_FORMAT_EXTENSIBLE, which ``wave`` cannot read back."""
    cmd = FFMPEG + ["-i", str(media), "-map", f"0:a:{track}", "-vn", "-sn", "-ac", str(SURROUND_CHANNELS), "-ar",
                    str(SAMPLE_RATE), "-f", "s16le", "-"]
    with tempfile.TemporaryFile() as err, wave.open(str(dest), "wb") as out:
        out.setnchannels(SURROUND_CHANNELS)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        while block := proc.stdout.read(SURROUND_CHANNELS * 2 * CHUNK_FRAMES):
            out.writeframesraw(block)
        proc.stdout.close()
        if proc.wait():
            err.seek(0)
            raise tool_error(media, "decoding the 5.1 sound", err.read().decode("utf-8", "replace"), proc.returncode)


def write_mix(source_path, dub_path, dest, mode, duck_db, lufs, aac_dest, bitrate="192k", threads=1, media=None,
              source_channels=2, source_track=0, background=None, speech=None, kept=()):
    """Mix ``dub_path`` over ``source_path`` and write a loudness-normalized FLAC to ``dest`` and AAC to ``aac_dest``.

    A 5.1 ``media`` (``source_channels`` 6) is mixed in its own layout: the dub into the centre channel, only the
    centre ducked, the other five channels as they are; loudness is measured on the six channels (ebur128
    weights the surrounds) and the one gain applies to all of them, so the sound field keeps its balance.
    The AAC then carries 5.1 at three times ``bitrate`` (the stereo rate for each pair).

    Two streamed passes: measure the mix's integrated loudness, then write it with the one
    constant gain that reaches ``lufs``; a look-ahead limiter catches only the peaks that gain
    would push over TRUE_PEAK_DB (what loudnorm did, without its 192 kHz resampling). The
    limiter's 16-bit output goes to the FLAC and, read by a thread, to the AAC encoders
    (``threads`` of them on pieces of the track, see aac.py), which run beside the FLAC one.

    ``mode`` separate: the dub goes over ``background`` (the original without its voice, separate.py), lowered
    by ``duck_db`` where the original speaks (``speech``: its voice-activity probabilities) or the dub does.
    A 5.1 source in that mode keeps its five other channels and replaces the centre (the dialogue channel).
    ``kept``: [(start, end)] seconds of lines marked keep_original: no dub there, so the original is heard
    (ducked: nothing to duck under; separated: the original itself, not the background, at full level).
    Returns the loudness measured and the gain per 10 ms block the original (or background) was given
    (None: replaced).
    """
    if mode == "separate" and not (media is not None and source_channels == SURROUND_CHANNELS):
        also = speech_gain(speech, duck_db)
        if not kept:
            return _write(background, dub_path, dest, mode, duck_db, lufs, aac_dest, bitrate, threads, None, also)
        weight = span_blocks(kept, max(also.size if also is not None else 0, 1))
        if also is not None:
            also = np.maximum(also, weight[: also.size])  # the kept original is not lowered
        with scratch_file(Path(dest).with_name("bed.wav"), ".wav") as bed:
            restore(background, source_path, weight, bed)
            return _write(bed, dub_path, dest, mode, duck_db, lufs, aac_dest, bitrate, threads, None, also)
    if mode == "separate":
        mode = "replace"  # 5.1: the centre carries the dialogue; the other channels carry the music
    with contextlib.ExitStack() as stack:
        centre = None
        if media is not None and source_channels == SURROUND_CHANNELS:
            # Not named after dest: its atomic write clears dest's scratch files.
            source_path, centre = stack.enter_context(scratch_file(Path(dest).with_name("surround.wav"), ".wav")), CENTRE
            decode_surround(media, source_path, source_track)
            bitrate = f"{int(str(bitrate).rstrip('kK')) * 3}k"
            log.info("5.1 source: the dub goes into the centre channel; the other channels are kept")
        return _write(source_path, dub_path, dest, mode, duck_db, lufs, aac_dest, bitrate, threads, centre)


def _write(source_path, dub_path, dest, mode, duck_db, lufs, aac_dest, bitrate, threads, centre, also=None):
    """``also``: a gain per block to apply as well (the lower of the two wins)."""
    with wave.open(str(source_path), "rb") as wav:
        channels, total = wav.getnchannels(), wav.getnframes()
    with wave.open(str(dub_path), "rb") as wav:
        total = min(total, wav.getnframes())
    gain = duck_envelope(dub_path, duck_db) if mode in ("duck", "separate") else None
    if also is not None and gain is not None:
        n = max(gain.size, also.size)
        gain = np.minimum(np.pad(gain, (0, n - gain.size), constant_values=1.0),
                          np.pad(also, (0, n - also.size), constant_values=1.0))
    stats = measure_loudness(prefetch(mixed_chunks(source_path, dub_path, mode, gain, centre)), channels, source_path)
    level = np.float32(normalizing_gain(stats, lufs))
    log.info("measured loudness (%d channels): %s; gain %.2f dB to %s LUFS", channels, stats, 20 * math.log10(level),
             lufs)
    normalized = prefetch(chunk * level for chunk in mixed_chunks(source_path, dub_path, mode, gain, centre))
    rate = ["-ar", str(SAMPLE_RATE), "-ac", str(channels)]
    limited = f"[0:a]{_limiter()},aformat=sample_fmts=s16"
    with atomic_output(dest, ".flac") as flac:
        to_flac = ["-map", "[flac]", "-c:a", "flac", "-f", "flac", str(flac)]
        # One limiter; its 16-bit output goes to the FLAC and, through stdout, to the AAC encoders.
        cmd = FFMPEG + ["-f", "f32le", *rate, "-i", "-", "-filter_complex", f"{limited},asplit=2[flac][aac]",
                        *to_flac, "-map", "[aac]", "-c:a", "pcm_s16le", "-f", "s16le", "pipe:1"]
        with PartedEncoder(aac_dest, total, channels, bitrate, threads) as aac:
            _pipe(cmd, normalized, "mixing", dest, reader=aac.feed)
            aac.finish()
            log.info("AAC encoded in %d piece(s) at once", len(aac.plan))
    return stats, gain
