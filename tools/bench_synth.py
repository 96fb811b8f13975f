"""Synthesis benchmark (`make bench`): both modes against the local test server, as ratios in one run.

Reproduces the seed system's table (videos of 15, 25 and 37 segments at concurrency 1, 3, 5, 10)
for the per-segment and async modes, plus a rate-limited row and a 1,000-segment async row.
The server's latency model is close to the seed's measurements: 0.4 s + 0.02 s per character,
with up to 0.2 s of jitter (about 2 s a line). Each run starts from an empty cache.

Columns: wall (the whole `snakemake results/<v>/synth.tsv` call, what a user waits for, including
Snakemake's fixed start-up), span (the synthesis itself: first request reaching the server to the
last answer), speedup (sequential span / this span, same mode), ideal (sequential span / the best
possible makespan of the measured request latencies at this concurrency, longest first),
efficiency (speedup / ideal = that makespan / this span), vs_async (this wall / the async wall of
the same video and concurrency).

Writes results/bench/synth.tsv and results/bench/synth.png.
"""

import argparse
import csv
import heapq
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fakeapi import FakeAPI  # the test suite's server (tools/fakeapi.py); a real HTTP server on 127.0.0.1
from workflow_copy import REPO, make_workdir

KEY = "bench-key-not-a-real-one"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
WORDS = ("water", "clouds", "river", "ocean", "rain", "vapour", "sunlight", "mountain", "snow", "valley")


def line(i):
    """A lesson line of 60-110 characters (about 1.6-2.6 s of latency)."""
    words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(8 + i % 6)]
    return f"Line {i}: the " + " and the ".join(words[:4]) + " " + " ".join(words[4:]) + "."


def make_video(path, seconds):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=64x64:r=1",
                    "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", str(seconds), "-c:v", "libx264",
                    "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path)], check=True)


def workdir_for(root, segments, video):
    work = make_workdir(tempfile.mkdtemp(prefix=f"bench{segments}-", dir=root), [(video, "lesson.mp4")], link=True)
    rows = [f"{i:04d}\t{1.2 * (i - 1):.3f}\t{1.2 * (i - 1) + 1.0:.3f}\t{line(i)}" for i in range(1, segments + 1)]
    (work / "media" / "lesson.script.tsv").write_text("id\tstart\tend\ttext\n" + "\n".join(rows) + "\n")
    return work


def snakemake(work, target, config, env):
    cmd = [SNAKEMAKE, "--cores", str(max(2, int(config.get("max_concurrent", 2)))), target, "--config",
           *[f"{k}={v}" for k, v in config.items()]]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"benchmark run failed: {' '.join(cmd)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return time.monotonic() - started


def lpt_makespan(latencies, workers):
    """Longest-processing-time-first makespan: the best a scheduler can do with these latencies."""
    finish = [0.0] * workers
    for latency in sorted(latencies, reverse=True):
        heapq.heapreplace(finish, finish[0] + latency)
    return max(finish)


def run_row(api, root, video, segments, mode, concurrency, env, rpm=0):
    work = workdir_for(root, segments, video)
    base = {"tts_backend": "openai", "synth_mode": mode, "max_concurrent": concurrency}
    if rpm:
        base["requests_per_minute"] = rpm
    snakemake(work, "results/lesson/segments.tsv", base, env)  # prepare: not part of the measurement
    api.reset()
    wall = snakemake(work, "results/lesson/synth.tsv", base, env)
    requests = [r for r in api.requests if r["path"] == "/v1/audio/speech"]
    ok = [r for r in requests if r["outcome"] == "ok"]
    span = max(r["t"] + r["duration"] for r in requests) - min(r["t"] for r in requests)
    peak_mb = None
    bench = work / "benchmarks" / "lesson" / "synth_async.tsv"
    if bench.is_file():
        with open(bench) as handle:
            peak_mb = float(next(csv.DictReader(handle, delimiter="\t"))["max_rss"])
    shutil.rmtree(work, ignore_errors=True)
    return {"mode": mode, "segments": segments, "concurrency": concurrency, "wall": wall, "span": span,
            "latencies": [r["duration"] for r in ok], "requests": len(requests),
            "rejected": sum(r["outcome"] == "429" for r in requests), "peak_mb": peak_mb}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", default="15,25,37")
    parser.add_argument("--concurrency", default="1,3,5,10")
    parser.add_argument("--modes", default="per-segment,async")
    parser.add_argument("--rpm", type=int, default=120, help="server cap for the rate-limited row (0 = skip)")
    parser.add_argument("--big", type=int, default=1000, help="segments in the large async row (0 = skip)")
    parser.add_argument("--out", default=str(REPO / "results" / "bench"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="dub-bench-"))
    sizes = [int(n) for n in args.videos.split(",")]
    levels = [int(n) for n in args.concurrency.split(",")]
    rows = []
    with FakeAPI(key=KEY, latency=0.4, latency_per_char=0.02, jitter=0.2, seed=7) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
        env.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=api.openai_base_url, PYTHONUNBUFFERED="1")
        longest = max(sizes + [args.big, 2 * args.rpm]) * 1.2 + 5
        video = root / "lesson.mp4"
        make_video(video, longest)
        for mode in args.modes.split(","):
            for segments in sizes:
                sequential = None
                for concurrency in levels:
                    row = run_row(api, root, video, segments, mode, concurrency, env)
                    sequential = sequential or row["span"]
                    row["speedup"] = sequential / row["span"]
                    row["ideal"] = sequential / lpt_makespan(row["latencies"], concurrency)
                    row["efficiency"] = row["speedup"] / row["ideal"]
                    rows.append(row)
                    print(format_row(row), flush=True)
        walls = {(r["segments"], r["concurrency"]): r["wall"] for r in rows if r["mode"] == "async"}
        for row in rows:
            if (row["segments"], row["concurrency"]) in walls:
                row["vs_async"] = row["wall"] / walls[(row["segments"], row["concurrency"])]
        if args.rpm:
            api.configure(rpm=args.rpm, latency=0.2, latency_per_char=0.002)
            row = run_row(api, root, video, 2 * args.rpm, "async", 10, env, rpm=args.rpm)
            row["achieved_rpm"] = 60 * (row["requests"] - row["rejected"]) / row["span"]
            rows.append(row)
            print(format_row(row) + f"  achieved {row['achieved_rpm']:.1f} rpm of {args.rpm}, "
                  f"{row['rejected'] / row['requests']:.1%} answered 429", flush=True)
            api.configure(rpm=None, latency=0.4, latency_per_char=0.02)
        if args.big:
            api.configure(latency=0.2, latency_per_char=0.002, jitter=0.1)
            row = run_row(api, root, video, args.big, "async", 10, env)
            rows.append(row)
            print(format_row(row) + f"  peak memory {row['peak_mb']:.0f} MB", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    write_table(rows, out / "synth.tsv")
    plot(rows, out / "synth.png")
    print(f"wrote {out / 'synth.tsv'} and {out / 'synth.png'}")


def format_row(row):
    text = (f"{row['mode']:<12}{row['segments']:>6} seg  c={row['concurrency']:<3} wall {row['wall']:6.1f} s  "
            f"span {row['span']:6.1f} s")
    if "efficiency" in row:
        text += f"  speedup {row['speedup']:4.2f}x  ideal {row['ideal']:4.2f}x  efficiency {row['efficiency']:.2f}"
    return text


def write_table(rows, path):
    columns = ["mode", "segments", "concurrency", "wall", "span", "speedup", "ideal", "efficiency", "vs_async",
               "requests", "rejected", "achieved_rpm", "peak_mb"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([f"{row[c]:.2f}" if isinstance(row.get(c), float) else row.get(c, "") for c in columns])


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for mode, style in (("per-segment", "--"), ("async", "-")):
        for segments in sorted({r["segments"] for r in rows if "efficiency" in r}):
            series = [r for r in rows if r["mode"] == mode and r["segments"] == segments and "efficiency" in r]
            if series:
                ax.plot([r["concurrency"] for r in series], [r["speedup"] for r in series], style, marker="o",
                        label=f"{mode}, {segments} segments")
    levels = sorted({r["concurrency"] for r in rows})
    ax.plot(levels, levels, ":", color="grey", label="linear")
    ax.set_xlabel("concurrency")
    ax.set_ylabel("speedup over sequential (same mode)")
    ax.set_title("Synthesis speedup against the local test server (~2 s per request)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
