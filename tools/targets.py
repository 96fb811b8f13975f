"""The files a `make` command asks Snakemake for, one per target language of the run.

    python tools/targets.py NAME PATTERN... [--languages es,de] [--only es]

Each PATTERN is formatted per language with {dir} (results/NAME, or results/NAME/dub-<lang> when the run
has several languages), {video} and {lang}; the target languages are config/config.yaml's target_language,
or --languages. Prints the paths on one line, for the Makefile.
"""

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from dubbing import languages  # noqa: E402
from dubbing.errors import DubbingError  # noqa: E402


def paths(video, patterns, value, only=""):
    found = languages.targets(value)
    several = len(found) > 1
    if only and only not in found:
        raise DubbingError("LANGUAGE", f"{only} is not a target language of this run ({', '.join(found)}); "
                                       f"dub into it with LANGUAGES={','.join([*found, only])} or set target_language")
    chosen = [only] if only else list(found)
    return [pattern.format(dir=f"results/{video}{languages.dub_folder(token, several)}", video=video, lang=token)
            for token in chosen for pattern in patterns]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("patterns", nargs="+")
    parser.add_argument("--languages", default="")
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    value = args.languages or yaml.safe_load((Path("config") / "config.yaml").read_text())["target_language"]
    try:
        print(" ".join(f'"{path}"' for path in paths(args.video, args.patterns, value, args.only)))
    except DubbingError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
