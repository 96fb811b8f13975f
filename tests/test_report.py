"""Measured sync and the HTML report through the workflow, and a voice per speaker (sync.measure itself:
tests/test_sync.py)."""

import base64
import re
import subprocess

import numpy as np
import pytest
from conftest import MEDIA, SNAKEMAKE, api_env, clean_env, decode, make_workdir, run_snakemake
from fakeapi import voice_f0

pytestmark = pytest.mark.e2e


def read_tsv(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def test_demo_report_measures_sync_and_renders(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / n, n) for n in ("demo.mp4", "demo.script.tsv")])
    done = run_snakemake(workdir, "results/demo/dubbed.mp4")
    rows = read_tsv(workdir / "results" / "demo" / "sync.tsv")
    assert [r["status"] for r in rows] == ["ok"] * 6
    assert all(abs(float(r["onset_error"])) <= 0.08 for r in rows)
    assert "out of sync" not in done.stdout
    report = workdir / "results" / "demo" / "report.html"
    made = subprocess.run([SNAKEMAKE, "--report", str(report), "results/demo/dubbed.mp4"], cwd=workdir,
                          capture_output=True, text=True, env=clean_env())
    assert made.returncode == 0, made.stderr[-2000:]
    text = report.read_text(encoding="utf-8", errors="replace")
    for expected in ("timeline.png", "summary.html", "sync.tsv", "Measured sync"):
        assert expected in text, expected
    assert not re.search(r"<(script|link)[^>]*(src|href)=[\"']https?://", text)  # opens with no network
    page = (workdir / "results" / "demo" / "report" / "summary.html").read_text()
    assert "all lines within tolerance" in page and "6 line(s) synthesized by the backend" in page.replace("\n", " ")
    assert "Welcome to this short lesson about water." in page
    # The page shows the timeline figure itself, opened from the results folder or anywhere else.
    embedded = re.search(r'<img[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    figure = (workdir / "results" / "demo" / "report" / "timeline.png").read_bytes()
    assert embedded and base64.b64decode(embedded.group(1)) == figure


def test_a_line_shifted_by_300_ms_is_caught_with_its_id(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / n, n) for n in ("demo.mp4", "demo.script.tsv")])
    run_snakemake(workdir, "results/demo/dubbed.mp4")
    fitted = workdir / "results" / "demo" / "fit" / "0003.wav"
    samples = decode(fitted, 48000)
    shifted = np.concatenate([np.zeros(int(0.3 * 48000)), samples])  # the line now starts 0.3 s late
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", "48000", "-ac", "1", "-i", "-",
                    "-c:a", "pcm_s16le", str(fitted)], input=shifted.astype("<f4").tobytes(), check=True)
    # fit/ is the fit job's own directory (its declared output is fit.tsv): a change made behind its back
    # is laid on the timeline when the timeline is rebuilt.
    done = run_snakemake(workdir, "results/demo/dubbed.mp4", "--forcerun", "timeline")
    # The fitted audio now opens with 0.3 s of silence: its speech is found 0.3 s after the slot.
    assert "out of sync by more than 0.1 s, running into the next line or missing: late 0003" in done.stdout
    row = next(r for r in read_tsv(workdir / "results" / "demo" / "sync.tsv") if r["id"] == "0003")
    assert row["status"] == "late" and abs(float(row["onset_error"]) - 0.3) <= 0.02
    strict = run_snakemake(workdir, "results/demo/dubbed.mp4", "--config", "strict_sync=True", check=False)
    assert strict.returncode != 0 and "0003" in strict.stdout


def test_two_speakers_get_two_voices(api, tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "interview.mp4")])
    rows = [("0001", 1.0, "host", "Welcome to the show."), ("0002", 5.5, "guest", "Thank you for having me."),
            ("0003", 10.2, "host", "Let us talk about water."), ("0004", 14.8, "guest", "Water is everywhere.")]
    (workdir / "media" / "interview.script.tsv").write_text(
        "id\tstart\tend\tspeaker\ttext\n" + "".join(f"{i}\t{s}\t{s + 2}\t{who}\t{t}\n" for i, s, who, t in rows))
    run_snakemake(workdir, "results/interview/dubbed.mp4", "--config", "tts_backend=openai",
                  "voices={'host': 'nova', 'guest': 'onyx'}", env=api_env(api))
    voices = {r["json"]["input"]: r["json"]["voice"] for r in api.requests}
    assert voices == {"Welcome to the show.": "nova", "Thank you for having me.": "onyx",
                      "Let us talk about water.": "nova", "Water is everywhere.": "onyx"}
    for seg_id, voice in (("0001", "nova"), ("0002", "onyx")):  # and it is audible: each voice's pitch
        samples = decode(workdir / "results" / "interview" / "tts" / f"{seg_id}.wav", 24000)[2400:-2400]
        peak = np.fft.rfftfreq(samples.size, 1 / 24000)[np.argmax(np.abs(np.fft.rfft(samples)))]
        assert abs(peak - voice_f0(voice)) < 3
    srt = (workdir / "results" / "interview" / "dubbed.srt").read_text()
    assert "[host · nova] Welcome to the show." in srt and "[guest · onyx] Thank you for having me." in srt
    page = (workdir / "results" / "interview" / "report" / "summary.html").read_text()
    assert "host → nova" in page and "guest → onyx" in page and "(configured)" in page
