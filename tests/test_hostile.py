"""Hostile and broken input through the real workflow (issue 7's table).

Each case ends in a correct dub or in one clear line naming the file, never in a crash trace
alone, never in a shell seeing user text, and never with a file written outside the places the
workflow owns (results/, logs/, benchmarks/, .snakemake/ and the cache).
"""

import subprocess

import numpy as np
import pytest
from conftest import API_KEY, MEDIA, api_env, decode, ffprobe_duration, make_workdir, run_snakemake, speech_onset
from fakeapi import speech_duration

pytestmark = pytest.mark.e2e
RATE = 16000
HEADER = "id\tstart\tend\tspeaker\tsource_text\ttext\n"
OWNED = {"results", "logs", "benchmarks", ".snakemake", "cache"}
SENTENCE = "This is sentence number {} of a very long paragraph, spoken without a pause; it goes on. "
LONG_TEXT = "".join(SENTENCE.format(i) for i in range(110)).strip()  # about 9,600 characters
HOSTILE_ROWS = [
    # id, start, end, text as written in the TSV, text the API must receive
    ("0001", 0.5, 3.5, "Hello\x07 there,\x1b[2J friend.\x00", "Hello there, [2J friend."),  # control characters
    ("0002", 4.0, 8.0, "مرحبا بكم في الدرس الأول", "مرحبا بكم في الدرس الأول"),  # right to left
    ("0003", 9.0, 13.0, "这是第一课。我们开始吧！", "这是第一课。我们开始吧！"),  # CJK
    ("0004", 14.0, 18.0, "Great job 🎉👍 see you soon 👋", "Great job 🎉👍 see you soon 👋"),  # emoji
    ("0005", 19.0, 28.0, LONG_TEXT, LONG_TEXT),  # over the 4,096-character API limit
]


def snapshot(root):
    return {path.relative_to(root): path.stat().st_mtime_ns for path in root.rglob("*") if path.is_file()}


def writes_outside_owned(root, before):
    """Files created or changed since ``before`` outside the folders the workflow owns."""
    after = snapshot(root)
    changed = [path for path, mtime in after.items() if before.get(path) != mtime]
    return [str(path) for path in changed if path.parts[0] not in OWNED and "__pycache__" not in path.parts]


def hostile_workdir(tmp_path, rows, name="lesson"):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", f"{name}.mp4")])
    lines = [f"{seg_id}\t{start}\t{end}\t\t\t{text}\n" for seg_id, start, end, text, _ in rows]
    (workdir / "media" / f"{name}.script.tsv").write_text(HEADER + "".join(lines), encoding="utf-8")
    return workdir


@pytest.mark.parametrize("mode", ["per-segment", "async"])
def test_hostile_text_reaches_the_api_intact_and_long_lines_go_in_parts(api, tmp_path, mode):
    workdir = hostile_workdir(tmp_path, HOSTILE_ROWS)
    before = snapshot(workdir)
    done = run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai",
                         f"synth_mode={mode}", env=api_env(api))
    # Each line's first voicing (at the speed its slot needs, rates.py).
    requests = [r["json"] for r in api.requests if r["path"] == "/v1/audio/speech"]
    short = {row[4] for row in HOSTILE_ROWS[:4]}
    assert sorted(r["input"] for r in requests if r["input"] in short) == sorted(short)  # each once, verbatim
    long_speed = next(r["speed"] for r in requests if r["input"] not in short)
    parts = [r["input"] for r in requests if r["input"] not in short and r["speed"] == long_speed]
    assert len(parts) == 3 and long_speed == 1.25  # 9,600 characters in 3 requests, as fast as allowed
    assert all(len(part) <= 4096 for part in parts)
    assert all(part.endswith("it goes on.") for part in parts)  # cut at sentence ends
    assert " ".join(sorted(parts, key=LONG_TEXT.index)) == LONG_TEXT  # nothing truncated or lost
    # The line's audio is the parts' audio joined, in order: the length the server meant to send.
    tts = workdir / "results" / "lesson" / "tts" / "0005.wav"
    expected = sum(round(speech_duration(part, long_speed) * 24000) for part in parts) / 24000
    assert abs(len(decode(tts, 24000)) / 24000 - expected) < 0.01
    assert "sent in 3 parts" in (workdir / "logs" / "lesson" / "segments.log").read_text(encoding="utf-8")
    srt = (workdir / "results" / "lesson" / "dubbed.srt").read_text(encoding="utf-8")
    assert all(row[4] in srt for row in HOSTILE_ROWS[1:4])  # RTL, CJK and emoji kept in the subtitles
    dub = decode(workdir / "results" / "lesson" / "dub.wav", RATE)
    for seg_id, start, *_ in HOSTILE_ROWS:
        onset = speech_onset(dub, RATE, start)
        assert onset is not None and abs(onset - start) <= 0.08, seg_id
    assert writes_outside_owned(workdir, before) == []
    assert API_KEY not in done.stdout


def test_hostile_text_with_the_offline_voice(tmp_path):
    rows = HOSTILE_ROWS[:4] + [("0005", 19.0, 28.0, "\u200f\u200e\u200b", "")]
    workdir = hostile_workdir(tmp_path, rows)
    done = run_snakemake(workdir, "results/lesson/dubbed.mp4", check=False)
    # A line of invisible characters only is an empty line: named, before any synthesis.
    assert done.returncode != 0
    assert "media/lesson.script.tsv: line 6 (id 0005): text is empty (only invisible characters)" in done.stdout
    assert not (workdir / "results" / "lesson" / "tts").exists()
    # Arabic and Chinese for the English voice (espeak-ng would spell them out letter by letter):
    # named with the fix, before any synthesis.
    script = workdir / "media" / "lesson.script.tsv"
    lines = script.read_text(encoding="utf-8").splitlines(keepends=True)
    script.write_text("".join(lines[:5]), encoding="utf-8")
    done = run_snakemake(workdir, "results/lesson/dubbed.mp4", check=False)
    assert done.returncode != 0
    assert ("media/lesson.script.tsv: line 3 (id 0002): Arabic letters (مرحبا) that the Piper voice "
            "en_US-joe-medium (English (en)) cannot pronounce; translate the line") in done.stdout, done.stdout[-3000:]
    assert not (workdir / "results" / "lesson" / "tts").exists()
    # Without them, the offline voice dubs control characters and emoji without a crash.
    script.write_text(lines[0] + lines[1] + lines[4], encoding="utf-8")
    before = snapshot(workdir)
    run_snakemake(workdir, "results/lesson/dubbed.mp4")
    timing = [line.split("\t") for line in
              (workdir / "results" / "lesson" / "timing.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    assert [row[0] for row in timing] == ["0001", "0004"]
    assert all(float(row[4]) > 0.5 for row in timing)  # every line was spoken
    dub = decode(workdir / "results" / "lesson" / "dub.wav", RATE)
    for row in timing:
        start = float(row[9])
        assert abs(speech_onset(dub, RATE, start) - start) <= 0.08
    assert writes_outside_owned(workdir, before) == []


def test_a_script_with_a_bom_and_crlf_line_ends(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    rows = (MEDIA / "demo.script.tsv").read_text(encoding="utf-8").splitlines()[:4]
    (workdir / "media" / "lesson.script.tsv").write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8"))
    run_snakemake(workdir, "results/lesson/segments.tsv")
    manifest = (workdir / "results" / "lesson" / "segments.tsv").read_text(encoding="utf-8")
    assert manifest.splitlines()[1:] == [line.replace("\r", "") for line in rows[1:]]
    assert "\r" not in manifest and "\ufeff" not in manifest
    assert sorted(p.name for p in (workdir / "results" / "lesson" / "segments").iterdir()) == [
        "0001.json", "0002.json", "0003.json"]


def test_subtitles_in_a_legacy_encoding(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    srt = ("1\r\n00:00:01,000 --> 00:00:03,500\r\nCafé crème, s'il vous plaît — merci.\r\n\r\n"
           "2\r\n00:00:05,000 --> 00:00:07,000\r\nÀ bientôt, Zoë!\r\n")
    (workdir / "media" / "lesson.srt").write_bytes(srt.encode("cp1252"))  # not UTF-8
    run_snakemake(workdir, "results/lesson/segments.tsv")
    manifest = (workdir / "results" / "lesson" / "segments.tsv").read_text(encoding="utf-8")
    assert "Café crème, s'il vous plaît — merci." in manifest and "À bientôt, Zoë!" in manifest


def test_a_leading_dash_name_never_reaches_a_tool_as_an_option(tmp_path):
    """ffmpeg and ffprobe are always given paths, never a bare name that starts with '-'."""
    name = "-y -i x"
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", f"{name}.mp4")])
    rows = (MEDIA / "demo.script.tsv").read_text(encoding="utf-8").splitlines(keepends=True)[:2]
    (workdir / "media" / f"{name}.script.tsv").write_text("".join(rows), encoding="utf-8")
    before = snapshot(workdir)
    run_snakemake(workdir, f"results/{name}/dubbed.mp4")
    out = workdir / "results" / name / "dubbed.mp4"
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
                            str(out)], capture_output=True, text=True, check=True).stdout.split()
    assert probe[:2] == ["video", "audio"]
    assert writes_outside_owned(workdir, before) == []


def test_a_three_hour_silent_video_is_dubbed_in_bounded_memory(tmp_path):
    """Three hours of 48 kHz audio is about 1 GB as PCM: the timeline and the mix stream it."""
    workdir = make_workdir(tmp_path / "wf")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:r=1", "-f",
                    "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "10800", "-c:v", "libx264", "-preset", "ultrafast",
                    "-c:a", "aac", "-b:a", "8k", "-shortest", str(workdir / "media" / "silent.mp4")], check=True)
    (workdir / "media" / "silent.script.tsv").write_text(
        HEADER + "0001\t1.0\t4.0\t\t\tHello at the start.\n0002\t10790.0\t10795.0\t\t\tGoodbye at the very end.\n",
        encoding="utf-8")
    before = snapshot(workdir)
    run_snakemake(workdir, "results/silent/dubbed.mp4", timeout=1500)
    out = workdir / "results" / "silent"
    assert abs(ffprobe_duration(out / "dubbed.mp4", "a:0") - 10800) < 0.1
    for start in (1.0, 10790.0):  # both lines where the script puts them, three hours apart
        onset = speech_onset(decode_window(out / "dub.wav", start - 1.0, 3.0), RATE, 1.0)  # window from start - 1
        assert onset is not None and abs(onset - 1.0) <= 0.08, start
    for rule in ("timeline", "mix"):  # peak memory of the two steps that touch every sample
        header, values = (workdir / "benchmarks" / "silent" / f"{rule}.tsv").read_text().splitlines()[:2]
        max_rss = float(dict(zip(header.split("\t"), values.split("\t")))["max_rss"])
        assert max_rss < 400, f"{rule}: {max_rss} MB"
    assert writes_outside_owned(workdir, before) == []


def decode_window(path, start, seconds):
    """Mono samples at RATE of ``seconds`` of ``path`` from ``start`` (without decoding the rest)."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", str(start), "-t", str(seconds), "-i", str(path),
                          "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4")
