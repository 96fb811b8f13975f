"""The voices this project cloned at ElevenLabs (clone_voices: true): list them, delete them.

    make clones                      # or: .venv/bin/python tools/clones.py list
    make clones-delete               # delete every clone listed (from the account and the records)
    .venv/bin/python tools/clones.py delete <voice_id> ...

The records are ``<cache_dir>/voices/*.json`` (one per clone: voice id, name, speaker, video, the
sample's length); only clones listed there are touched, never other voices of the account.
"""

import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from dubbing import clones  # noqa: E402
from dubbing.errors import DubbingError  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("list", "delete"))
    parser.add_argument("voice_ids", nargs="*", help="delete only these (default: all listed)")
    parser.add_argument("--cache-dir", default="cache")
    args = parser.parse_args(argv)
    records = clones.CloneRecords(args.cache_dir)
    listed = records.all()
    if args.command == "list":
        if not listed:
            print(f"no cloned voices recorded in {records.root}")
        for record in listed:
            made = datetime.datetime.fromtimestamp(record.get("created", 0)).strftime("%Y-%m-%d %H:%M")
            print(f"{record['voice_id']}\t{record['name']}\tspeaker {record['speaker']} of {record['video']}\t"
                  f"{record['sample_seconds']:.1f} s sample\t{made}")
        return 0
    wanted = [record for record in listed if not args.voice_ids or record["voice_id"] in args.voice_ids]
    unknown = set(args.voice_ids) - {record["voice_id"] for record in listed}
    if unknown:
        print(f"not a clone this project made (see make clones): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 1
    try:
        for record in wanted:
            there = clones.delete(record["voice_id"])
            records.remove(record["key"])
            print(f"deleted {record['voice_id']} ({record['name']})" + ("" if there else ": the account no longer had it"))
    except DubbingError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
