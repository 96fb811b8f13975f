"""The voices speakers were given automatically, remembered for their later videos: list, forget, reassign.

    make voices                                   # or: .venv/bin/python tools/speaker_voices.py list
    make voices-forget SPEAKER=Diane              # she gets a voice afresh in her next video
    .venv/bin/python tools/speaker_voices.py set Diane nova [--backend openai]

The table is ``<cache_dir>/speaker_voices.json`` (per TTS backend, speaker -> voice). A speaker named in
config ``voices:`` always gets that voice instead; these are only the automatic ones. A change takes
effect in a video when its voices are chosen again (its script changes, or
``snakemake --forcerun segments results/<video>/dubbed.mp4``).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from dubbing.speakers import VoiceMemory  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("list", "forget", "set"))
    parser.add_argument("speaker", nargs="?")
    parser.add_argument("voice", nargs="?")
    parser.add_argument("--backend", default="", help="only this TTS backend (default: every one; set: openai)")
    parser.add_argument("--cache-dir", default="cache")
    args = parser.parse_args(argv)
    memory = VoiceMemory(args.cache_dir)
    if args.command == "list":
        table = memory.all()
        rows = [(backend, speaker, voice) for backend, voices in sorted(table.items())
                if not args.backend or backend == args.backend for speaker, voice in sorted(voices.items())]
        if not rows:
            print(f"no remembered voices in {memory.path}")
        for backend, speaker, voice in rows:
            print(f"{backend}\t{speaker}\t{voice}")
        return 0
    if not args.speaker:
        parser.error(f"{args.command} needs a SPEAKER")
    with memory.editing() as table:
        if args.command == "forget":
            gone = [backend for backend, voices in table.items()
                    if (not args.backend or backend == args.backend) and voices.pop(args.speaker, None)]
            for backend in [b for b, voices in table.items() if not voices]:
                del table[backend]
            print(f"forgot {args.speaker} ({', '.join(gone)})" if gone else f"{args.speaker}: no remembered voice")
        else:
            if not args.voice:
                parser.error("set needs a SPEAKER and a VOICE")
            table.setdefault(args.backend or "openai", {})[args.speaker] = args.voice
            print(f"{args.speaker} -> {args.voice} ({args.backend or 'openai'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
