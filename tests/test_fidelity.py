"""Fidelity to the original, end to end (issue 21): nothing lost, nothing invented, nothing said twice.

Real Snakemake runs over the demo video with subtitles as a real user's would be: sound markers,
lyrics, punctuation-only cues, quotes, and two speakers' cues sharing a start time.
"""

import json
import subprocess

import numpy as np
import pytest
from conftest import MEDIA, decode, make_workdir, run_snakemake
from dubbing.tables import read_table as read_tsv

pytestmark = pytest.mark.e2e

SRT = """1
00:00:00,500 --> 00:00:02,000
[Music]

2
00:00:02,000 --> 00:00:04,500
He said "hi" to me.

3
00:00:05,000 --> 00:00:06,000
...

4
00:00:06,500 --> 00:00:09,000
(laughs) Water covers most of the Earth.

5
00:00:10,000 --> 00:00:12,000
♪ la la la ♪

6
00:00:14,000 --> 00:00:16,000
- Is it salty?

7
00:00:14,000 --> 00:00:15,000
- Most of it.

8
00:00:19,000 --> 00:00:22,000
The sun turns it into vapour.

9
00:00:27,400 --> 00:00:28,900
And the vapour rises to become the clouds that bring us the rain again.
"""


def test_markers_are_shown_not_said_and_every_word_reaches_the_dub(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    (workdir / "media" / "lesson.srt").write_text(SRT, encoding="utf-8")
    run_snakemake(workdir, "results/lesson/dubbed.mp4")  # Piper: it refuses "...", so the run would fail
    results = workdir / "results" / "lesson"

    # The script keeps every cue, the quotes as written (once), markers included.
    script = read_tsv(results / "script.tsv")
    texts = [row["text"] for row in script]
    # Two cues starting together with no speaker named are one person's: one line, both said.
    assert 'He said "hi" to me.' in texts and "- Is it salty? - Most of it." in texts
    assert len(script) == 8
    # Voiced: the words, without their markers; never the markers or the punctuation.
    voiced = {row["text"] for row in read_tsv(results / "segments.tsv")}
    assert voiced == {'He said "hi" to me.', "Water covers most of the Earth.", "- Is it salty? - Most of it.",
                      "The sun turns it into vapour.",
                      "And the vapour rises to become the clouds that bring us the rain again."}
    unspoken = {row["text"]: row["reason"] for row in read_tsv(results / "unspoken.tsv")}
    assert set(unspoken) == {"[Music]", "...", "♪ la la la ♪"}
    assert "marker" in unspoken["[Music]"] and "punctuation" in unspoken["..."]
    timing = read_tsv(results / "timing.tsv")
    assert len(timing) == 5
    for before, after in zip(timing, timing[1:]):
        assert float(before["end"]) <= float(after["start"]) + 0.001
    # The last sentence, 1.5 s before the end of the video and longer than that, is not cut: it starts early,
    # into the silence before it, and its speech ends with the video (heard in the dub track).
    last = timing[-1]
    assert all(float(row["cut_seconds"]) == 0 for row in timing)
    assert float(last["start"]) < 27.4 - 0.5 and float(last["end"]) <= 29.0 + 0.05  # the AAC track: 29.013 s
    dub = decode(results / "dub.wav", 16000)
    assert np.abs(dub[int(float(last["start"]) * 16000):]).max() > 0.05  # it is there, and whole
    # The subtitles show every cue, the markers at their own times, each quote once.
    srt = (results / "dubbed.srt").read_text(encoding="utf-8")
    assert srt.count(" --> ") == 8 and "[Music]" in srt and "♪ la la la ♪" in srt
    assert srt.count('"hi"') == 1 and '""' not in srt
    # Every word accounted for: dubbed, or shown only; none lost. The summary page says so.
    words = json.loads((results / "words_summary.json").read_text(encoding="utf-8"))
    assert words["lost_words"] == 0 and words["lost_lines"] == [] and words["subtitles_only_words"] == 4
    assert words["dubbed_words"] == 38  # the words of the 5 voiced lines as the script has them
    page = (results / "report" / "summary.html").read_text(encoding="utf-8")
    assert "lost</span> 0 words" in page and "in the subtitles only" in page
    # The soft subtitle track in the MP4 has them too.
    track = subprocess.run(["ffmpeg", "-v", "error", "-i", str(results / "dubbed.mp4"), "-map", "0:s:0", "-f", "srt",
                            "-"], capture_output=True, text=True, check=True).stdout
    assert "[Music]" in track and track.count(" --> ") == 8
