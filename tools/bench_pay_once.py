"""Pay once per line (issue 22): requests and characters billed on the first run of a dense video.

A 37-line lesson whose lines are up to a third too long for their slots (as a translation into a
wordier language is), dubbed up to timing.tsv with the OpenAI voice of the local test server (its
voices speak 0.3 s + 0.06 s per character, honour ``speed``; latency 0.4 s + 0.02 s per character):
speech requests per line, characters billed against the script's, and the makespan of synthesis and
re-voicing against a clairvoyant longest-first schedule of the same requests (``efficiency``). Then a
no-change rerun, one edited line, and a second video of the same voice (what the voice was heard to take is learned, rates.Heard).

    .venv/bin/python tools/bench_pay_once.py [--lines 37] [--concurrency 5,10] [--modes async,per-segment]
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_synth import WORDS, lpt_makespan, make_video
from fakeapi import FakeAPI
from workflow_copy import make_workdir

KEY = "bench-key-not-a-real-one"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def script(lines, seed=3):
    """Lines of 40-120 characters whose slots hold 75-110 % of their natural speech (0.3 s + 0.06 s/char)."""
    rng = random.Random(seed)
    rows, at = [], 1.0
    for i in range(1, lines + 1):
        words = [WORDS[rng.randrange(len(WORDS))] for _ in range(rng.randint(5, 16))]
        text = f"Line {i}, " + " ".join(words) + "."
        natural = 0.3 + 0.06 * len(text)
        slot = natural * rng.uniform(0.75, 1.1)
        rows.append((f"{i:04d}", round(at, 3), round(at + slot, 3), text))
        at += slot + rng.uniform(0.15, 0.6)
    return rows, at + 2.0


def run(work, config, env, video="lesson"):
    # Per-segment jobs run as many at once as --cores allows: give them the slots the batch gets.
    cores = max(4, int(config["max_concurrent"]))
    cmd = [SNAKEMAKE, "--cores", str(cores), f"results/{video}/timing.tsv", "--config",
           *[f"{k}={v}" for k, v in config.items()]]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=37)
    parser.add_argument("--concurrency", default="5,10")
    parser.add_argument("--modes", default="async,per-segment")
    parser.add_argument("--paces", default="1.0,0.85,1.15",
                        help="the voices' speaking pace against the prediction (1.15: 15 %% slower than predicted)")
    args = parser.parse_args()
    rows, seconds = script(args.lines)
    later, later_seconds = script(args.lines, seed=4)  # the voice's next video, once it has been heard
    chars = sum(len(text) for *_, text in rows)
    root = Path(tempfile.mkdtemp(prefix="dub-payonce-"))
    video, second = root / "lesson.mp4", root / "second.mp4"
    make_video(video, seconds)
    make_video(second, later_seconds)
    print("pace  mode         conc  lines  requests  per line  chars billed/script  efficiency  rerun  edit  "
          "next video per line")
    with FakeAPI(key=KEY, latency=0.4, latency_per_char=0.02, jitter=0.0, seed=7) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
        env.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=api.openai_base_url)
        for pace, mode, concurrency in [(float(p), m, int(c)) for p in args.paces.split(",")
                                        for m in args.modes.split(",") for c in args.concurrency.split(",")]:
                api.configure(voice_pace=pace)
                work = make_workdir(root / f"{pace}-{mode}-{concurrency}", [(video, "lesson.mp4"),
                                                                           (second, "second.mp4")], link=True)
                for name, lines in (("lesson", rows), ("second", later)):
                    (work / "media" / f"{name}.script.tsv").write_text(
                        "id\tstart\tend\ttext\n" + "".join(f"{i}\t{s}\t{e}\t{t}\n" for i, s, e, t in lines))
                config = {"tts_backend": "openai", "synth_mode": mode, "max_concurrent": concurrency}
                api.reset()
                run(work, config, env)
                speech = [r for r in api.requests if r["path"] == "/v1/audio/speech"]
                billed = sum(len(r["json"]["input"]) for r in speech)
                span = max(r["t"] + r["duration"] for r in speech) - min(r["t"] for r in speech)
                ideal = lpt_makespan([r["duration"] for r in speech], concurrency)
                api.reset()
                run(work, config, env)
                rerun = len([r for r in api.requests if r["path"] == "/v1/audio/speech"])
                path = work / "media" / "lesson.script.tsv"
                path.write_text(path.read_text().replace(rows[5][3], rows[5][3][:-1] + " again."))
                api.reset()
                run(work, config, env)
                edit = len([r for r in api.requests if r["path"] == "/v1/audio/speech"])
                api.reset()
                run(work, config, env, "second")
                learned = len([r for r in api.requests if r["path"] == "/v1/audio/speech"]) / len(later)
                print(f"{pace:4.2f}  {mode:12s} {concurrency:4d}  {len(rows):5d}  {len(speech):8d}  {len(speech) / len(rows):8.2f}  "
                      f"{billed / chars:19.2f}  {ideal / span:10.2f}  {rerun:5d}  {edit:4d}  {learned:19.2f}", flush=True)
                shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
