"""Shared test helpers: an isolated copy of the workflow, real Snakemake runs, audio measurements."""

import collections
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from workflow_copy import make_workdir  # tools/workflow_copy.py: the one copy of the workflow to run in

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
MEDIA = REPO / "media"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def demo_lesson(root, lines, every, length, text):
    """A workdir with the demo video as lesson.mp4 and a script of ``lines`` lines, one every ``every`` s
    from 0.5 s, each ``length`` s long; ``text`` is formatted with the line number ``i``."""
    workdir = make_workdir(root, [(MEDIA / "demo.mp4", "lesson.mp4")])
    rows = "".join(f"{i:04d}\t{0.5 + every * (i - 1):.3f}\t{0.5 + length + every * (i - 1):.3f}\t{text.format(i=i)}\n"
                   for i in range(1, lines + 1))
    (workdir / "media" / "lesson.script.tsv").write_text("id\tstart\tend\ttext\n" + rows, encoding="utf-8")
    return workdir


def clean_env(**extra):
    """The environment for a workflow run: no real API keys or endpoints leak in from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
    env.update(extra)
    return env


def run_snakemake(workdir, *args, check=True, timeout=900, env=None):
    """Run the real Snakemake CLI in ``workdir``; returns the CompletedProcess (stdout+stderr merged)."""
    cmd = [SNAKEMAKE, "--cores", "2", *args]
    done = subprocess.run(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False, env=env if env is not None else clean_env())
    if check and done.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{done.stdout[-6000:]}")
    return done


def jobs_run(stdout):
    """How many jobs of each rule a Snakemake run's output shows (rule, localrule, checkpoint headers)."""
    return collections.Counter(re.findall(r"^\s*(?:local)?(?:rule|checkpoint) (\w+):$", stdout, re.M))


def decode(path, rate=16000, stream="a:0"):
    """Mono float samples in [-1, 1] of a media file's audio stream."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:{stream}",
                          "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4")


def frame_rms(samples, rate, frame=0.01):
    size = int(rate * frame)
    usable = samples.size - samples.size % size
    blocks = samples[:usable].reshape(-1, size)
    return np.sqrt(np.mean(blocks * blocks, axis=1))


def speech_onset(samples, rate, around, search=0.6, relative_db=-26.0):
    """Time of the first 10 ms frame within ``around`` ± ``search`` s louder than ``relative_db`` below the peak."""
    rms = frame_rms(samples, rate)
    threshold = rms.max() * 10 ** (relative_db / 20)
    first, last = max(0, int((around - search) * 100)), min(rms.size, int((around + search) * 100))
    loud = np.flatnonzero(rms[first:last] > threshold)
    return None if loud.size == 0 else (first + int(loud[0])) / 100


def ffprobe_duration(path, stream):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
                          "stream=duration", "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return float(out.strip().splitlines()[0])


def stream_md5(path, stream="v:0"):
    """MD5 of a stream's packets, copied without decoding: equal means bit-for-bit the same stream."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-c", "copy",
                          "-f", "md5", "-"], capture_output=True, text=True, check=True).stdout
    return out.strip()


API_KEY = "test-key-Zq8VxY3pLm2Kd9RtUw4Ns7Bf"  # long and unique, so a leak would be found


@pytest.fixture
def api():
    """The local fake OpenAI/ElevenLabs server (tools/fakeapi.py), started for one test."""
    from fakeapi import FakeAPI

    with FakeAPI(key=API_KEY) as server:
        yield server


def api_env(server, **extra):
    """Environment for a workflow run against ``server``, with the test key."""
    return clean_env(OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=server.openai_base_url, ELEVENLABS_API_KEY=API_KEY,
                     ELEVENLABS_BASE_URL=server.elevenlabs_base_url, **extra)


@pytest.fixture
def demo_workdir(tmp_path):
    return make_workdir(tmp_path / "wf", [(MEDIA / name, name) for name in
                                          ("demo.mp4", "demo.srt", "demo.script.tsv")])
