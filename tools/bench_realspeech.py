"""Timing on real recordings of people: dub each one offline and with a cloud-like voice, measure the result.

For each recording in ../shared/realspeech (a phone call, a speech, a stereo dialogue) and the
project's generated clips, a video is made (a grey picture over the recording) and dubbed end to end
by the real workflow: offline (faster-whisper + Piper) and with the local fake OpenAI voice (0.06 s
per character, like a cloud TTS). Everything is read from the measured sync (`sync_summary.json`,
found by cross-correlating each line in the finished dub track) and the timing table:
lines, overlaps, onset error (median, share within 0.25 s, worst), the largest speed-up, and
whether a second transcription gives the same script.

    make bench-realspeech                 # or: .venv/bin/python tools/bench_realspeech.py
"""

import argparse
import csv
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workflow_copy import REPO, make_workdir

sys.path.insert(0, str(REPO / "tests"))
from conftest import API_KEY, SNAKEMAKE, api_env, clean_env  # noqa: E402  (the test suite's run helpers)

REALSPEECH = REPO.parent / "shared" / "realspeech"
RECORDINGS = [
    ("call", REALSPEECH / "pyannote_sample.flac"),
    ("speech", REALSPEECH / "jfk.flac"),
    ("dialogue", REALSPEECH / "stereo_diarization.flac"),
    ("english", REPO / "tests" / "data" / "english.mp4"),
]


def make_video(audio, dest):
    """A small video of a grey picture with ``audio`` as its sound (the recording untouched, as AAC)."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x240:r=25",
                    "-i", str(audio), "-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "aac", "-b:a", "192k", str(dest)], check=True)


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def measure(workdir, name):
    results = workdir / "results" / name
    summary = json.loads((results / "sync_summary.json").read_text())
    with open(results / "timing.tsv", encoding="utf-8", newline="") as handle:
        timing = list(csv.DictReader(handle, delimiter="\t"))
    return {
        "lines": summary["segments"],
        "overlaps": summary["overlaps"],
        "missing": summary["missing"],
        "median": summary["median_onset_error"],
        "within_0_25": summary["within_0_25"],
        "worst": summary["worst_onset_error"],
        "max_speedup": max(float(row["speedup"]) for row in timing),
        "voiced_faster": sum(float(row["voice_rate"]) > 1.0 for row in timing),
        "moved": sum(abs(float(row["displacement"])) > 0.0005 for row in timing),
    }


def run_snakemake_cli(workdir, *args, env=None):
    done = subprocess.run([SNAKEMAKE, "--cores", "2", *args], cwd=workdir, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False, env=env or clean_env())
    if done.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{done.stdout[-4000:]}")


def dub(workdir, name, config, env=None):
    started = time.monotonic()
    run_snakemake_cli(workdir, f"results/{name}/dubbed.mp4", "--config", *config, env=env)
    return time.monotonic() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    args = parser.parse_args(argv)
    from fakeapi import FakeAPI

    root = Path(tempfile.mkdtemp(prefix="realspeech-"))
    rows = []
    with FakeAPI(key=API_KEY) as api:
        for name, audio in RECORDINGS:
            video = root / f"{name}.mp4"
            if audio.suffix == ".mp4":
                shutil.copy(audio, video)
            else:
                make_video(audio, video)
            offline = make_workdir(root / f"{name}-offline", [(video, f"{name}.mp4")])
            seconds = dub(offline, name, ["tts_backend=piper"])
            script = digest(offline / "results" / name / "script.tsv")
            # The same audio transcribed again from scratch: the script must be the same file.
            again = make_workdir(root / f"{name}-again", [(video, f"{name}.mp4")])
            run_snakemake_cli(again, f"results/{name}/script.tsv")
            same = digest(again / "results" / name / "script.tsv") == script
            rows.append({"recording": name, "voice": "piper", "seconds": round(seconds, 1), "same_script": same,
                         **measure(offline, name)})
            cloud = make_workdir(root / f"{name}-cloud", [(video, f"{name}.mp4")])
            # The same transcript (no second recognition): only the recognizer's outputs are copied.
            (cloud / "results" / name).mkdir(parents=True)
            shutil.copytree(offline / "results" / name / "audio", cloud / "results" / name / "audio")
            shutil.copy2(offline / "results" / name / "transcript.json", cloud / "results" / name)
            env = api_env(api)
            seconds = dub(cloud, name, ["tts_backend=openai"], env=env)
            rows.append({"recording": name, "voice": "openai (fake, 0.06 s/char)", "seconds": round(seconds, 1),
                         "same_script": same, **measure(cloud, name)})
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"work folders kept in {root}")


if __name__ == "__main__":
    main()
