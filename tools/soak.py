"""Soak test (`make soak`): a long script through a faulty server, and runs killed with SIGKILL and resumed.

For each synthesis mode (async, per-segment):
  1. an uninterrupted run of the whole workflow (results/<v>/dubbed.mp4) against the local test
     server injecting 10 % 429 (with retry-after), 2 % 500, 1 % dropped connections, 1 % truncated
     audio bodies and latency jitter;
  2. the same run from scratch (new workdir, empty cache) killed with SIGKILL (the whole process
     group: Snakemake and its jobs) three times at random moments (twice during synthesis, once
     after it), each time resumed with `snakemake --unlock` and the same command.

Checks and report, per run: segments completed, requests sent (and the overhead over one per
segment), 429s, retries, wall time, peak memory (largest process); every final WAV decodes to
exactly the samples the server sent for its text (no corrupt, partial or truncated audio
accepted); no temp file left behind; after each kill, no line that was already finished (in the
cache) is ever requested again; the killed run's final audio (decoded mix and the AAC track of
dubbed.mp4) identical to the uninterrupted run's.

    python tools/soak.py [--segments 1000] [--modes async,per-segment] [--kills 3] [--seed 7]

Exits non-zero if a target is missed. Writes results/soak/report.json.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from bench_synth import SNAKEMAKE, make_video, workdir_for
from fakeapi import FakeAPI, speech_audio  # the test suite's server (tools/fakeapi.py): real HTTP on 127.0.0.1
from workflow_copy import REPO

KEY = "soak-key-not-a-real-one-5Hq2"
WORDS = ("water", "clouds", "river", "ocean", "rain", "vapour", "sunlight", "mountain", "snow", "valley")
SLOT = 3.0  # one line every 3 s: a 1,000-line script is a 50-minute video
FAULTS = {"p_429": 0.10, "p_500": 0.02, "p_drop": 0.01, "p_truncate": 0.01, "latency": 0.05, "jitter": 0.15}
VOICE = "alloy"
RATE = 24000


def text_for(i):
    """A short lesson line (about 2.2 s of the server's speech, inside its 2.6 s slot)."""
    return f"Line {i}: the {WORDS[i % 10]} and the {WORDS[(i * 3 + 1) % 10]}."


def make_workdir(root, video, segments):
    """A throwaway copy of the workflow (bench_synth's) with the soak's script: short lines every SLOT s."""
    work = workdir_for(root, segments, video)
    rows = [f"{i:04d}\t{SLOT * (i - 1) + 0.2:.3f}\t{SLOT * (i - 1) + 2.8:.3f}\t{text_for(i)}"
            for i in range(1, segments + 1)]
    (work / "media" / "lesson.script.tsv").write_text("id\tstart\tend\ttext\n" + "\n".join(rows) + "\n")
    return work


def vm_hwm(pid):
    """Peak resident memory of a live process (MB), 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else 0.0


def snakemake(work, mode, env, log, kill_when=None):
    """One `snakemake results/lesson/dubbed.mp4` run; SIGKILL its whole process group once ``kill_when()``.

    Returns (finished, seconds, peak MB of the Snakemake process).
    """
    cmd = [SNAKEMAKE, "--cores", "5", "results/lesson/dubbed.mp4", "--config", "tts_backend=openai",
           f"synth_mode={mode}", "max_concurrent=5"]
    started, peak = time.monotonic(), 0.0
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        while proc.poll() is None:
            peak = max(peak, vm_hwm(proc.pid))
            if kill_when is not None and kill_when():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                out.write("\n*** killed with SIGKILL ***\n")
                return False, time.monotonic() - started, peak
            time.sleep(0.05)
    if proc.returncode != 0:
        raise SystemExit(f"soak: snakemake failed in {work} (see {log})")
    return True, time.monotonic() - started, peak


def unlock(work, env, log):
    with open(log, "a") as out:
        subprocess.run([SNAKEMAKE, "--unlock", "results/lesson/dubbed.mp4"], cwd=work, env=env, stdout=out,
                       stderr=subprocess.STDOUT, check=True)


def cached_texts(work):
    """Texts whose audio is finished in the cache (its metadata is written after the audio)."""
    texts = set()
    for meta in (work / "cache" / "tts").rglob("*.json"):
        if meta.with_suffix(".wav").is_file():
            texts.add(json.loads(meta.read_text(encoding="utf-8"))["text"])
    return texts


def job_peak_mb(work):
    """The largest peak RSS any job reported in its log (`run_step` writes it)."""
    peaks = [float(m) for path in (work / "logs").rglob("*.log")
             for m in re.findall(r"peak rss (\d+) MB", path.read_text(errors="replace"))]
    return max(peaks, default=0.0)


def check_audio(work, segments):
    """Every tts/<id>.wav is exactly the samples the server made for its text; returns problems."""
    problems = []
    for i in range(1, segments + 1):
        path = work / "results" / "lesson" / "tts" / f"{i:04d}.wav"
        try:
            with wave.open(str(path), "rb") as wav:
                samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
                rate = wav.getframerate()
        except (OSError, wave.Error, EOFError) as err:
            problems.append(f"{path.name}: {err}")
            continue
        expected = speech_audio(text_for(i), VOICE, RATE)
        if rate != RATE or not np.array_equal(samples, expected):
            problems.append(f"{path.name}: {samples.size} samples at {rate} Hz, the server sent {expected.size}")
    leftovers = [str(p.relative_to(work)) for folder in ("results", "cache") for p in (work / folder).rglob("*")
                 if ".tmp" in p.name or p.name.endswith(".part")]
    problems += [f"left behind: {p}" for p in leftovers]
    return problems


def audio_digests(work):
    out = work / "results" / "lesson"
    mix = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(out / "mix.flac"), "-f", "md5", "-"],
                         capture_output=True, text=True, check=True).stdout.strip()
    track = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(out / "dubbed.mp4"), "-map", "0:a:0",
                            "-c", "copy", "-f", "md5", "-"], capture_output=True, text=True, check=True).stdout.strip()
    return {"mix": mix, "aac_track": track}


def speech_records(api, since=0.0):
    return [r for r in list(api.requests) if r["path"] == "/v1/audio/speech" and r["t"] >= since]


def soak_run(api, root, video, segments, mode, kills, rng, env, label):
    """One scenario from scratch; returns its report row."""
    api.reset()
    work = make_workdir(root, video, segments)
    log = root / f"{label}.log"
    began = time.monotonic()
    finished_at_kill = []  # (time of the kill, texts finished in the cache by then)
    runs = 0
    peak = 0.0
    # Kill moments: `kills - 1` during synthesis (after a random share of the lines were answered),
    # the last a random moment after synthesis (fit, timeline, mix).
    shares = sorted(rng.uniform(0.1, 0.9) for _ in range(max(0, kills - 1)))
    plan = [("synth", share) for share in shares] + ([("after", rng.uniform(0.5, 6.0))] if kills else [])
    while True:
        runs += 1
        trigger = plan.pop(0) if plan else None
        state = {}

        def kill_when():
            ok = sum(1 for r in speech_records(api, began) if r["outcome"] == "ok")
            if trigger[0] == "synth":
                return ok >= trigger[1] * segments
            if ok >= segments and "synth_done" not in state:
                state["synth_done"] = time.monotonic()
            return "synth_done" in state and time.monotonic() - state["synth_done"] >= trigger[1]

        finished, _, main_peak = snakemake(work, mode, env, log, kill_when if trigger else None)
        peak = max(peak, main_peak)
        if finished:
            break
        finished_at_kill.append((time.monotonic(), cached_texts(work)))
        unlock(work, env, log)
    wall = time.monotonic() - began
    records = speech_records(api, began)
    outcomes = [r["outcome"] for r in records]
    resent = 0
    for killed_at, done in finished_at_kill:
        resent += sum(1 for r in records if r["t"] > killed_at and r["json"] and r["json"].get("input") in done)
    problems = check_audio(work, segments)
    tts = work / "results" / "lesson" / "tts"
    completed = sum(1 for i in range(1, segments + 1) if (tts / f"{i:04d}.wav").is_file())
    ok = outcomes.count("ok")
    return {
        "run": label, "mode": mode, "kills": len(finished_at_kill), "snakemake_runs": runs,
        "segments": segments, "completed": completed, "requests": len(records),
        "overhead_pct": round(100 * (len(records) - segments) / segments, 1), "ok": ok,
        "rate_limited_429": outcomes.count("429"), "server_500": outcomes.count("500"),
        "dropped": outcomes.count("drop"), "truncated": outcomes.count("truncate"),
        "retries": len(records) - ok, "answered_twice": ok - segments, "finished_then_resent": resent,
        "bad_audio": problems, "wall_s": round(wall, 1),
        "peak_mb": round(max(peak, job_peak_mb(work)), 1), "digests": audio_digests(work), "workdir": str(work),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=1000)
    parser.add_argument("--modes", default="async,per-segment")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workdirs")
    parser.add_argument("--out", default=str(REPO / "results" / "soak"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="soak-"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    video = root / "lesson.mp4"
    make_video(video, int(SLOT * args.segments + 2))
    rows = []
    with FakeAPI(key=KEY, seed=args.seed, **FAULTS) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
        env.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=api.openai_base_url)
        for mode in args.modes.split(","):
            for label, kills in ((f"{mode}", 0), (f"{mode}-killed", args.kills)):
                print(f"soak: {label} ({args.segments} segments) ...", flush=True)
                rows.append(soak_run(api, root, video, args.segments, mode, kills, rng, env, label))
                shutil.copy2(root / f"{label}.log", out / f"{label}.log")
    reference = rows[0]["digests"]
    failures = []
    for row in rows:
        row["same_audio_as_first_run"] = row["digests"] == reference
        if row["completed"] != row["segments"]:
            failures.append(f"{row['run']}: {row['completed']}/{row['segments']} segments")
        if row["bad_audio"]:
            failures.append(f"{row['run']}: {len(row['bad_audio'])} bad files, e.g. {row['bad_audio'][:3]}")
        if row["finished_then_resent"]:
            failures.append(f"{row['run']}: {row['finished_then_resent']} finished lines were requested again")
        if not row["same_audio_as_first_run"]:
            failures.append(f"{row['run']}: final audio differs from the first run's")
        if row["kills"] < args.kills and row["run"].endswith("-killed"):
            failures.append(f"{row['run']}: only {row['kills']} of {args.kills} kills landed before the run ended")
    columns = ("run", "kills", "completed", "requests", "overhead_pct", "rate_limited_429", "server_500", "dropped",
               "truncated", "retries", "answered_twice", "finished_then_resent", "wall_s", "peak_mb",
               "same_audio_as_first_run")
    print("\t".join(columns))
    for row in rows:
        print("\t".join(str(len(row[c]) if isinstance(row[c], list) else row[c]) for c in columns))
    print("bad or partial audio accepted:", sum(len(row["bad_audio"]) for row in rows))
    (out / "report.json").write_text(json.dumps({"faults": FAULTS, "seed": args.seed, "runs": rows}, indent=1) + "\n")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    if failures:
        print("SOAK FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"soak passed: {len(rows)} runs, every target met (report: {out / 'report.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
