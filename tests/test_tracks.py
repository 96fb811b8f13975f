"""The source's own sound is kept: every audio track of the source goes into the dubbed video, after the dub."""

import json
import subprocess

import numpy as np
import pytest
from conftest import MEDIA, decode, frame_rms, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e


def streams(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=codec_type,codec_name:stream_tags=language,handler_name:stream_disposition=default",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return [s for s in json.loads(out)["streams"] if s["codec_type"] == "audio"]


def test_a_two_track_matroska_keeps_both_original_tracks_after_the_dub(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.script.tsv", "lesson.script.tsv")])
    # Spanish speech (Vorbis) and an English commentary track (a 440 Hz tone, PCM): neither is MP4's own codec.
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=160x120:r=10",
                    "-i", str(MEDIA / "demo.mp4"), "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000",
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-t", "29", "-c:v", "libx264", "-preset", "ultrafast",
                    "-c:a:0", "libvorbis", "-c:a:1", "pcm_s16le", "-metadata:s:a:0", "language=spa",
                    "-metadata:s:a:1", "language=eng", str(workdir / "media" / "lesson.mkv")], check=True)
    run_snakemake(workdir, "results/lesson/dubbed.mp4")
    dubbed = workdir / "results" / "lesson" / "dubbed.mp4"
    audio = streams(dubbed)
    assert [(s["tags"]["language"], s["tags"]["handler_name"], s["disposition"]["default"]) for s in audio] == [
        ("eng", "English (dub)", 1), ("spa", "Original sound 1 (spa)", 0), ("eng", "Original sound 2 (eng)", 0)]
    assert all(s["codec_name"] == "aac" for s in audio)
    # The tracks are what they say: the original speech where it was, the tone whole; the dub first.
    original = frame_rms(decode(workdir / "media" / "lesson.mkv", 16000, "a:0"), 16000, 0.05)
    kept = frame_rms(decode(dubbed, 16000, "a:1"), 16000, 0.05)  # re-encoded: compared by loudness, 50 ms frames
    n = min(original.size, kept.size)
    assert np.corrcoef(original[:n], kept[:n])[0, 1] > 0.95
    tone = decode(dubbed, 16000, "a:2")[16000:32000]
    peak = np.fft.rfftfreq(tone.size, 1 / 16000)[np.argmax(np.abs(np.fft.rfft(tone)))]
    assert abs(peak - 440) < 2
    dub = frame_rms(decode(dubbed, 16000, "a:0"), 16000, 0.05)
    assert np.corrcoef(dub[:n], kept[:n])[0, 1] < 0.9  # the default track is the dub
