"""Concurrent synthesis: both modes against the local server; limits as the server sees them."""

import asyncio
import json
import re
import shutil
import subprocess

import pytest
from conftest import MEDIA, REPO, api_env, clean_env, demo_lesson, make_workdir, run_snakemake

from dubbing.flow import AdaptiveLimit

pytestmark = pytest.mark.e2e


def lesson(tmp_path, lines, name="wf"):
    """The demo video with a script of ``lines`` short lines, one every 1.2 s."""
    return demo_lesson(tmp_path / name, lines, 1.2, 0.8, "Line number {i} of the lesson.")


def speech(api):
    return [r for r in api.requests if r["path"] == "/v1/audio/speech"]


def test_async_mode_never_exceeds_max_concurrent(api, tmp_path):
    workdir = lesson(tmp_path, 12)
    api.configure(latency=0.4)
    done = run_snakemake(workdir, "results/lesson/synth.tsv", "--config", "tts_backend=openai", "synth_mode=async",
                         "max_concurrent=3", env=api_env(api))
    assert api.max_in_flight == 3  # reached, never passed
    assert len(speech(api)) == 12 and all(r["outcome"] == "ok" for r in speech(api))
    # The live progress bar and the summary reach the terminal.
    assert "synthesizing" in done.stdout and "12/12" in done.stdout
    assert "12 segments in" in done.stdout and "12 requests, 0 retries" in done.stdout


def test_per_segment_jobs_send_at_most_max_concurrent_whatever_the_cores(api, tmp_path):
    workdir = lesson(tmp_path, 8)
    api.configure(latency=0.8)
    run_snakemake(workdir, "--cores", "8", "results/lesson/synth.tsv", "--config", "tts_backend=openai",
                  "max_concurrent=2", env=api_env(api))
    assert len(speech(api)) == 8 and api.max_in_flight == 2


def test_async_mode_paces_requests_under_the_requests_per_minute_cap(api, tmp_path):
    workdir = lesson(tmp_path, 8)
    api.configure(rpm=120)
    run_snakemake(workdir, "results/lesson/synth.tsv", "--config", "tts_backend=openai", "synth_mode=async",
                  "requests_per_minute=120", env=api_env(api))
    requests = speech(api)
    assert [r["outcome"] for r in requests] == ["ok"] * 8
    # Evenly spaced at 60/120 s as they reach the server, never a burst: 7 gaps of 0.5 s on average
    # (a little scheduling jitter on a loaded machine moves single arrivals, not the average).
    arrivals = sorted(r["t"] for r in requests)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert min(gaps) >= 0.3 and arrivals[-1] - arrivals[0] >= 7 * 0.5 * 0.97, gaps


def test_per_segment_jobs_keep_the_requests_per_minute_cap_together(api, tmp_path):
    # Separate processes, up to 4 at once: each request waits for the one any job sent last.
    workdir = lesson(tmp_path, 6)
    api.configure(rpm=120)
    run_snakemake(workdir, "--cores", "4", "results/lesson/synth.tsv", "--config", "tts_backend=openai",
                  "synth_mode=per-segment", "max_concurrent=4", "requests_per_minute=120", env=api_env(api))
    requests = speech(api)
    assert [r["outcome"] for r in requests] == ["ok"] * 6  # the server's own cap never answered 429
    arrivals = sorted(r["t"] for r in requests)
    assert arrivals[-1] - arrivals[0] >= 5 * 0.5 * 0.97, arrivals


def test_a_429_storm_lowers_concurrency_and_it_recovers(api, tmp_path):
    workdir = lesson(tmp_path, 20)
    api.configure(latency=0.3, max_concurrent=2)  # the account allows 2 at once; we ask for 8
    done = run_snakemake(workdir, "results/lesson/synth.tsv", "--config", "tts_backend=openai", "synth_mode=async",
                         "max_concurrent=8", env=api_env(api))
    log = (workdir / "logs" / "lesson" / "synth_async.log").read_text()
    assert "concurrency 8 -> 4 (rate limited)" in log and "-> 2 (rate limited)" in log
    rejected = sum(r["outcome"] == "429" for r in speech(api))
    assert sum(r["outcome"] == "ok" for r in speech(api)) == 20
    # Without back-off every round would send 6 requests too many (about 60 429s for 20 lines).
    assert rejected < 20, rejected
    assert "20 segments in" in done.stdout


def test_both_modes_make_identical_audio_and_switching_sends_nothing(api, tmp_path):
    env = api_env(api)
    per_segment, batch = lesson(tmp_path, 5, "a"), lesson(tmp_path, 5, "b")
    run_snakemake(per_segment, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", env=env)
    first = sorted((r["json"]["input"], r["json"]["speed"]) for r in speech(api))
    api.reset()
    run_snakemake(batch, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", "synth_mode=async", env=env)
    # Each line once, at the speed its slot needs (rates.py), the same requests in each mode.
    assert sorted((r["json"]["input"], r["json"]["speed"]) for r in speech(api)) == first and len(first) == 5
    for wav in sorted((per_segment / "results" / "lesson" / "tts").glob("*.wav")):
        assert wav.read_bytes() == (batch / "results" / "lesson" / "tts" / wav.name).read_bytes()
    api.reset()
    mixed = (per_segment / "results" / "lesson" / "mix.flac").read_bytes()
    run_snakemake(per_segment, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", "synth_mode=async",
                  env=env)
    run_snakemake(batch, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", env=env)
    assert speech(api) == []
    # The batch checked every line (its record is what the fit now depends on), refitted none, and the dub is
    # the same to the byte.
    assert " 0 fitted, 5 unchanged" in (per_segment / "logs" / "lesson" / "fit.log").read_text()
    assert (per_segment / "results" / "lesson" / "mix.flac").read_bytes() == mixed


def test_adaptive_limit_halves_once_per_burst_and_grows_back():
    async def scenario():
        limit = AdaptiveLimit(8)
        epochs = [await limit.acquire() for _ in range(8)]
        for epoch in epochs[:4]:  # four 429s from the same burst: one decrease
            await limit.release(epoch, "rate_limited")
        assert limit.allowed == 4 and limit.decreases == 1
        for epoch in epochs[4:]:
            await limit.release(epoch, "ok")
        for _ in range(40):
            await limit.release(await limit.acquire(), "ok")
        return limit

    limit = asyncio.run(scenario())
    assert limit.allowed == 8  # back to the ceiling after enough successes


def test_seed_make_commands_work(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / name, name) for name in ("demo.mp4", "demo.script.tsv")])
    make = ["make", f"VENV={REPO / '.venv'}", "CORES=2"]

    def run(*args):
        done = subprocess.run(make + list(args), cwd=workdir, capture_output=True, text=True, env=clean_env(),
                              timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout + done.stderr

    run("synth-async", "VIDEO=media/demo.mp4")
    assert (workdir / "results" / "demo" / "synth.tsv").is_file()
    out = run("full-async", "VIDEO=media/demo.mp4", "MAX_CONCURRENT=4")
    assert (workdir / "results" / "demo" / "dubbed.mp4").is_file() and "max_concurrent=4" in out
    out = run("debug-synth-async", "VIDEO=media/demo.mp4")
    assert "max_concurrent=3" in out and "--- logs/demo/synth_async.log" in out
    assert "6 segments in" in (workdir / "logs" / "demo" / "synth_async.log").read_text()
    (workdir / ".env").write_text("MAX_CONCURRENT=7\n")
    assert "max_concurrent=7" in run("full-async", "VIDEO=media/demo.mp4")
    out = run("show-logs", "WORKDIR=results/demo")
    assert "=== logs/demo/mux_mp4.log" in out
    out = run("full", "VIDEO=media/demo.mp4")
    assert "synth_mode=per-segment max_concurrent=1" in out


def test_two_videos_share_one_budget_of_requests_in_flight_and_per_minute(api, tmp_path):
    # Before: each video's async batch had max_concurrent requests in flight of its own (4 with 2).
    workdir = lesson(tmp_path, 6)
    media = workdir / "media"
    shutil.copy2(media / "lesson.mp4", media / "other.mp4")
    (media / "other.script.tsv").write_text(
        (media / "lesson.script.tsv").read_text(encoding="utf-8").replace("Line number", "Other line"),
        encoding="utf-8")
    api.configure(latency=0.6)
    run_snakemake(workdir, "results/lesson/synth.tsv", "results/other/synth.tsv", "--config", "tts_backend=openai",
                  "synth_mode=async", "max_concurrent=2", "requests_per_minute=100", env=api_env(api))
    requests = speech(api)
    assert len(requests) == 12 and {r["json"]["input"].split(" ")[0] for r in requests} == {"Line", "Other"}
    assert api.max_in_flight <= 2
    # 100 per minute: 0.6 s apart on average over both videos, never a burst between them.
    arrivals = sorted(r["t"] for r in requests)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert min(gaps) >= 0.4 and arrivals[-1] - arrivals[0] >= 11 * 0.6 * 0.97, gaps


def test_a_fit_holds_api_slots_only_when_it_will_send(api, tmp_path):
    # The fit rule's `api` resource is the whole pool only when the fit will send (fit.will_send), so one video's
    # fit never waits for another video's synthesis when it has nothing to send. Snakemake prints what it holds.
    workdir = lesson(tmp_path, 6)
    config = ["--config", "tts_backend=openai", "max_concurrent=2"]
    run_snakemake(workdir, "results/lesson/timing.tsv", *config, env=api_env(api))
    fit_table = workdir / "results" / "lesson" / "fit.tsv"
    fit_table.unlink()
    api.reset()
    again = run_snakemake(workdir, "results/lesson/fit.tsv", *config, env=api_env(api))
    assert speech(api) == []
    assert re.search(r"rule fit:.*?resources: [^\n]*\bapi=0\b", again.stdout, re.S), again.stdout
    # Voices 30 % slower than predicted (a fresh cache): the first voicings are too slow. Synthesis voiced them
    # faster at once (ahead.py); with those voicings gone from the cache (pruned, say), the fit must voice the
    # lines again, and it holds the pool while it does.
    workdir = demo_lesson(tmp_path / "slow", 6, 2.1, 1.8, "Line number {i} of the lesson.")  # fit at 1.0, predicted
    api.configure(voice_pace=1.3)
    run_snakemake(workdir, "results/lesson/synth.tsv", *config, env=api_env(api))
    faster = [meta for meta in (workdir / "cache" / "tts").glob("*/*.json")
              if json.loads(meta.read_text())["speed"] != 1.0]
    assert faster  # made in the synthesis pass
    for meta in faster:
        meta.with_suffix(".wav").unlink()
    api.reset()
    sends = run_snakemake(workdir, "results/lesson/fit.tsv", *config, env=api_env(api))
    assert re.search(r"rule fit:.*?resources: [^\n]*\bapi=2\b", sends.stdout, re.S), sends.stdout
    assert speech(api)  # the fit's own requests
