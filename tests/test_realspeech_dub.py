"""Dubbing real recordings of people, judged from the finished audio (tests/data/realspeech, see its README).

The phone call is fast, conversational and has two speakers. It is re-voiced end to end by the real
workflow: transcribed offline (tiny.en), voiced by Piper and by a cloud voice (the local fake
OpenAI server, 0.06 s per character like a cloud TTS), fitted, placed and mixed. What a viewer would
notice is read from the measured sync (each line found in the dub track by cross-correlation).
"""

import csv
import json
import subprocess

import pytest
from conftest import DATA, api_env, decode, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e
CALL = DATA / "realspeech" / "pyannote_sample.flac"
STM = DATA / "realspeech" / "pyannote_sample.stm"
RATE = 16000


def call_video(tmp_path):
    video = tmp_path / "call.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=160x120:r=10",
                    "-i", str(CALL), "-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "aac", "-b:a", "128k", str(video)], check=True)
    return video


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def assert_dub_in_sync(workdir, targets=True):
    results = workdir / "results" / "call"
    summary = json.loads((results / "sync_summary.json").read_text())
    timing = read_tsv(results / "timing.tsv")
    sync = read_tsv(results / "sync.tsv")
    # Never two voices at once, every line found where it was placed, none past max_speedup.
    assert summary["overlaps"] == 0 and summary["missing"] == 0, summary
    assert all(float(row["overlap"]) == 0 for row in sync)
    assert all(abs(float(row["measured_start"]) - float(row["placed_start"])) <= 0.01 for row in sync)
    assert all(float(row["speedup"]) <= 1.25 * 1.004 for row in timing)
    for before, after in zip(timing, timing[1:]):
        assert float(before["end"]) <= float(after["start"]) + 0.001
    if targets:
        # The targets for lines voiced at ~0.06 s per character.
        onsets = sorted(abs(float(row["onset_error"])) for row in sync)
        assert sum(onset <= 0.25 for onset in onsets) >= 0.9 * len(onsets), onsets
        assert onsets[-1] <= 0.6 and onsets[len(onsets) // 2] <= 0.05, onsets
    # The dub track is silent wherever no line was placed (nothing leaks in between).
    dub = decode(results / "dub.wav", RATE)
    for before, after in zip(timing, timing[1:]):
        gap = dub[int((float(before["end"]) + 0.02) * RATE): int((float(after["start"]) - 0.02) * RATE)]
        assert gap.size == 0 or abs(gap).max() < 1e-3
    return summary, timing


def test_a_real_phone_call_is_dubbed_in_sync_offline_and_with_a_cloud_voice(api, tmp_path):
    video = call_video(tmp_path)
    offline = make_workdir(tmp_path / "offline", [(video, "call.mp4")])
    run_snakemake(offline, "results/call/dubbed.mp4")
    summary, timing = assert_dub_in_sync(offline)
    assert 9 <= summary["segments"] <= 13  # sentence-like lines, not fragments
    script = (offline / "results" / "call" / "script.tsv").read_bytes()

    cloud = make_workdir(tmp_path / "cloud", [(video, "call.mp4")])
    run_snakemake(cloud, "results/call/dubbed.mp4", "--config", "tts_backend=openai", env=api_env(api))
    assert (cloud / "results" / "call" / "script.tsv").read_bytes() == script  # the same transcript
    summary, timing = assert_dub_in_sync(cloud)
    assert any(float(row["voice_rate"]) > 1.0 for row in timing)  # this call is fast: voices had to hurry


def test_a_users_script_of_the_call_is_placed_without_overlap_and_never_rewritten(api, tmp_path):
    # The human transcript, line by line as a person cut it (13 short lines, two speakers).
    video = call_video(tmp_path)
    workdir = make_workdir(tmp_path / "wf", [(video, "call.mp4")])
    rows = [line.split(None, 5) for line in STM.read_text(encoding="utf-8").splitlines()]
    script = "id\tstart\tend\tspeaker\ttext\n" + "".join(
        f"{i + 1:04d}\t{r[3]}\t{r[4]}\t{r[2]}\t{r[5]}\n" for i, r in enumerate(rows))
    (workdir / "media" / "call.script.tsv").write_text(script, encoding="utf-8")
    run_snakemake(workdir, "results/call/dubbed.mp4", "--config", "tts_backend=openai", "translate_backend=openai",
                  env=api_env(api))
    _summary, timing = assert_dub_in_sync(workdir, targets=False)
    assert [row["text"] for row in timing] == [r[5] for r in rows]  # the user's words, untouched
    assert (workdir / "media" / "call.script.tsv").read_text(encoding="utf-8") == script
    # Too dense for its slots at a cloud voice's pace: lines moved, and the moves are bounded.
    assert any(abs(float(row["displacement"])) > 0.05 for row in timing)
    assert all(-0.5 - 0.001 <= float(row["displacement"]) <= 1.0 for row in timing)
