"""On a real Slurm cluster (one node, this machine): the demo dubbed through profiles/slurm is the
same as a local run, and the global `api` cap still holds when the jobs are Slurm jobs.

Needs the plugin extra (`make setup-slurm` -> .venv-slurm) and a running cluster
(`tools/ci/slurm_up.sh`, as root). Without them the tests skip and say why; with
REQUIRE_SLURM=1 (set by .ci/run) they fail instead, so CI cannot pass without running them.
"""

import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    API_KEY, MEDIA, REPO, api_env, clean_env, decode, demo_lesson, make_workdir, run_snakemake, stream_md5,
)

SLURM_SNAKEMAKE = Path(os.environ.get("DUBBING_SLURM_VENV", REPO / ".venv-slurm")) / "bin" / "snakemake"
# The profile polls Slurm every 20 s at first (polite to a real controller); here jobs take
# seconds, so poll sooner. Everything else comes from the profile as a user would run it.
FAST_POLL = ("--slurm-init-seconds-before-status-checks", "2")
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/")
LOCAL_RULES = {"probe", "segments", "synth_index", "plan", "subtitles", "place", "account_words"}  # the Snakefile's localrules
RUN_STATE = ("results", "logs", "benchmarks", ".snakemake")  # what a run leaves besides cache/


def _output(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def cluster_problem():
    """Why the Slurm tests cannot run here, or None."""
    if not SLURM_SNAKEMAKE.exists():
        return f"the Slurm extra is not installed ({SLURM_SNAKEMAKE} missing; run `make setup-slurm`)"
    missing = [tool for tool in ("sbatch", "squeue", "scontrol", "sinfo") if shutil.which(tool) is None]
    if missing:
        return f"Slurm is not installed ({', '.join(missing)} missing; tools/ci/slurm_up.sh sets up a one-node cluster)"
    if "UP" not in _output("scontrol", "ping"):
        return "slurmctld is not running (start it with tools/ci/slurm_up.sh)"
    states = _output("sinfo", "-h", "-o", "%T").split()
    if not any(state.rstrip("*~#").startswith(("idle", "mixed", "allocated")) for state in states):
        return f"no Slurm node takes jobs (sinfo: {' '.join(states) or 'nothing'})"
    return None


@pytest.fixture(scope="module")
def slurm():
    problem = cluster_problem()
    if problem:
        if os.environ.get("REQUIRE_SLURM") == "1":
            pytest.fail(f"REQUIRE_SLURM=1 but {problem}")
        pytest.skip(problem)


def run_on_slurm(workdir, *args, env=None, timeout=1200):
    """`snakemake --profile profiles/slurm ...` with the plugin's venv; returns its log (stdout+stderr)."""
    cmd = [str(SLURM_SNAKEMAKE), "--profile", "profiles/slurm", *FAST_POLL, *args]
    done = subprocess.run(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False, env=env if env is not None else clean_env())
    if done.returncode != 0:
        pytest.fail(f"snakemake --profile profiles/slurm {' '.join(args)} failed:\n{done.stdout[-8000:]}")
    return done.stdout


def slurm_jobs(log):
    """Slurm job id -> rule name, for every job the Snakemake log says it submitted."""
    return {slurm_id: rule for _, slurm_id, rule in SUBMITTED.findall(log)}


def job_record(slurm_id):
    """`scontrol show job` as a dict (the controller keeps finished jobs for MinJobAge)."""
    text = _output("scontrol", "show", "job", "-o", slurm_id)
    return dict(re.findall(r"(\w+)=(\S*)", text))


def controller_log():
    config = _output("scontrol", "show", "config")
    match = re.search(r"^SlurmctldLogFile\s*=\s*(\S+)", config, re.M)
    path = Path(match.group(1)) if match else None
    return path.read_text(errors="replace") if path and path.is_file() else None


def run_times(log_text, slurm_id):
    """(allocated, completed) datetimes of a job, from slurmctld's log (millisecond stamps)."""
    def stamp(pattern):
        match = re.search(r"^\[([\d\-T:.]+)\] " + pattern, log_text, re.M)
        return datetime.fromisoformat(match.group(1)) if match else None
    started = stamp(rf"sched: Allocate JobId={slurm_id} ") or stamp(rf"sched/backfill: _start_job: Started JobId={slurm_id} ")
    return started, stamp(rf"_job_complete: JobId={slurm_id} done")


def pins(filename):
    found = {}
    for line in (REPO / filename).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#\\]+)", line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_the_slurm_lock_is_the_main_lock_plus_the_plugin():
    """.venv-slurm layers requirements-slurm.lock over .venv: every shared pin must agree."""
    main, slurm = pins("requirements.lock"), pins("requirements-slurm.lock")
    assert {name: slurm.get(name) for name in main} == main  # regenerate with `make lock-slurm`
    for line in (REPO / "requirements-slurm.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==")
            assert slurm[name.lower()] == version, name
    assert (REPO / "requirements-slurm.lock").read_text().count("--hash=sha256:") >= len(slurm)


@pytest.mark.slurm
@pytest.mark.e2e
def test_demo_dubbed_on_slurm_matches_a_local_run(slurm, tmp_path):
    media = [(MEDIA / name, name) for name in ("demo.mp4", "demo.srt", "demo.script.tsv")]
    on_slurm = make_workdir(tmp_path / "slurm", media)
    log = run_on_slurm(on_slurm, "results/demo/dubbed.mp4")

    # Every job that is not a local rule went through Slurm, with a Slurm job id; the short ones
    # ran on the submit host.
    jobs = slurm_jobs(log)
    headers = re.findall(r"^(rule|checkpoint|localrule|localcheckpoint) (\w+):$", log, re.M)
    remote = sorted(name for kind, name in headers if not kind.startswith("local"))
    assert sorted(jobs.values()) == remote, (jobs, remote)
    assert {"extract_audio", "timeline", "mix", "mux"} <= set(remote) and {"synth", "synth_batch"} & set(remote)
    local = {name for kind, name in headers if kind.startswith("local")}
    assert {"probe", "segments", "synth_index"} <= local <= LOCAL_RULES, local
    # ...and Slurm itself ran them: each finished in this workdir under the run's job name, and
    # slurmctld's log has its submission and completion.
    run_name = re.search(r"SLURM run ID: (\S+)", log).group(1)
    controller = controller_log()
    for slurm_id, rule in jobs.items():
        record = job_record(slurm_id)
        assert record.get("JobState") == "COMPLETED", (slurm_id, rule, record)
        assert record.get("JobName") == run_name and record.get("WorkDir") == str(on_slurm)
        assert record.get("Comment", "").startswith(f"rule_{rule}")
        if controller is not None:
            assert f"_slurm_rpc_submit_batch_job: JobId={slurm_id} " in controller
            assert f"_job_complete: JobId={slurm_id} done" in controller
    assert set(_output("squeue", "--states=all", "-h", "--name", run_name, "-o", "%i").split()) == set(jobs)

    # Piper ran inside the Slurm jobs (nothing was cached yet).
    slurm_results = on_slurm / "results" / "demo"
    assert {row.split("\t")[2] for row in (slurm_results / "synth.tsv").read_text().splitlines()[1:]} == {"offline"}

    # A copy of the same workdir (same code, same media) run locally, with the cache the Slurm
    # jobs filled (Piper samples its noise, so fresh speech differs from run to run): every later
    # step must give the same bytes or samples as under Slurm.
    local = tmp_path / "local"
    shutil.copytree(on_slurm, local, ignore=lambda folder, names: RUN_STATE if Path(folder) == on_slurm else ())
    run_snakemake(local, "results/demo/dubbed.mp4")
    local_results = local / "results" / "demo"
    assert {row.split("\t")[2] for row in (local_results / "synth.tsv").read_text().splitlines()[1:]} == {"cache"}

    same_bytes = ["dub.wav", "sync.tsv", "sync_summary.json", "timing.tsv", "dubbed.srt", "segments.tsv"]
    same_bytes += [f"{kind}/{n:04d}.wav" for kind in ("tts", "fit") for n in range(1, 7)]
    for name in same_bytes:
        assert (slurm_results / name).read_bytes() == (local_results / name).read_bytes(), name
    assert np.array_equal(decode(slurm_results / "mix.flac"), decode(local_results / "mix.flac"))
    assert np.array_equal(decode(slurm_results / "dubbed.mp4"), decode(local_results / "dubbed.mp4"))
    assert stream_md5(slurm_results / "dubbed.mp4", "v:0") == stream_md5(local_results / "dubbed.mp4", "v:0")
    assert stream_md5(slurm_results / "dubbed.mp4", "s:0") == stream_md5(local_results / "dubbed.mp4", "s:0")


def lesson(tmp_path, name, lines):
    return demo_lesson(tmp_path / name, lines, 1.5, 1.3, "Line {i} of the cluster lesson.")


def synth_intervals(log):
    controller = controller_log()
    assert controller is not None, "slurmctld's log is needed to time the jobs"
    intervals = [run_times(controller, slurm_id) for slurm_id, rule in slurm_jobs(log).items() if rule == "synth"]
    assert intervals and all(start and end for start, end in intervals), intervals
    return sorted(intervals)


@pytest.mark.slurm
@pytest.mark.e2e
def test_the_api_cap_holds_for_slurm_jobs(slurm, api, tmp_path):
    """Cloud synthesis jobs on Slurm: the node runs two at once, but max_concurrent=1 lets one out at a time."""
    api.configure(latency=3.0)

    # Without the cap binding (two slots), Slurm runs synthesis jobs side by side...
    workdir = lesson(tmp_path, "two", 4)
    log = run_on_slurm(workdir, "results/lesson/synth.tsv", "--config", "tts_backend=openai", "synth_mode=per-segment",
                       "max_concurrent=2",
                       env=api_env(api))
    speech = [r for r in api.requests if r["path"] == "/v1/audio/speech"]
    assert len(speech) == 4 and api.max_in_flight == 2
    intervals = synth_intervals(log)
    assert any(b[0] < a[1] for a, b in zip(intervals, intervals[1:])), intervals  # some overlap

    # ...with max_concurrent=1 the main Snakemake process holds the single `api` slot across the
    # Slurm jobs: one request in flight, one synthesis job at a time.
    api.max_in_flight = 0
    workdir = lesson(tmp_path, "one", 4)
    log = run_on_slurm(workdir, "results/lesson/synth.tsv", "--config", "tts_backend=openai", "synth_mode=per-segment",
                       "max_concurrent=1", "tts_voice=nova", env=api_env(api))
    speech = [r for r in api.requests if r["path"] == "/v1/audio/speech"]
    assert len(speech) == 8 and all(r["outcome"] == "ok" for r in speech)
    assert api.max_in_flight == 1
    assert sorted(slurm_jobs(log).values()) == ["synth"] * 4
    intervals = synth_intervals(log)
    assert all(b[0] >= a[1] for a, b in zip(intervals, intervals[1:])), intervals  # never overlapping
    assert API_KEY not in log
