"""A package per language (results/<video>/<lang>/): what YouTube or a player takes, as long as the video."""

import json
import subprocess

import pytest
from conftest import MEDIA, decode, frame_rms, make_workdir, run_snakemake

from dubbing.package import format_vtt
from dubbing.subtitles import Cue, parse_cues


def length(path, stream):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "stream=duration",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return float(json.loads(out)["streams"][0]["duration"])


@pytest.mark.e2e
def test_the_package_holds_the_dub_at_the_videos_length_and_its_subtitles_twice(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.script.tsv", "lesson.script.tsv")])
    # The sound track runs 1.5 s shorter than the picture (as screen recordings often do).
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=160x120:r=10",
                    "-i", str(MEDIA / "demo.mp4"), "-map", "0:v", "-map", "1:a", "-t", "29", "-af", "atrim=0:27.5",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(workdir / "media" / "lesson.mp4")],
                   check=True)
    run_snakemake(workdir)  # no target: every video's dub and its package
    package = workdir / "results" / "lesson" / "en"
    assert sorted(p.name for p in package.iterdir()) == [
        "lesson.en.m4a", "lesson.en.srt", "lesson.en.vtt", "report.html", "sync.tsv"]
    video = length(workdir / "media" / "lesson.mp4", "v:0")
    assert length(workdir / "media" / "lesson.mp4", "a:0") < video - 1.0
    assert length(package / "lesson.en.m4a", "a:0") == pytest.approx(video, abs=0.001)
    # It is the dub: the same sound as the dubbed video's track, where both have it.
    dub = frame_rms(decode(package / "lesson.en.m4a", 16000), 16000, 0.05)
    muxed = frame_rms(decode(workdir / "results" / "lesson" / "dubbed.mp4", 16000, "a:0"), 16000, 0.05)
    n = min(dub.size, muxed.size)
    assert abs(dub[:n] - muxed[:n]).max() < 0.02 * max(muxed.max(), 1e-9) + 1e-3
    srt = (workdir / "results" / "lesson" / "dubbed.srt").read_text(encoding="utf-8")
    assert (package / "lesson.en.srt").read_text(encoding="utf-8") == srt
    vtt = (package / "lesson.en.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n")
    srt_cues = parse_cues(srt)
    vtt_times = [line for line in vtt.splitlines() if " --> " in line]
    assert len(vtt_times) == len(srt_cues) > 5
    assert vtt_times[0] == f"00:00:{srt_cues[0].start:06.3f} --> 00:00:{srt_cues[0].end:06.3f}"


def test_webvtt_shows_markup_in_a_line_as_text_and_names_the_speaker():
    text = format_vtt([Cue(1.0, 2.5, "<b>bold</b> & --> <script>x</script>", "Ana"), Cue(3661.2, 3662.0, "Bye.")], "es")
    assert text.splitlines()[:4] == [
        "WEBVTT", "Language: es", "", "00:00:01.000 --> 00:00:02.500"]
    assert "<v Ana>&lt;b&gt;bold&lt;/b&gt; &amp; --&gt; &lt;script&gt;x&lt;/script&gt;" in text
    assert "01:01:01.200 --> 01:01:02.000\nBye." in text
