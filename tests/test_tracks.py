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
        ("eng", "English (dub)", 1), ("spa", "Español (original 1)", 0), ("eng", "English (original 2)", 0)]
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


def channels(path, stream="a:0", rate=48000):
    """frames x channels float samples of one audio stream, in its own layout's order."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-ar", str(rate),
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    layout = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "stream=channels",
                             "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4").reshape(-1, int(layout))


def test_a_surround_source_keeps_its_sound_field_and_the_dub_replaces_only_the_centre(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.script.tsv", "film.script.tsv")])
    # 5.1: the speech in the centre (FC), tones left, right and in the LFE, noise and a tone behind.
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(MEDIA / "demo.mp4"),
                    "-f", "lavfi", "-i", "sine=f=220:sample_rate=48000", "-f", "lavfi", "-i", "sine=f=330:sample_rate=48000",
                    "-f", "lavfi", "-i", "sine=f=50:sample_rate=48000",
                    "-f", "lavfi", "-i", "anoisesrc=c=pink:r=48000:a=0.05:seed=3",
                    "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000",
                    "-filter_complex", "[0:a]aresample=48000,pan=mono|c0=c0[c];[1][2][c][3][4][5]join=inputs=6:"
                    "channel_layout=5.1[a]", "-map", "0:v", "-map", "[a]", "-t", "29", "-c:v", "copy", "-c:a", "aac",
                    "-b:a", "512k", str(workdir / "media" / "film.mp4")], check=True)
    run_snakemake(workdir, "results/film/dubbed.mp4")
    dubbed = workdir / "results" / "film" / "dubbed.mp4"
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries",
                          "stream=channels,channel_layout:stream_tags=handler_name:stream_disposition=default",
                          "-of", "json", str(dubbed)], capture_output=True, text=True, check=True).stdout
    audio = [(s["channels"], s["tags"]["handler_name"], s["disposition"]["default"])
             for s in json.loads(out)["streams"]]
    assert audio == [(6, "English (dub)", 1), (2, "English (dub, stereo)", 0), (6, "Original sound", 0)]
    source, dub = channels(workdir / "media" / "film.mp4"), channels(dubbed)
    n = min(len(source), len(dub))
    source, dub = source[:n], dub[:n]
    # Every channel but the centre is the source's, at one common gain (the mix's loudness).
    gains = []
    for ch in (0, 1, 3, 4, 5):  # sample for sample (through AAC)
        assert np.corrcoef(source[:, ch], dub[:, ch])[0, 1] > 0.97, ch
        gains.append(np.std(dub[:, ch]) / np.std(source[:, ch]))
    assert max(gains) / min(gains) < 1.03
    # The centre follows the dub (as the dub track has it), not the original speech ducked under it.
    spoken = frame_rms(decode(workdir / "results" / "film" / "dub.wav", 48000), 48000, 0.05)[: n // 2400]
    centre = frame_rms(dub[:, 2], 48000, 0.05)[: spoken.size]
    original = frame_rms(source[:, 2], 48000, 0.05)[: spoken.size]
    assert np.corrcoef(centre, spoken)[0, 1] > 0.7 and np.corrcoef(centre, original)[0, 1] < 0.3
    # The stereo downmix has the dub too.
    stereo = frame_rms(decode(dubbed, 48000, "a:1"), 48000, 0.05)[: spoken.size]
    assert np.corrcoef(stereo, spoken)[0, 1] > 0.5
