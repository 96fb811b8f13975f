"""End to end: the real workflow dubs the bundled demo and an English clip through Snakemake."""

import csv
import json

import numpy as np
import pytest
from conftest import (DATA, MEDIA, decode, jobs_run, ffprobe_duration, frame_rms, make_workdir, run_snakemake, speech_onset,
                      stream_md5)

pytestmark = pytest.mark.e2e
RATE = 16000


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_demo_is_dubbed_in_sync_over_the_lowered_original(demo_workdir):
    run_snakemake(demo_workdir, "results/demo/dubbed.mp4")
    results = demo_workdir / "results" / "demo"
    dubbed, source = results / "dubbed.mp4", demo_workdir / "media" / "demo.mp4"
    script = read_tsv(demo_workdir / "media" / "demo.script.tsv")

    # The picture is the original stream, bit for bit.
    assert stream_md5(dubbed, "v:0") == stream_md5(source, "v:0")
    # The new audio is as long as the source's.
    assert abs(ffprobe_duration(dubbed, "a:0") - ffprobe_duration(source, "a:0")) <= 0.05
    # The dub track itself is exactly as long as the source audio.
    assert abs(decode(results / "dub.wav", RATE).size - decode(results / "audio" / "source.wav", RATE).size) <= 1

    # Every English line starts where the script says (measured on the dub track).
    dub = decode(results / "dub.wav", RATE)
    for row in script:
        onset = speech_onset(dub, RATE, float(row["start"]))
        assert onset is not None and abs(onset - float(row["start"])) <= 0.08, (row["id"], onset)

    # The original is still there, lowered: the quiet bed between lines survives in duck mode.
    mixed = frame_rms(decode(dubbed, RATE), RATE)
    original = frame_rms(decode(source, RATE), RATE)
    gap = slice(30, 80)  # 0.3-0.8 s: only the background bed plays
    assert mixed[gap].mean() > 0.3 * original[gap].mean()

    # Subtitles: a soft track in the MP4 and a .srt beside it, one cue per line, in English.
    srt = (results / "dubbed.srt").read_text(encoding="utf-8")
    assert srt.count(" --> ") == len(script) and script[0]["text"] in srt
    assert ffprobe_duration(dubbed, "s:0") > 0

    # The timing table has every segment, with its stretch and overflow.
    timing = read_tsv(results / "timing.tsv")
    assert [row["id"] for row in timing] == [row["id"] for row in script]
    assert all(1.0 <= float(row["stretch"]) <= 1.25 for row in timing)

    # Replacing the original instead of ducking it: speech is measured on the final muxed audio,
    # where nothing else can mask a misplaced line; only mix, mux and the summary page (it names the mode) re-run.
    rerun = run_snakemake(demo_workdir, "results/demo/dubbed.mp4", "--config", "mix_mode=replace")
    assert set(jobs_run(rerun.stdout)) == {"mix", "mux", "report_pieces"}
    final = decode(dubbed, RATE)
    for row in script:
        onset = speech_onset(final, RATE, float(row["start"]))
        assert onset is not None and abs(onset - float(row["start"])) <= 0.08, (row["id"], onset)
    assert frame_rms(final, RATE)[gap].mean() < 0.1 * original[gap].mean()  # no original left
    assert stream_md5(dubbed, "v:0") == stream_md5(source, "v:0")


def test_nothing_reruns_when_nothing_changed(demo_workdir):
    run_snakemake(demo_workdir, "results/demo/dubbed.mp4")
    dry = run_snakemake(demo_workdir, "-n", "results/demo/dubbed.mp4")
    assert "Nothing to be done" in dry.stdout


def test_english_clip_is_transcribed_offline_and_dubbed(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(DATA / "english.mp4", "english.mp4")])
    run_snakemake(workdir, "results/english/dubbed.mp4")
    expected = json.loads((DATA / "english.expected.json").read_text())
    transcript = json.loads((workdir / "results" / "english" / "transcript.json").read_text())
    assert transcript["backend"] == "faster-whisper"
    text = " ".join(seg["text"] for seg in transcript["segments"]).lower()
    # espeak through tiny.en; "one hundred" is heard as either spelling
    assert "fox" in text and "lazy" in text and ("hundred degrees" in text or "100 degrees" in text)
    rows = read_tsv(workdir / "results" / "english" / "script.tsv")
    assert [row["id"] for row in rows] == [f"{i:04d}" for i in range(1, len(rows) + 1)]
    # Recognized lines start when the speaker does (Whisper alone said 0.0 for the first one).
    assert len(rows) == len(expected)
    for row, line in zip(rows, expected):
        assert abs(float(row["start"]) - line["start"]) <= 0.1, (row, line)
    dub = decode(workdir / "results" / "english" / "dub.wav", RATE)
    for row in rows:
        onset = speech_onset(dub, RATE, float(row["start"]))
        assert onset is not None and abs(onset - float(row["start"])) <= 0.08


def test_long_lines_are_voiced_faster_within_max_speedup_and_moved_apart_never_overlapping(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    rows = [
        ("0001", 1.0, 2.0, "Water covers almost three quarters of the surface of our planet."),  # ~3.2 s in 2.9 s
        ("0002", 4.0, 5.0, "Most of that water is salty, and only a tiny part of it is fresh water we can drink."),
        ("0003", 6.0, 7.0, "The sun heats it."),
    ]
    (workdir / "media" / "lesson.script.tsv").write_text(
        "id\tstart\tend\ttext\n" + "".join(f"{i}\t{s}\t{e}\t{t}\n" for i, s, e, t in rows), encoding="utf-8")
    run_snakemake(workdir, "results/lesson/dubbed.mp4")
    results = workdir / "results" / "lesson"
    timing = read_tsv(results / "timing.tsv")
    speedup = {row["id"]: float(row["speedup"]) for row in timing}
    # Too long for their windows: the voice itself speaks faster (Piper re-voiced them), never past 1.25x.
    assert all(value <= 1.25 + 0.005 for value in speedup.values()), speedup
    for seg_id in ("0001", "0002"):
        assert (results / "paced" / f"{seg_id}.wav").is_file()
        assert float(next(r for r in timing if r["id"] == seg_id)["voice_rate"]) > 1.1
    assert speedup["0002"] == pytest.approx(1.25, abs=0.005)  # 4.5 s of speech for 1.9 s: capped
    assert not (results / "paced" / "0003.wav").exists() and speedup["0003"] == 1.0
    # 0002 cannot fit even at 1.25x: lines move apart instead of overlapping, as little as they must.
    starts = [float(row["start"]) for row in timing]
    ends = [float(row["end"]) for row in timing]
    assert all(ends[i] <= starts[i + 1] + 0.001 for i in range(2)), timing
    assert any(abs(float(row["displacement"])) > 0.2 for row in timing)
    assert all(abs(float(row["displacement"])) < 1.5 for row in timing)
    # Measured on the dub track: each fitted line is exactly where the table says, and the track is
    # silent from one line's end to the next line's start (never two voices at once).
    dub = decode(results / "dub.wav", RATE)
    for row in timing:
        line = decode(results / "fit" / f"{row['id']}.wav", RATE)[: RATE // 2]
        around = int((float(row["start"]) - 0.3) * RATE)
        region = dub[around : around + int(0.6 * RATE) + line.size]
        lag = int(np.argmax(np.correlate(region, line, mode="valid")))
        assert abs(around / RATE + lag / RATE - float(row["start"])) <= 0.002, row["id"]
    rms = frame_rms(dub, RATE)
    for end, start in zip(ends, starts[1:]):
        if start - end > 0.03:
            assert rms[int(end * 100) + 1 : int(start * 100) - 1].max(initial=0) < 0.01 * rms.max()
