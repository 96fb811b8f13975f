"""Cloned voices (ElevenLabs instant voice cloning) through the real workflow against the local fake server.

The fake tells voices apart by pitch and makes a clone speak at the pitch of its sample
(tools/fakeapi.py, "Cloned voices"), so "each clone was made from that speaker's own audio" and "each
line was voiced with its speaker's clone" are both checked from what the server received.
"""

import csv
import subprocess
import sys

import pytest
from conftest import REPO, api_env, make_workdir, run_snakemake
from fakeapi import voice_f0
from test_diarize import DIARIZE, make_video

pytestmark = pytest.mark.e2e
TURNS = [("nova", 0.5), ("onyx", 4.5), ("nova", 8.5), ("onyx", 12.5)]  # A = nova's pitch, B = onyx's
CLONE = [*DIARIZE, "tts_backend=elevenlabs", "clone_voices=True"]


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def clone_requests(api):
    return [r for r in api.requests if r["path"] == "/v1/voices/add"]


def clones_tool(workdir, *args, env):
    return subprocess.run([sys.executable, str(REPO / "tools" / "clones.py"), *args, "--cache-dir", "cache"],
                          cwd=workdir, env=env, capture_output=True, text=True, check=True).stdout


def test_each_speaker_is_dubbed_in_a_clone_of_their_own_voice(api, tmp_path):
    workdir = make_workdir(tmp_path / "wf")
    make_video(workdir / "media" / "talk.mp4", TURNS, 16.5)
    env = api_env(api)
    run_snakemake(workdir, "results/talk/dubbed.mp4", *CLONE, env=env)
    results = workdir / "results" / "talk"
    rows = read_tsv(results / "script.tsv")
    assert [row["speaker"] for row in rows] == ["A", "B", "A", "B"]

    # Exactly one clone per speaker, each from that speaker's own audio (their pitch), tens of kilobytes.
    made = clone_requests(api)
    assert len(made) == 2
    pitch = {"A": voice_f0("nova"), "B": voice_f0("onyx")}
    clones = {}
    for request in made:
        speaker = request["json"]["name"].split()[2]
        assert abs(request["clone"]["pitch"] - pitch[speaker]) < 0.04 * pitch[speaker], request["clone"]
        assert request["json"]["files"][0]["bytes"] >= 50_000
        clones[speaker] = request["clone"]["voice_id"]
    voices = {row["speaker"]: (row["voice"], row["how"]) for row in read_tsv(results / "voices.tsv")}
    assert voices == {"A": (clones["A"], "clone"), "B": (clones["B"], "clone")}

    # Every line voiced with its speaker's clone.
    spoken = {r["json"]["text"]: r["path"].rsplit("/", 1)[-1] for r in api.requests
              if r["path"].startswith("/v1/text-to-speech/")}
    assert {row["text"]: clones[row["speaker"]] for row in rows}.items() <= spoken.items()

    # Other settings, the same speakers: nothing cloned again, nothing said again at the natural rate.
    run_snakemake(workdir, "results/talk/dubbed.mp4", *CLONE, "max_speedup=1.4", env=env)
    assert len(clone_requests(api)) == 2
    # Another video with the same speech: the same samples, the same clones.
    (workdir / "media" / "again.mp4").write_bytes((workdir / "media" / "talk.mp4").read_bytes())
    run_snakemake(workdir, "results/again/script.tsv", "results/again/segments.tsv", *CLONE, env=env)
    assert len(clone_requests(api)) == 2
    assert {row["voice"] for row in read_tsv(workdir / "results" / "again" / "voices.tsv")} == set(clones.values())

    # The clones the project made are listed, and deleted from the account on request.
    listed = clones_tool(workdir, "list", env=env)
    assert all(voice_id in listed for voice_id in clones.values()) and len(listed.splitlines()) == 2
    deleted = clones_tool(workdir, "delete", env=env)
    assert deleted.count("deleted ") == 2 and api.voices() == []
    assert "no cloned voices" in clones_tool(workdir, "list", env=env)


def test_cloning_with_a_voice_that_cannot_clone_stops_before_anything_runs(tmp_path):
    workdir = make_workdir(tmp_path / "wf")
    make_video(workdir / "media" / "talk.mp4", TURNS[:1], 4.5)
    done = run_snakemake(workdir, "results/talk/dubbed.mp4", "--config", "clone_voices=True", check=False)
    assert done.returncode != 0
    assert "clone_voices: voice cloning needs tts_backend elevenlabs (it is piper)" in done.stdout
    assert not (workdir / "results").exists()
