"""The caches from the command line: `stats` (entries, size) and `prune --days N` (the synthesis cache, and the
separations kept for mix_mode separate in <cache_dir>/separation/)."""

import argparse
import shutil
import sys
import time
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
        separations = sorted((Path(args.cache_dir) / "separation").glob("*/"))
        size = sum(path.stat().st_size for folder in separations for path in folder.iterdir())
        print(f"{args.cache_dir}/separation: {len(separations)} separated soundtracks, {size / 1e6:.1f} MB")
    else:
        print(f"{args.cache_dir}: removed {cache.prune(args.days)} entries unused for {args.days:g} days")
        cutoff = time.time() - args.days * 86400
        old = [folder for folder in (Path(args.cache_dir) / "separation").glob("*/")
               if all(path.stat().st_mtime < cutoff for path in folder.iterdir())]
        for folder in old:
            shutil.rmtree(folder)
        print(f"{args.cache_dir}/separation: removed {len(old)} separated soundtracks unused for {args.days:g} days")


if __name__ == "__main__":
    main()
