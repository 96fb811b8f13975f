"""Keeping the music, losing the voice (mix_mode separate): what separation leaves of each, against the truth.

Real speech (tests/data/realspeech: the JFK speech, the phone call) over real music (tests/data/music: an
excerpt of the Drascula score, looped) at equal loudness where the speech is, as a stereo track. The
separation is the workflow's own (scripts/dubbing/separate.py: DeepFilterNet3, then the spectral mask); since
the mask is linear in what it weights, it is applied to the true voice and the true music too, which gives
exactly what is left of each in the background. The local ducks are the workflow's: the speech band where the
original may speak (the voice-activity detector hears it, or tiny.en put the end of a word there: rule
original_talking, vad.with_words) and the mask fell short (separate.unsure_gain), then the mix's broadband one
(separate_duck_db from config/config.yaml) there (mix.speech_gain); each recording is also shown with the
detector alone. (The report cannot measure the voice left: it does not
know the true voice; this is where it is measured.)

Reported per recording: the voice left where the original speaks (dB against the voice in the source), the
music kept where the voice speaks and where nobody does (dB against the music in the source), and the speed of the separation rule on a 3-minute stereo
track on this machine (times the audio's length).

    .venv/bin/python tools/bench_separation.py
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from dubbing import audio, mix, separate, vad  # noqa: E402

RATE = separate.RATE
MUSIC = REPO / "tests" / "data" / "music" / "drascula_track6_excerpt.ogg"
SPEECH = {"JFK speech": REPO / "tests" / "data" / "realspeech" / "jfk.flac",
          "phone call": REPO / "tests" / "data" / "realspeech" / "pyannote_sample.flac"}


def rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def db(a, b):
    return 20 * np.log10(rms(a) / rms(b))


def material(path):
    """(voice, music, where the voice speaks): 48 kHz float mono, the music looped to the voice's length and
    scaled to its loudness where it speaks; the voice active where its 20 ms level is within 35 dB of its peak."""
    voice = audio.decode_mono(path, RATE).astype(np.float32) / 32768
    music = audio.decode_mono(MUSIC, RATE).astype(np.float32) / 32768
    music = np.tile(music, -(-voice.size // music.size))[: voice.size]
    frame = RATE // 50
    level = np.sqrt(np.mean(voice[: voice.size // frame * frame].reshape(-1, frame) ** 2, axis=1))
    talk = np.repeat(level > level.max() * 10 ** (-35 / 20), frame)
    talk = np.pad(talk, (0, voice.size - talk.size))
    music *= rms(voice[talk]) / rms(music[talk])
    peak = np.abs(voice + music).max() / 0.9
    return voice / peak, music / peak, talk


def heard(mixture, words=True):
    """Where the workflow takes the original to speak: rule original_speech (Silero VAD of the track), and with
    ``words`` rule original_talking (the end of every word tiny.en times in the track, vad.with_words; or
    ``words`` given as [(start, end)]: words recorded before, for a test that must not depend on the CPU)."""
    from dubbing.backends import Settings
    from dubbing.backends.asr_whisper import recognize

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mix.wav"
        audio.write_wav(path, (np.clip(mixture, -1, 1) * 32767).astype(np.int16), RATE)
        probs = vad.file_probabilities(path)
        if not words:
            return probs
        if not isinstance(words, bool):
            return vad.with_words(probs, words)
        said = recognize(path, Settings.resolve("asr", backend="faster-whisper", source_language="en"))
    return vad.with_words(probs, [(w.start, w.end) for s in said["segments"] for w in s["words"]])


def default_duck_db():
    import yaml

    return float(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["separate_duck_db"])


def local_duck(probs, size, duck_db=None):
    """Per sample, the gain the mix gives the background where the original speaks (separate_duck_db), from
    the voice activity the workflow hears (mix.speech_gain: 10 ms blocks, its lead, hold and ramps)."""
    duck_db = default_duck_db() if duck_db is None else duck_db
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.npy"
        np.save(path, probs)
        gain = np.repeat(mix.speech_gain(path, duck_db), RATE // 100)[:size]
    return np.pad(gain, (0, size - gain.size), constant_values=1.0)


def separated(voice, music, unsure=True, words=True):
    """(background, voice left, music left) of voice + music, the workflow's separation (one channel); with
    ``unsure``, the speech band ducked where the VAD hears speech and the mask fell short (separate.unsure_gain)."""
    enhancer = separate.Enhancer()
    mixture = voice + music
    padded = np.pad(mixture, (0, (-mixture.size - separate.DELAY) % separate.FRAME + separate.DELAY))
    estimate = enhancer.process(padded.astype(np.float32))[separate.DELAY:separate.DELAY + mixture.size]
    enhancer.close()
    pad = separate.WINDOW
    parts = [np.pad(x, (pad, pad + (-x.size) % separate.HOP)) for x in (mixture, estimate, voice, music)]
    probs = heard(mixture, words)
    talking = None
    if unsure:
        talking = separate.frames_talking(probs, -pad, (parts[0].size - separate.WINDOW) // separate.HOP + 1)
    background, voice_left, music_left = separate.background_of(*parts, talking=talking)
    return [x[pad:pad + mixture.size] for x in (background, voice_left, music_left)] + [probs]


def speed(seconds=180.0):
    """Seconds the separation rule's function takes per second of a stereo track (3 minutes of JFK over music)."""
    voice, music, _ = material(SPEECH["JFK speech"])
    track = np.tile(voice + music, -(-int(seconds * RATE) // voice.size))[: int(seconds * RATE)]
    stereo = (np.stack([track, 0.8 * track], axis=1) * 32767).astype(np.int16)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source.wav"
        audio.write_wav(source, stereo.reshape(-1), RATE, channels=2)
        started = time.monotonic()
        separate.separate(source, Path(tmp) / "bg.wav", Path(tmp) / "voice.wav")
        return (time.monotonic() - started) / seconds


def main():
    print(f"| recording over music (equal loudness) | where it may speak | voice left: mask | "
          f"+ speech-band duck where unsure | + {default_duck_db():g} dB local duck (the mix) | music kept while the voice speaks | "
          "music kept where nobody speaks | voice frames taken for speech |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (name, path), words in ((item, words) for item in SPEECH.items() for words in (False, True)):
        voice, music, talk = material(path)
        _background, mask_only, _music, _probs = separated(voice, music, unsure=False, words=False)
        _background, voice_left, music_left, probs = separated(voice, music, words=words)
        duck = local_duck(probs, voice.size)
        frame = np.minimum((np.arange(voice.size) / RATE / vad.FRAME_SECONDS).astype(int), probs.size - 1)
        hears = probs[frame] > separate.DUCK_THRESHOLD
        where = "VAD + recognizer's words" if words else "VAD"
        print(f"| {name} | {where} | {db(mask_only[talk], voice[talk]):.1f} dB | {db(voice_left[talk], voice[talk]):.1f} dB | "
              f"{db((duck * voice_left)[talk], voice[talk]):.1f} dB | "
              f"{db((duck * music_left)[talk], music[talk]):.1f} dB | {db((duck * music_left)[~talk], music[~talk]):.1f} dB "
              f"| {np.mean(hears[talk]):.0%} |")
    print(f"\nseparation speed (3-minute stereo track, this machine): {speed():.2f} x the audio's length")
    print("duck (duck_db 18): voice left -18 dB while a dubbed line plays and 0 dB in the pauses between them; "
          "music kept -18 dB while lines play, 0 dB elsewhere. replace: neither is left.")


if __name__ == "__main__":
    main()
