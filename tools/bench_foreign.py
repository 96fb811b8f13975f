"""Speed of an offline foreign-language dub: a 3-minute French video into English on this machine.

The video is the real French recording in tests/data/foreign (100.7 s, one speaker) played twice and
cut at 180 s, under a grey picture. It is dubbed end to end by the real workflow with no key and no
config (`snakemake --cores 2 results/<v>/dubbed.mp4`): the language detected, Whisper base
recognition, Whisper's translate task line by line, Piper, fit, place, mix, mux, sync check, report.
Set-up (the venv, the once-per-machine model join) is excluded. Reported: the wall time against the
video's length, and each stage's seconds (Snakemake's benchmark files) against it.

    make bench            # runs this after the synthesis benchmark
    .venv/bin/python tools/bench_foreign.py [--seconds 180] [--cores 2]
"""

import argparse
import csv
import json
import subprocess
import tempfile
import time
from pathlib import Path

from workflow_copy import REPO, make_workdir

SNAKEMAKE = REPO / ".venv" / "bin" / "snakemake"
FRENCH = REPO / "tests" / "data" / "foreign" / "fr_asterisk_demo.flac"


def make_video(dest, seconds):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x240:r=25",
                    "-stream_loop", "1", "-i", str(FRENCH), "-t", str(seconds), "-map", "0:v", "-map", "1:a",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k", str(dest)], check=True)


def stage_seconds(workdir, video):
    """{rule: seconds} from Snakemake's benchmark files (one row each; synthesis jobs summed per rule)."""
    totals = {}
    for path in sorted((workdir / "benchmarks" / video).glob("**/*.tsv")):
        with open(path, newline="") as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        rule = path.parent.name if path.parent.name != video else path.stem
        totals[rule] = totals.get(rule, 0.0) + float(row["s"])
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-foreign-") as tmp:
        video = Path(tmp) / "french.mp4"
        make_video(video, args.seconds)
        workdir = make_workdir(Path(tmp) / "wf", [(video, "french.mp4")])
        started = time.monotonic()
        subprocess.run([str(SNAKEMAKE), "--cores", str(args.cores), "results/french/dubbed.mp4", "--quiet"],
                       cwd=workdir, check=True)
        wall = time.monotonic() - started
        results = workdir / "results" / "french"
        transcript = json.loads((results / "transcript.json").read_text(encoding="utf-8"))
        lines = sum(1 for _ in open(results / "script.tsv", encoding="utf-8")) - 1
        sync = json.loads((results / "sync_summary.json").read_text())
        stages = stage_seconds(workdir, "french")
    print(f"\nOffline dub of a {args.seconds:.0f} s French video into English, --cores {args.cores} "
          f"(language {transcript['language']} p={transcript['language_probability']:.2f}, Whisper "
          f"{transcript['model']}, {lines} lines, {sync['overlaps']} overlaps)")
    print(f"{'stage':<16}{'seconds':>9}{'x video':>9}")
    for rule, seconds in sorted(stages.items(), key=lambda item: -item[1]):
        print(f"{rule:<16}{seconds:9.1f}{seconds / args.seconds:9.3f}")
    print(f"{'stages summed':<16}{sum(stages.values()):9.1f}{sum(stages.values()) / args.seconds:9.3f}")
    print(f"{'wall':<16}{wall:9.1f}{wall / args.seconds:9.3f}   (target: under 1.0, faster than the video plays)")


if __name__ == "__main__":
    main()
