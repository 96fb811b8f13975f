"""Scale benchmark (`make bench-scale`): a synthetic lecture of 10, 30 and 60 minutes, dubbed end to end.

For each length it generates a cheap video (64x64 grey picture at 1 fps, libx264 ultrafast) whose
sound has speech-like bursts at known times (about 10 lines a minute over a quiet bed) and the
user's script (`media/<video>.script.tsv`: those times and English lecture sentences), then runs
the whole workflow in a throwaway copy of the workflow (never the repository's media/ or
results/):

* offline with Piper (the default synthesis mode for it: one batch process per video), and
* with `tools/fakeapi.py` as the TTS backend (`tts_backend=openai`, async batch mode, a fake key).

Each run is two Snakemake calls: everything up to `synth.tsv` (probe, extract, segments, synth),
then `dubbed.mp4` (the post-synthesis stages fit -> mux), so the post-synthesis wall time is
measured as a user waits for it. Per stage it reports wall seconds, CPU seconds and peak RSS from
Snakemake's `benchmark:` files (per-segment rules: sums of wall and CPU, the largest RSS), and the
log-log slope of time and memory against length from the smallest to the largest video (1.0 =
linear). Also: the no-op `snakemake -n` of the longest video, and Piper's batch synthesis against
the pure synthesis time (every sentence synthesized in one process with the voice already loaded).

Writes <out>/scale.tsv and <out>/scale.png (default results/bench/).
"""

import argparse
import csv
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_synth import SNAKEMAKE
from fakeapi import FakeAPI  # the test suite's server (tools/fakeapi.py); a real HTTP server on 127.0.0.1
from workflow_copy import REPO, make_workdir

sys.path.insert(0, str(REPO / "scripts"))  # the dubbing library, for Piper's pure synthesis time

KEY = "bench-key-not-a-real-one"
GEN_RATE = 16000  # the generated sound; the video carries it as 48 kHz stereo AAC, like a real lecture
SECONDS_PER_LINE = 6.0  # 10 lines a minute

SUBJECTS = ("the heat engine", "this integral", "the second law", "our sample", "the control group", "the market",
            "a neural network", "the Roman army", "the cell membrane", "this proof", "the old theory", "the river delta")
VERBS = ("changes", "explains", "depends on", "reduces", "predicts", "follows from", "limits", "shapes")
OBJECTS = ("the energy we can use", "every term on the left", "what we measured last week", "the price of bread",
           "the error on the test set", "the supply lines in winter", "how water moves through it",
           "the boundary conditions", "what the data really show", "the shape of the coast")
TAILS = ("", " and that matters", " in most cases", " as you will see in a moment", " so keep it in mind",
         " more than people expect", " for the exam")

# Stages in pipeline order: (label, rule names whose benchmark files it sums).
STAGES = [
    ("probe", ("probe",)), ("extract", ("extract_audio",)), ("segments", ("segments",)),
    ("synth", ("synth", "synth_batch")), ("synth_index", ("synth_index",)), ("fit", ("fit", "fit_batch")),
    ("timeline", ("timeline",)), ("place", ("place",)), ("subtitles", ("subtitles",)),
    ("mix", ("mix",)), ("sync_check", ("sync_check",)), ("report_pieces", ("report_pieces",)), ("mux", ("mux",)),
]
POST_SYNTHESIS = ("fit", "place", "timeline", "subtitles", "mix", "sync_check", "report_pieces", "mux")


def sentence(rng):
    text = f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}."
    return text


def lecture_lines(minutes, seed=9):
    """[(id, start, end, text)]: one line every ~6 s, 1.5-4.5 s of original speech each, 40-90 characters."""
    rng = random.Random(seed)
    lines = []
    for i in range(int(minutes * 60 / SECONDS_PER_LINE)):
        start = round(i * SECONDS_PER_LINE + 0.5 + rng.uniform(0, 0.6), 3)
        end = round(start + rng.uniform(3.0, 4.8), 3)
        lines.append((f"{i + 1:04d}", start, end, sentence(rng)))
    return lines


def speech_like(n, rng):
    """n samples of something that sounds (to a level meter) like speech: voiced harmonics, syllable rate."""
    t = np.arange(n) / GEN_RATE
    f0 = rng.uniform(110, 190)
    voice = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 6))
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(3.5, 5.0) * t) ** 2
    ramp = np.minimum(1, np.minimum(t, t[::-1]) / 0.02)
    return (0.15 * voice * syllables * ramp).astype(np.float32)


def make_video(path, minutes, lines):
    """The lecture video: grey 64x64 picture at 1 fps, the bursts over a quiet bed as 48 kHz stereo AAC."""
    seconds = minutes * 60
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=gray:s=64x64:r=1:d={seconds}",
           "-f", "s16le", "-ar", str(GEN_RATE), "-ac", "1", "-i", "-", "-map", "0:v", "-map", "1:a",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2",
           "-t", str(seconds), str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    rng = np.random.default_rng(5)
    chunk = 60 * GEN_RATE
    total = int(seconds * GEN_RATE)
    pending = list(lines)
    for offset in range(0, total, chunk):
        n = min(chunk, total - offset)
        block = (rng.standard_normal(n) * 0.003).astype(np.float32)  # the room: about -50 dBFS
        for _id, start, end, _text in pending:
            first, last = int(start * GEN_RATE), int(end * GEN_RATE)
            if last <= offset or first >= offset + n:
                continue
            burst = speech_like(last - first, rng)
            lo, hi = max(first, offset), min(last, offset + n)
            block[lo - offset : hi - offset] += burst[lo - first : hi - first]
        pending = [line for line in pending if line[2] * GEN_RATE > offset + n]
        proc.stdin.write((np.clip(block, -1, 1) * 32767).astype("<i2").tobytes())
    proc.stdin.close()
    if proc.wait():
        raise SystemExit(f"making {path} failed")


def write_script(path, lines):
    rows = ["id\tstart\tend\ttext"] + [f"{i}\t{s:.3f}\t{e:.3f}\t{t}" for i, s, e, t in lines]
    Path(path).write_text("\n".join(rows) + "\n", encoding="utf-8")


def make_media(folder, name, minutes):
    """media for a lecture of ``minutes`` in ``folder`` (reused when already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    video, script = folder / f"{name}.mp4", folder / f"{name}.script.tsv"
    lines = lecture_lines(minutes)
    if not video.is_file():
        started = time.monotonic()
        make_video(video, minutes, lines)
        print(f"made {video.name} ({minutes} min, {len(lines)} lines) in {time.monotonic() - started:.1f} s",
              flush=True)
    write_script(script, lines)
    return video, script, lines


def workdir_for(root, label, video, script):
    """A throwaway copy of the workflow with the lecture in its media/ (hard-linked, not copied)."""
    work = root / label
    shutil.rmtree(work, ignore_errors=True)
    make_workdir(work, [(video, video.name)], link=True)
    shutil.copy2(script, work / "media" / script.name)
    return work


def snakemake(work, args, env, check=True):
    cmd = [SNAKEMAKE, "--cores", "2", *args]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if check and done.returncode:
        raise SystemExit(f"benchmark run failed: {' '.join(cmd)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return wall, done.stdout + done.stderr


def _rusage(log_path):
    """(cpu s, peak rss MB) from a step log's last line (see dubbing.step.run_step), else None."""
    try:
        last = [line for line in Path(log_path).read_text(errors="replace").splitlines() if " done in " in line]
    except FileNotFoundError:
        return None
    if not last:
        return None
    words = last[-1].replace(",", " ").replace("(", " ").replace(")", " ").split()
    cpu = float(words[words.index("cpu") + 1])
    own = float(words[words.index("rss") + 1])
    child = float(words[words.index("child") + 1])
    return cpu, own + child  # the step and its largest helper (ffmpeg) at once: an upper bound


def stage_costs(work, video):
    """{stage: {wall, cpu, rss, jobs}} from benchmarks/<video>/ (wall) and logs/<video>/ (exact CPU and peak RSS).

    Snakemake's benchmark files sample CPU and memory every 0.5 s, then every 30 s, and miss children that
    end between samples; the step logs carry getrusage's exact numbers, so those are used when present.
    """
    costs = {}
    bench, logs = work / "benchmarks" / video, work / "logs" / video
    file_names = {"synth_batch": "synth_async"}  # the async checkpoint's benchmark and log are named for its mode
    for label, rules in STAGES:
        wall = cpu = rss = 0.0
        jobs = 0
        for rule in rules:
            name = file_names.get(rule, rule)
            files = [bench / f"{name}.tsv"] if (bench / f"{name}.tsv").is_file() else sorted((bench / rule).glob("*.tsv"))
            for path in files:
                with open(path) as handle:
                    row = next(csv.DictReader(handle, delimiter="\t"))
                jobs += 1
                wall += float(row["s"])
                log_path = (logs / f"{name}.log") if path.parent == bench else (logs / rule / f"{path.stem}.log")
                usage = _rusage(log_path)
                if usage:
                    cpu += usage[0]
                    rss = max(rss, usage[1])
                else:
                    cpu += float(row["cpu_time"]) if row["cpu_time"] not in ("NA", "") else 0.0
                    rss = max(rss, float(row["max_rss"]) if row["max_rss"] not in ("NA", "") else 0.0)
        if jobs:
            costs[label] = {"wall": wall, "cpu": cpu, "rss": rss, "jobs": jobs}
    return costs


def pure_piper_seconds(texts):
    """Seconds to synthesize ``texts`` with the bundled Piper voice already loaded (the floor for synthesis)."""
    from dubbing.backends import Settings, load

    synthesizer = load("tts", "piper").Synthesizer(Settings.resolve("tts", backend="piper"))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        for i, text in enumerate(texts):
            synthesizer.synthesize(text, Path(tmp) / f"{i}.wav")
        return time.monotonic() - started


def run_one(root, media, minutes, backend, env, api=None):
    """Dub one lecture with one backend: (row, work). The run is split at synth.tsv (see module docstring)."""
    name = f"lecture{minutes:g}"
    video, script, lines = media
    work = workdir_for(root, f"{name}-{backend}", video, script)
    config = ["--config", f"cache_dir={work / 'cache'}"]
    if backend == "fakeapi":
        config += ["tts_backend=openai", "synth_mode=async", "max_concurrent=8"]
        api.reset()
    load = os.getloadavg()[0]
    before, _ = snakemake(work, [f"results/{name}/synth.tsv", *config], env)
    after, out = snakemake(work, [f"results/{name}/dubbed.mp4", *config], env)
    noop, dry = snakemake(work, ["-n", f"results/{name}/dubbed.mp4", *config], env)
    if "Nothing to be done" not in dry:
        raise SystemExit(f"{name}: the no-op dry run wants to run something:\n{dry[-2000:]}")
    sync = json.loads((work / "results" / name / "sync_summary.json").read_text())
    summary = (f"{sync['segments']} lines, worst onset error {sync['worst_onset_error']} s, median "
               f"{sync['median_onset_error']} s, {len(sync['violations'])} out of tolerance")
    row = {"minutes": minutes, "segments": len(lines), "backend": backend, "to_synth_wall": before,
           "post_synth_wall": after, "noop_dry_run": noop, "stages": stage_costs(work, name), "sync": summary,
           "load": (load, os.getloadavg()[0])}  # the machine's 1-minute load average before and after
    batch_log = work / "logs" / name / "synth_async.log"
    found = re.search(r"([0-9.]+) s synthesizing", batch_log.read_text()) if batch_log.is_file() else None
    row["pure_synthesis"] = float(found.group(1)) if found else float("nan")
    return row, work


def slope(xs, ys):
    """Least-squares slope of log(y) against log(x): 1.0 = linear growth."""
    pairs = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len(pairs) < 2:
        return float("nan")
    mx = sum(p[0] for p in pairs) / len(pairs)
    my = sum(p[1] for p in pairs) / len(pairs)
    den = sum((p[0] - mx) ** 2 for p in pairs)
    return sum((p[0] - mx) * (p[1] - my) for p in pairs) / den if den else float("nan")


def print_table(rows, out):
    """One line per stage and backend: wall / CPU / RSS at every length, and the log-log slopes."""
    lengths = sorted({r["minutes"] for r in rows})
    lines = []
    header = ["backend", "stage"] + [f"{m:g}min wall s / cpu s / rss MB" for m in lengths] + ["slope wall", "slope cpu",
                                                                                              "slope rss"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    tsv = [["backend", "stage", "minutes", "segments", "jobs", "wall", "cpu", "rss"]]
    for backend in sorted({r["backend"] for r in rows}, reverse=True):
        series = sorted((r for r in rows if r["backend"] == backend), key=lambda r: r["minutes"])
        for label, _rules in STAGES + [("post-synthesis (fit -> mux)", ())]:
            cells, walls, cpus, rsss = [], [], [], []
            for row in series:
                cost = row["stages"].get(label)
                if label.startswith("post-synthesis"):
                    parts = [row["stages"][s] for s in POST_SYNTHESIS if s in row["stages"]]
                    cost = {"wall": row["post_synth_wall"], "cpu": sum(p["cpu"] for p in parts),
                            "rss": max(p["rss"] for p in parts), "jobs": sum(p["jobs"] for p in parts)}
                if not cost:
                    cells.append("-")
                    continue
                cells.append(f"{cost['wall']:.1f} / {cost['cpu']:.1f} / {cost['rss']:.0f}")
                walls.append(cost["wall"])
                cpus.append(cost["cpu"])
                rsss.append(cost["rss"])
                tsv.append([backend, label, row["minutes"], row["segments"], cost["jobs"], f"{cost['wall']:.2f}",
                            f"{cost['cpu']:.2f}", f"{cost['rss']:.1f}"])
            if all(c == "-" for c in cells):
                continue
            mins = [r["minutes"] for r in series if label.startswith("post") or label in r["stages"]]
            lines.append("| " + " | ".join([backend, label] + cells + [f"{slope(mins, walls):.2f}",
                                                                       f"{slope(mins, cpus):.2f}",
                                                                       f"{slope(mins, rsss):.2f}"]) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    with open(out / "scale.tsv", "w", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows(tsv)
    return text


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    series = sorted((r for r in rows if r["backend"] == "piper"), key=lambda r: r["minutes"]) or rows
    minutes = [r["minutes"] for r in series]
    for label, _rules in STAGES:
        walls = [r["stages"].get(label, {}).get("wall") for r in series]
        rsss = [r["stages"].get(label, {}).get("rss") for r in series]
        if all(w for w in walls):
            axes[0].loglog(minutes, walls, marker="o", label=label)
        if all(m for m in rsss):
            axes[1].loglog(minutes, rsss, marker="o", label=label)
    for ax, what in ((axes[0], "wall seconds"), (axes[1], "peak RSS (MB)")):
        lo = min(minutes)
        ref = [v for v in (ax.get_lines()[0].get_ydata() if ax.get_lines() else [])]
        if ref:
            ax.loglog(minutes, [ref[0] * m / lo for m in minutes], ":", color="grey", label="linear")
        ax.set_xlabel("video length (minutes, ~10 lines a minute)")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_title("Time per stage (Piper, 2 cores)")
    axes[1].set_title("Memory per stage")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="10,30,60", help="lecture lengths (comma-separated)")
    parser.add_argument("--backends", default="piper,fakeapi")
    parser.add_argument("--per-segment", type=float, default=10,
                        help="also time Piper in per-segment mode (a job per line) at this length (0 = skip)")
    parser.add_argument("--work", default="", help="keep the generated media and workdirs here (default: a temp dir)")
    parser.add_argument("--out", default=str(REPO / "results" / "bench"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="dub-scale-"))
    lengths = [float(m) for m in args.minutes.split(",")]
    backends = args.backends.split(",")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
    env["PYTHONUNBUFFERED"] = "1"
    rows, notes = [], []
    with FakeAPI(key=KEY, latency=0.05, latency_per_char=0.0005, jitter=0.02, seed=3) as api:
        api_env = dict(env, OPENAI_API_KEY=KEY, OPENAI_BASE_URL=api.openai_base_url)
        for minutes in lengths:
            media = make_media(root / "media", f"lecture{minutes:g}", minutes)
            for backend in backends:
                row, work = run_one(root, media, minutes, backend, api_env if backend == "fakeapi" else env, api)
                rows.append(row)
                stages = row["stages"]
                print(f"{minutes:g} min, {row['segments']} lines, {backend} (load average {row['load'][0]:.1f} -> "
                      f"{row['load'][1]:.1f} on {os.cpu_count()} CPUs): up to synth.tsv {row['to_synth_wall']:.1f} s,"
                      f" post-synthesis {row['post_synth_wall']:.1f} s, no-op -n {row['noop_dry_run']:.1f} s; "
                      + ", ".join(f"{k} {v['wall']:.1f}s/{v['rss']:.0f}MB" for k, v in stages.items()), flush=True)
                if backend == "piper" and "synth" in stages:
                    # Pure synthesis: the batch's own sum of per-line synthesis calls (voice already loaded);
                    # at the smallest length also measured again here, in a separate process.
                    pure = row["pure_synthesis"]
                    text = (f"{minutes:g} min: Piper synthesis of {len(media[2])} lines: job {stages['synth']['wall']:.1f} s"
                            f" ({stages['synth']['jobs']} job(s)) vs pure synthesis {pure:.1f} s = "
                            f"{stages['synth']['wall'] / pure:.2f}x")
                    if minutes == min(lengths):
                        again = pure_piper_seconds([line[3] for line in media[2]])
                        text += f" (pure synthesis measured separately: {again:.1f} s)"
                    notes.append(text)
                    print(notes[-1], flush=True)
                shutil.rmtree(work / "results", ignore_errors=True)  # the hour-long WAVs add up
            if args.per_segment and minutes == args.per_segment and "piper" in backends:
                work = workdir_for(root, f"lecture{minutes:g}-piper-per-segment", media[0], media[1])
                config = ["--config", f"cache_dir={work / 'cache'}", "synth_mode=per-segment"]
                wall, _ = snakemake(work, [f"results/lecture{minutes:g}/synth.tsv", *config], env)
                synth = stage_costs(work, f"lecture{minutes:g}")["synth"]
                notes.append(f"{minutes:g} min: Piper in per-segment mode (one job and one voice load per line): "
                             f"{synth['jobs']} jobs, synthesis {synth['wall']:.1f} s of job time, "
                             f"{wall:.1f} s wall up to synth.tsv")
                print(notes[-1], flush=True)
                shutil.rmtree(work, ignore_errors=True)
    longest = max(lengths)
    for row in rows:
        if row["minutes"] == longest:
            notes.append(f"{longest:g} min, {row['backend']} (load average {row['load'][0]:.1f} -> {row['load'][1]:.1f}): "
                         f"no-op `snakemake -n` {row['noop_dry_run']:.1f} s; "
                         f"post-synthesis (fit -> mux) {row['post_synth_wall']:.1f} s wall; sync: {row['sync']}")
    print()
    table = print_table(rows, out)
    print()
    for note in notes:
        print("- " + note)
    (out / "scale.md").write_text(table + "\n\n" + "\n".join("- " + n for n in notes) + "\n")
    plot(rows, out / "scale.png")
    print(f"wrote {out / 'scale.tsv'}, {out / 'scale.md'} and {out / 'scale.png'}")
    if not args.work:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
