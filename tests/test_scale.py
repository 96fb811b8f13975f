"""A small version of `make bench-scale`: a 3-minute synthetic lecture (30 lines) dubbed end to end.

Correctness only (no timing asserts): every line in its slot on the dub track, the dubbed video as long as
the source with its picture untouched, the sync check clean, the loudness on target, the video's AAC
(encoded in two pieces) aligned with the mix to the sample, and a no-op rerun.
"""

import csv
import json
import subprocess

import numpy as np
import pytest
from bench_scale import make_media  # tools/bench_scale.py
from conftest import decode, ffprobe_duration, make_workdir, run_snakemake, speech_onset, stream_md5

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

    # The video's AAC was encoded in two pieces at once (the mix runs with 2 threads here), and what the
    # viewer hears is the mix, sample-aligned from start to end, with no seam where the pieces meet.
    assert "AAC encoded in 2 piece(s) at once" in (workdir / "logs" / "lecture" / "mix.log").read_text()
    heard, mixed = decode(dubbed, 48000), decode(results / "mix.flac", 48000)
    assert len(mixed) <= len(heard) < len(mixed) + 1024
    heard = heard[: len(mixed)]
    cut = round(len(mixed) / 2 / 1024) * 1024  # aac.plan_parts' cut for two pieces

    def snr(at, n, shift=0):
        want, error = mixed[at - shift : at - shift + n], heard[at : at + n] - mixed[at - shift : at - shift + n]
        return 10 * np.log10(np.sum(want**2) / np.sum(error**2))

    # Aligned: during the first line, the line that spans the cut and the last line, the decoded AAC matches
    # the mix at no shift far better than at any other within 300 samples (a lost frame is 1024).
    middle = min(lines, key=lambda line: abs(line[1] * 48000 - cut))
    for _id, start, _end, _text in (lines[0], middle, lines[-1]):
        at = int((start + 0.3) * 48000)
        best = max(range(-300, 301), key=lambda shift: snr(at, 4800, shift))
        assert best == 0 and snr(at, 4800) > 20, (_id, best, snr(at, 4800))
    assert snr(cut - 2048, 4096) > 20 and snr(0, len(mixed)) > 20  # no seam at the cut, none anywhere

    # Nothing to do the second time.
    assert "Nothing to be done" in run_snakemake(workdir, "-n", "results/lecture/dubbed.mp4").stdout


# Unit checks of the pieces the scale work replaced (no workflow run).

def test_resampling_in_process_keeps_a_tone_and_the_exact_length():
    import numpy as np

    from dubbing.audio import resample

    for source_rate in (22050, 24000, 16000, 44100):
        n = source_rate * 3 + 17  # an awkward length
        tone = (np.sin(2 * np.pi * 440 * np.arange(n) / source_rate) * 10000).astype(np.int16)
        out = resample(tone, source_rate, 48000)
        assert out.size == round(n * 48000 / source_rate)
        expected = np.sin(2 * np.pi * 440 * np.arange(out.size) / 48000) * 10000
        assert np.abs(out[480:-480] - expected[480:-480]).max() < 40, source_rate  # ~-58 dB of the tone


def test_fit_records_its_inputs_and_skips_unchanged_segments(tmp_path):
    import numpy as np

    from dubbing import audio
    from dubbing.backends import Settings
    from dubbing.fit import fit_all
    from dubbing.voicing import Voicing

    rate = 22050
    speech = (np.sin(2 * np.pi * 200 * np.arange(rate) / rate) * 8000).astype(np.int16)
    tts, slots, segments, fit_dir = tmp_path / "tts", tmp_path / "slots", tmp_path / "segments", tmp_path / "fit"
    for folder in (tts, slots, segments):
        folder.mkdir()
    for i, start in ((1, 0.5), (2, 3.0)):
        audio.write_wav(tts / f"000{i}.wav", speech, rate)
        (slots / f"000{i}.json").write_text(json.dumps({"id": f"000{i}", "start": start, "end": start + 1.5,
                                                        "window_end": start + 2.4}))
        (segments / f"000{i}.json").write_text(json.dumps({"id": f"000{i}", "text": "A line.", "speaker": ""}))
    args = ([tts / "0001.wav", tts / "0002.wav"], [slots / "0001.json", slots / "0002.json"],
            [segments / "0001.json", segments / "0002.json"], tmp_path / "paced", tmp_path / "fit.tsv",
            Voicing(Settings.resolve("tts", backend="piper"), tmp_path / "cache"))
    options = {"max_speedup": 1.25, "workers": 2}
    fit_all(*args, **options)
    first = {p.name: p.stat().st_mtime_ns for p in fit_dir.glob("*.wav")}
    assert sorted(first) == ["0001.wav", "0002.wav"]
    fit_all(*args, **options)  # nothing changed: nothing rewritten
    assert {p.name: p.stat().st_mtime_ns for p in fit_dir.glob("*.wav")} == first
    (slots / "0002.json").write_text(json.dumps({"id": "0002", "start": 3.2, "end": 4.7, "window_end": 5.6}))
    fit_all(*args, **options)  # 0002 moved: only it is fitted again
    after = {p.name: p.stat().st_mtime_ns for p in fit_dir.glob("*.wav")}
    assert after["0001.wav"] == first["0001.wav"] and after["0002.wav"] != first["0002.wav"]
    assert json.loads((fit_dir / "0002.json").read_text())["start"] == 3.2
    fitted = audio.read_wav(fit_dir / "0002.wav")[0]
    assert abs(fitted.size - 48000) < 48000 * 0.02  # 1 s of speech at 48 kHz
    assert not (tmp_path / "paced").exists()  # every line fits: nothing was voiced again


def test_mix_gain_reaches_the_target_and_leaves_silence_alone():
    from dubbing.mix import normalizing_gain

    assert normalizing_gain({"input_i": -22.0}, -16) == pytest.approx(10 ** (6 / 20))
    assert normalizing_gain({"input_i": float("-inf")}, -16) == 1.0
    assert normalizing_gain({"input_i": -80.0}, -16) == 1.0
