"""Record what faster-whisper hears in a recording, word by word, for tests that must not depend on the CPU.

tiny.en's words (and whether it punctuates them at all) change with the CPU's instruction set: the
phone call comes back punctuated with AVX and without a single full stop with AVX2/AVX-512. Tests of
what is built on them (dubbing.lines) read these recordings (and the Silero VAD probabilities, one per
32 ms, stored beside the words) instead of running the
model, so `make test` gives the same answer on every x86-64 machine.

    .venv/bin/python tools/record_words.py tests/data/realspeech/pyannote_sample.flac \\
        tests/data/realspeech/words/pyannote_sample.avx.json --isa AVX

The recording is first made into the WAV the pipeline hands the recognizer (dubbing.audio.extract_audio,
48 kHz 16-bit), because tiny.en hears other words in the 16 kHz FLAC. ``--isa`` sets CT2_FORCE_CPU_ISA
(GENERIC, AVX, AVX2, AVX512) in a child process, before CTranslate2 loads.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ("start", "end", "text", "probability")  # a word's fields as the recognizer gives them
sys.path.insert(0, str(ROOT / "scripts"))


def record(recording, dest, channels, language):
    from dubbing import vad
    from dubbing.audio import decode_mono, extract_audio
    from dubbing.backends import Settings
    from dubbing.backends.asr_whisper import recognize

    settings = Settings.resolve("asr", backend="faster-whisper", source_language=language)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "source.wav"
        extract_audio(recording, wav, channels)
        heard = recognize(wav, settings)
        samples = decode_mono(wav, vad.RATE)
        heard["vad"] = [round(float(p), 3) for p in vad.probabilities(samples)]
        heard["speakers"] = speakers(heard, samples)
    heard["segments"] = [dict(segment, words=[{k: v for k, v in word._asdict().items() if k in RECORDED}
                                              for word in segment["words"]])
                         for segment in heard["segments"]]
    heard["recording"] = Path(recording).name
    heard["cpu_isa"] = os.environ.get("CT2_FORCE_CPU_ISA", "")
    Path(dest).write_text(json.dumps(heard, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def speakers(heard, samples):
    """Per word, the speaker dubbing.voiceprint tells (None: one voice), from the recorded words and VAD."""
    from dubbing import vad, voiceprint

    words = [word for segment in heard["segments"] for word in segment["words"]]
    return voiceprint.word_speakers(samples, vad.speech(heard["vad"]), words)


def add_speakers(recording, dest, channels):
    """Add the speaker of each word to a recording made before, from the same audio (the words stay)."""
    from dubbing import vad
    from dubbing.audio import decode_mono, extract_audio
    from dubbing.lines import Word

    heard = json.loads(Path(dest).read_text(encoding="utf-8"))
    segments = [dict(segment, words=[Word(**word) for word in segment["words"]]) for segment in heard["segments"]]
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "source.wav"
        extract_audio(recording, wav, channels)
        heard["speakers"] = speakers(dict(heard, segments=segments), decode_mono(wav, vad.RATE))
    Path(dest).write_text(json.dumps(heard, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recording")
    parser.add_argument("dest")
    parser.add_argument("--isa", default="", help="CT2_FORCE_CPU_ISA for the recognizer")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--language", default="en")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--add-speakers", action="store_true",
                        help="only add each word's speaker (dubbing.voiceprint) to an existing recording")
    args = parser.parse_args()
    if args.add_speakers:
        add_speakers(args.recording, args.dest, args.channels)
        return
    if args.child or not args.isa:
        record(args.recording, args.dest, args.channels, args.language)
        return
    env = dict(os.environ, CT2_FORCE_CPU_ISA=args.isa)
    subprocess.run([sys.executable, __file__, args.recording, args.dest, "--child", "--channels", str(args.channels),
                    "--language", args.language], env=env, check=True)


if __name__ == "__main__":
    main()
