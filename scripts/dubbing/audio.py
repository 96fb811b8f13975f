"""Audio I/O around ffmpeg: probing media, decoding to arrays, trimming, stretching, WAV files.

Internal audio is 16-bit PCM at SAMPLE_RATE; per-segment work holds one segment in memory,
whole-track work streams in chunks (see timeline.py and mix.py).
"""

import json
import math
import subprocess
import wave
from pathlib import Path

import numpy as np

from .errors import DubbingError
from .files import atomic_output

SAMPLE_RATE = 48000
FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


def tool_error(path, what, stderr, code):
    """The DubbingError for a tool that exited with ``code``: its last line of ``stderr`` names the problem."""
    lines = stderr.strip().splitlines()
    return DubbingError(path, f"{what} failed: {lines[-1] if lines else 'exit ' + str(code)}")


def run_tool(cmd, path, what, stdin=None):
    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise DubbingError(cmd[0], "not installed; run 'make setup' (or apt-get install ffmpeg)") from None
    if done.returncode != 0:
        raise tool_error(path, what, done.stderr.decode("utf-8", "replace"), done.returncode)
    return done.stdout


def probe_media(path, track=-1, language=""):
    """Duration and streams of a media file; a clear error if it is not a video with sound.

    ``audio_track`` is the audio stream to dub (counted among the audio streams): ``track`` when >= 0, else
    the first stream tagged with ``language``, else the first."""
    path = Path(path)
    if not path.is_file():
        raise DubbingError(path, "file not found")
    if path.stat().st_size == 0:
        raise DubbingError(path, "the file is empty (0 bytes)")
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    try:
        info = json.loads(run_tool(cmd, path, "reading the media (ffprobe)"))
    except DubbingError as err:
        raise DubbingError(path, f"not a readable video ({err.problem.split(': ', 1)[-1]})") from None
    streams = info.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video:
        raise DubbingError(path, "has no video stream; expected a video file (.mp4, .mkv, .mov, .webm)")
    if not audio:
        raise DubbingError(path, "has no audio stream, so there is no speech to dub")
    if track >= len(audio):
        raise DubbingError(path, f"source_track {track}: the video has {len(audio)} audio track(s), "
                                 f"counted from 0 (0-{len(audio) - 1})")
    if track < 0:
        from . import languages

        tagged = [n for n, s in enumerate(audio) if languages.code(language) and
                  languages.code((s.get("tags") or {}).get("language", "")) == languages.code(language)]
        track = tagged[0] if tagged else 0
    chosen = audio[track]
    duration = float(info.get("format", {}).get("duration") or chosen.get("duration") or 0)
    if duration <= 0:
        raise DubbingError(path, "has zero length")
    return {
        "duration": round(duration, 6),
        "video_codec": video[0].get("codec_name"),
        "audio_track": track,
        "audio_tracks": len(audio),
        "audio_codec": chosen.get("codec_name"),
        "audio_channels": int(chosen.get("channels") or 1),
        "audio_sample_rate": int(chosen.get("sample_rate") or 0),
    }


def wav_info(path):
    """(sample rate, channels, frames) of a PCM WAV file."""
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getnframes()


def decode_mono(path, rate=SAMPLE_RATE):
    """Decode any audio file to mono int16 samples at ``rate``."""
    cmd = FFMPEG + ["-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"]
    return np.frombuffer(run_tool(cmd, path, "decoding audio"), dtype=np.int16)


def decode_stereo(path, rate=SAMPLE_RATE):
    """The first two channels of a file as int16 samples shaped (n, 2); None for a mono file."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=channels", "-of", "csv=p=0",
           str(path)]
    if int(run_tool(cmd, path, "reading the audio (ffprobe)").strip() or 1) < 2:
        return None
    cmd = FFMPEG + ["-i", str(path), "-map", "0:a:0", "-af", "pan=stereo|c0=c0|c1=c1", "-ar", str(rate),
                    "-f", "s16le", "-"]
    return np.frombuffer(run_tool(cmd, path, "decoding audio"), dtype=np.int16).reshape(-1, 2)


def load_mono(path, rate=SAMPLE_RATE):
    """Mono int16 samples of an audio file at ``rate``: 16-bit PCM WAVs in-process, anything else through ffmpeg.

    A WAV at another rate is resampled in the frequency domain (band-limited), which costs a few
    milliseconds a segment instead of an ffmpeg process (~30 ms); that adds up over 600 segments.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getcomptype() != "NONE":
                raise wave.Error("not 16-bit PCM")
            channels, source_rate = wav.getnchannels(), wav.getframerate()
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    except (wave.Error, EOFError):
        return decode_mono(path, rate)
    if channels > 1:
        samples = samples[: samples.size - samples.size % channels].reshape(-1, channels).mean(axis=1)
    return resample(samples, source_rate, rate)


def resample(samples, source_rate, rate):
    """int16 ``samples`` at ``source_rate`` resampled to ``rate`` by zero-padding (or cutting) the spectrum.

    The input is padded with silence to a length whose FFTs are fast (a multiple of the rates'
    ratio times a 2-3-5-smooth number); the output is cut back to the exact length.
    """
    if source_rate == rate or samples.size == 0:
        return samples.astype(np.int16, copy=False)
    size = int(round(samples.size * rate / source_rate))
    step = math.gcd(source_rate, rate)
    unit_in, unit_out = source_rate // step, rate // step
    blocks = _smooth_at_least(-(-samples.size // unit_in))
    padded = np.zeros(blocks * unit_in)
    padded[: samples.size] = samples
    spectrum = np.fft.rfft(padded)
    length = blocks * unit_out
    keep = min(spectrum.size, length // 2 + 1)
    out_spectrum = np.zeros(length // 2 + 1, dtype=np.complex128)
    out_spectrum[:keep] = spectrum[:keep]
    out = np.fft.irfft(out_spectrum, length)[:size] * (length / padded.size)
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def _smooth_at_least(n):
    """The smallest number >= n with no prime factor above 5."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def speech_bounds(samples, rate, threshold_db=-45.0, pad=0.005):
    """Sample range [first, last) holding speech: leading/trailing quiet below ``threshold_db`` cut off.

    Returns (0, 0) for silence.
    """
    if samples.size == 0:
        return 0, 0
    level = 32768 * 10 ** (threshold_db / 20)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > level)
    if loud.size == 0:
        return 0, 0
    pad_samples = int(pad * rate)
    return max(0, int(loud[0]) - pad_samples), min(samples.size, int(loud[-1]) + 1 + pad_samples)


def speech_seconds(path):
    """Seconds of speech in a WAV, leading and trailing silence excluded (measured at the file's own rate)."""
    rate = wav_info(path)[0]
    first, last = speech_bounds(load_mono(path, rate), rate)
    return (last - first) / rate


def stretch(samples, rate, factor):
    """Speed mono int16 ``samples`` up by ``factor`` without changing pitch (ffmpeg atempo)."""
    if factor == 1.0:
        return samples
    cmd = FFMPEG + ["-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "-",
                    "-af", f"atempo={factor:.6f}", "-f", "s16le", "-"]
    out = run_tool(cmd, "atempo", "stretching audio", stdin=samples.astype("<i2").tobytes())
    return np.frombuffer(out, dtype=np.int16)


def fade_out(samples, rate, seconds=0.01):
    """A copy of int16 ``samples`` whose last ``seconds`` fade linearly to zero (no click at a cut)."""
    n = min(samples.size, int(rate * seconds))
    out = samples.copy()
    if n:
        out[-n:] = (out[-n:].astype(np.float32) * np.linspace(1.0, 0.0, n, dtype=np.float32)).astype(np.int16)
    return out


def write_wav(path, samples, rate=SAMPLE_RATE, channels=1):
    """Write int16 samples as a PCM WAV, atomically."""
    with atomic_output(path, ".wav") as tmp:
        with wave.open(str(tmp), "wb") as wav:
            wav.setnchannels(channels)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())


def read_wav(path):
    """int16 samples (frames x channels flattened) and the sample rate of a PCM WAV."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise DubbingError(path, f"expected 16-bit PCM, got {8 * wav.getsampwidth()}-bit")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"), wav.getframerate()


def extract_audio(media, dest, channels, track=0):
    """Decode the media's audio stream ``track`` to a 48 kHz 16-bit WAV (stereo at most)."""
    import ffmpeg  # ffmpeg-python: only this step builds its command with it

    with atomic_output(dest, ".wav") as tmp:
        stream = ffmpeg.input(str(media)).output(
            str(tmp), map=f"0:a:{track}", vn=None, sn=None, acodec="pcm_s16le", ar=SAMPLE_RATE,
            ac=min(max(channels, 1), 2), f="wav",
        )
        try:
            stream.global_args("-nostdin", "-hide_banner", "-loglevel", "error").overwrite_output().run(
                capture_stdout=True, capture_stderr=True
            )
        except ffmpeg.Error as err:
            lines = err.stderr.decode("utf-8", "replace").strip().splitlines()
            raise DubbingError(media, f"extracting audio failed: {lines[-1] if lines else err}") from None


def block_rms(samples, block, keep_tail=False):
    """RMS (int16 scale) of mono samples per ``block`` samples; a trailing partial block only if ``keep_tail``."""
    usable = samples.size - samples.size % block
    blocks = samples[:usable].astype(np.float32).reshape(-1, block)
    rms = np.sqrt(np.mean(blocks * blocks, axis=1)) if usable else np.zeros(0, np.float32)
    if keep_tail and usable < samples.size:
        tail = samples[usable:].astype(np.float32)
        rms = np.append(rms, np.sqrt(np.mean(tail * tail)))
    return rms


def frame_levels(samples, rate, frame=0.01):
    """RMS per ``frame``-second block of int16 mono samples (int16 scale)."""
    return block_rms(samples, max(1, int(rate * frame)))


def snap_to_speech(cues, samples, rate, frame=0.01, lookback=0.3):
    """Tighten each cue to its speech: start at the first loud frame, end after the last.

    The search starts up to ``lookback`` s before the cue (never before the previous cue's end).
    Speech recognizers' timestamps are coarse (Whisper often starts the first cue at 0.0); a dub
    must start when the speaker does. "Loud" is 12 dB over the recording's noise floor (and over
    -50 dBFS). A cue with no loud frame keeps its times.
    """
    levels = frame_levels(samples, rate, frame)
    if levels.size == 0:
        return list(cues)
    floor = max(float(np.percentile(levels, 10)), 1.0)
    threshold = max(floor * 10 ** (12 / 20), 32768 * 10 ** (-50 / 20))
    snapped, previous_end = [], 0.0
    for cue in cues:
        search_from = max(previous_end, cue.start - lookback)
        first, last = int(np.ceil(search_from / frame - 1e-6)), min(levels.size, int(np.ceil(cue.end / frame)))
        loud = np.flatnonzero(levels[first:last] > threshold)
        if loud.size:
            start = round((first + loud[0]) * frame, 3)
            end = round((first + loud[-1] + 1) * frame, 3)
            cue = type(cue)(start, max(end, start + frame), cue.text, cue.speaker)
        snapped.append(cue)
        previous_end = cue.end
    return snapped


def read_chunks(path, frames):
    """int16 frames x channels of a PCM WAV, ``frames`` at a time (bounded memory for long tracks)."""
    with wave.open(str(path), "rb") as wav:
        channels = wav.getnchannels()
        while True:
            data = wav.readframes(frames)
            if not data:
                return
            yield np.frombuffer(data, dtype="<i2").reshape(-1, channels)


def wav_levels(path, block):
    """RMS (int16 scale) of the first channel of a WAV per ``block`` samples, streamed."""
    # Chunks are whole blocks, so only the file's last chunk can end in a partial one.
    levels = [block_rms(chunk[:, 0], block, keep_tail=True) for chunk in read_chunks(path, block * 1000)]
    return np.concatenate(levels) if levels else np.zeros(0, np.float32)
