"""A small version of `make bench-scale`: a 3-minute synthetic lecture (30 lines) dubbed end to end.

Correctness only (no timing asserts): every line in its slot on the dub track, the dubbed video as long as
the source with its picture untouched, the sync check clean, the loudness on target, and a no-op rerun.
"""

import csv
import json
import subprocess
import sys

import pytest
from conftest import REPO, decode, ffprobe_duration, make_workdir, run_snakemake, speech_onset, stream_md5

sys.path.insert(0, str(REPO / "scripts"))
from bench_scale import make_media  # noqa: E402

pytestmark = pytest.mark.e2e
RATE = 16000


def loudness(path):
    """(integrated LUFS, true peak dBTP) of a media file's audio, measured by ffmpeg's ebur128."""
    err = subprocess.run(["ffmpeg", "-nostdin", "-nostats", "-hide_banner", "-i", str(path), "-map", "0:a:0", "-af",
                          "ebur128=peak=true:framelog=verbose", "-f", "null", "-"], capture_output=True, text=True,
                         check=True).stderr
    summary = err[err.rfind("Summary:"):].split()
    return float(summary[summary.index("I:") + 1]), float(summary[summary.index("Peak:") + 1])


def test_a_three_minute_lecture_is_dubbed_in_sync(tmp_path):
    video, script, lines = make_media(tmp_path / "media", "lecture", 3)
    assert len(lines) == 30
    workdir = make_workdir(tmp_path / "wf", [(video, video.name), (script, script.name)])
    run_snakemake(workdir, "results/lecture/dubbed.mp4")
    results = workdir / "results" / "lecture"

    with open(results / "segments.tsv", encoding="utf-8", newline="") as handle:
        assert [row["id"] for row in csv.DictReader(handle, delimiter="\t")] == [line[0] for line in lines]
    assert len(list((results / "fit").glob("*.wav"))) == 30
    # Piper's default (synth_mode auto) is one batch per video: one voice load, not 30.
    assert "loading 1 voice(s)" in (workdir / "logs" / "lecture" / "synth_async.log").read_text()

    # Every line starts at its slot on the dub track.
    dub = decode(results / "dub.wav", RATE)
    for seg_id, start, _end, _text in lines:
        onset = speech_onset(dub, RATE, start)
        assert onset is not None and abs(onset - start) <= 0.08, (seg_id, start, onset)

    # The measured sync check agrees: nothing out of tolerance.
    summary = json.loads((results / "sync_summary.json").read_text())
    assert summary["segments"] == 30 and summary["violations"] == [], summary

    # The dubbed video: as long as the source, the picture bit for bit, the loudness on target without clipping.
    dubbed, source = results / "dubbed.mp4", workdir / "media" / video.name
    assert abs(ffprobe_duration(dubbed, "a:0") - ffprobe_duration(source, "a:0")) <= 0.05
    assert stream_md5(dubbed, "v:0") == stream_md5(source, "v:0")
    integrated, peak = loudness(results / "mix.flac")
    assert abs(integrated - -16) <= 2.0 and peak <= -1.0, (integrated, peak)

    # Nothing to do the second time.
    assert "Nothing to be done" in run_snakemake(workdir, "-n", "results/lecture/dubbed.mp4").stdout
