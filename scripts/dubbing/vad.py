"""Voice activity: where people speak in a recording, frame by frame (Silero VAD).

Silero VAD v6 ships inside faster-whisper (``faster_whisper/assets/silero_vad_v6.onnx``, MIT) and runs
on onnxruntime, both already installed for recognition, so no other package or download is needed.
It gives one speech probability per 32 ms of 16 kHz audio; everything else here is plain arithmetic
on those probabilities, kept apart so that tests can feed it recorded probabilities (the network's
output, like Whisper's, may differ in the last digits from one CPU to another).

Used for:
* the pauses the line builder cuts at (``dubbing.lines``): Whisper's word timestamps often swallow a
  short pause into the word before it, the audio does not;
* telling speech from music, applause and silence (no line is made where nobody speaks);
* measuring the dub against the original (``dubbing.sync``): when the original speaks, when the dub does.
"""

import numpy as np

RATE = 16000
FRAME_SAMPLES = 512
FRAME_SECONDS = FRAME_SAMPLES / RATE  # 0.032 s
# A frame is speech at or above this probability (Silero's own default).
THRESHOLD = 0.5
# Audio is run through the network this many frames at a time (about 5 minutes), so memory stays
# bounded on an hour-long recording; the network's state restarts at each block's edge.
BLOCK_FRAMES = 10000
# The end of a word the recognizer timed counts as speech over this many seconds (``with_words``; measured in
# tools/bench_separation.py: 0.8 s ducked the music in JFK's pauses by 6 dB, 0.4 s missed more of the voice).
WORD_TAIL_SECONDS = 0.6


def probabilities(samples):
    """Speech probability per 32 ms frame of ``samples`` (16 kHz mono, int16 or float in [-1, 1])."""
    from faster_whisper.vad import get_vad_model

    audio = np.asarray(samples)
    audio = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio.astype(np.float32)
    if audio.size == 0:
        return np.zeros(0, np.float32)
    model = get_vad_model()
    out = []
    block = BLOCK_FRAMES * FRAME_SAMPLES
    for first in range(0, audio.size, block):
        piece = audio[first:first + block]
        piece = np.pad(piece, (0, (-piece.size) % FRAME_SAMPLES))
        out.append(np.asarray(model(piece), np.float32).reshape(-1))
    return np.concatenate(out)


def file_probabilities(path):
    """Speech probability per 32 ms of any audio file, decoded by ffmpeg and read block by block (memory
    stays bounded on an hour-long track)."""
    import subprocess

    from .audio import FFMPEG
    from .errors import DubbingError

    from faster_whisper.vad import get_vad_model

    model = get_vad_model()
    cmd = FFMPEG + ["-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"]
    block = BLOCK_FRAMES * FRAME_SAMPLES * 2
    out = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        while True:
            data = proc.stdout.read(block)
            if not data:
                break
            piece = np.frombuffer(data[: len(data) // 2 * 2], np.int16).astype(np.float32) / 32768.0
            piece = np.pad(piece, (0, (-piece.size) % FRAME_SAMPLES))
            out.append(np.asarray(model(piece), np.float32).reshape(-1))
        error = proc.stderr.read().decode("utf-8", "replace").strip()
    if proc.returncode:
        raise DubbingError(path, f"decoding audio for voice activity failed: {error.splitlines()[-1] if error else ''}")
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def probabilities_of(path):
    """Speech probability per 32 ms: stored (a .npy written by ``save_probabilities``) or heard from audio."""
    if str(path).endswith(".npy"):
        return np.load(path)
    return file_probabilities(path)


def save_probabilities(audio_path, dest):
    """``file_probabilities`` of ``audio_path`` stored at ``dest`` (.npy): the original's speech, heard once and
    read by every language's sync check and report."""
    from .files import atomic_output

    probs = file_probabilities(audio_path)
    with atomic_output(dest, ".npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, probs)


def with_words(probs, words, tail=WORD_TAIL_SECONDS):
    """``probs`` raised to 1 over the last ``tail`` seconds of each word ([start, end], seconds) a recognizer
    timed. Under music as loud as the voice Silero hears only about 70 % of the voice's frames; the
    recognizer hears the words. Only a word's end: Whisper's word times swallow the pause before a word
    into its start (JFK's pauses for effect: all of a word would duck the music between his sentences)."""
    out = np.array(probs, dtype=np.float32, copy=True)
    for start, end in words:
        first = max(0, int(max(start, end - tail) / FRAME_SECONDS))
        last = min(out.size, int(np.ceil(end / FRAME_SECONDS)))
        out[first:last] = 1.0
    return out


def onsets(probs, threshold=THRESHOLD, min_silence=0.1):
    """Where speech starts after at least ``min_silence`` seconds without it (seconds)."""
    out, last_end = [], None
    for start, end in speech(probs, threshold):
        if last_end is None or start - last_end >= min_silence - 1e-9:
            out.append(start)
        last_end = end
    return out


def regions(probs, threshold=THRESHOLD, min_seconds=0.0):
    """[(start, end)] seconds of the runs of frames at or above ``threshold`` (speech), or below it when
    ``threshold`` is negative (silence: frames below ``-threshold``), each at least ``min_seconds`` long."""
    probs = np.asarray(probs)
    on = probs >= threshold if threshold >= 0 else probs < -threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    runs = [(round(float(a) * FRAME_SECONDS, 3), round(float(b) * FRAME_SECONDS, 3)) for a, b in zip(edges[::2], edges[1::2])]
    return [(a, b) for a, b in runs if b - a >= min_seconds - 1e-9]


def speech(probs, threshold=THRESHOLD, min_seconds=0.0):
    return regions(probs, threshold, min_seconds)


def silences(probs, threshold=THRESHOLD, min_seconds=0.0):
    """The pauses between speech: runs below ``threshold``, not counting silence before the first or after
    the last speech."""
    quiet = regions(probs, -threshold, min_seconds)
    said = speech(probs, threshold)
    if not said:
        return []
    return [(a, b) for a, b in quiet if a >= said[0][0] and b <= said[-1][1]]


def speech_seconds_within(probs, start, end, threshold=THRESHOLD):
    """Seconds of speech between ``start`` and ``end``."""
    first, last = int(start / FRAME_SECONDS), int(np.ceil(end / FRAME_SECONDS))
    return float(np.count_nonzero(np.asarray(probs)[max(first, 0):max(last, 0)] >= threshold)) * FRAME_SECONDS
