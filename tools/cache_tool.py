"""The synthesis cache from the command line: `stats` (entries, size) and `prune --days N`."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the dubbing library
from dubbing.cache import SpeechCache  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["stats", "prune"])
    parser.add_argument("--cache-dir", default="cache")
    parser.add_argument("--days", type=float, default=30, help="prune: entries unused for this many days")
    args = parser.parse_args()
    cache = SpeechCache(args.cache_dir)
    if args.command == "stats":
        stats = cache.stats()
        print(f"{args.cache_dir}: {stats['entries']} entries, {stats['bytes'] / 1e6:.1f} MB")
    else:
        print(f"{args.cache_dir}: removed {cache.prune(args.days)} entries unused for {args.days:g} days")


if __name__ == "__main__":
    main()
