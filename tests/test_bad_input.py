"""Bad input through the real workflow: one clear message naming the file, nothing half-written."""

import hashlib

import pytest
from conftest import DATA, MEDIA, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e
HEADER = "id\tstart\tend\tspeaker\tsource_text\ttext\n"


def media_digest(workdir):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (workdir / "media").iterdir()}


def assert_clean_failure(workdir, target, message):
    before = media_digest(workdir)
    done = run_snakemake(workdir, target, check=False)
    assert done.returncode != 0
    assert message in done.stdout, done.stdout[-3000:]
    assert media_digest(workdir) == before  # the user's files are untouched
    leftovers = [p for p in (workdir / "results").rglob("*") if ".tmp" in p.name] if (workdir / "results").exists() else []
    assert leftovers == []
    return done


def test_missing_video_is_named(tmp_path):
    workdir = make_workdir(tmp_path / "wf")
    assert_clean_failure(workdir, "results/lesson/dubbed.mp4", "media/lesson.*: no video found")


def test_a_file_that_is_not_a_video(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(DATA / "notavideo.mp4", "lesson.mp4")])
    assert_clean_failure(workdir, "results/lesson/dubbed.mp4", "media/lesson.mp4: not a readable video")
    assert not (workdir / "results" / "lesson" / "audio" / "probe.json").exists()


def test_a_video_without_sound(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(DATA / "noaudio.mp4", "lesson.mp4")])
    assert_clean_failure(workdir, "results/lesson/dubbed.mp4", "media/lesson.mp4: has no audio stream")


def test_zero_length_video(tmp_path):
    workdir = make_workdir(tmp_path / "wf")
    (workdir / "media" / "lesson.mp4").write_bytes(b"")
    assert_clean_failure(workdir, "results/lesson/dubbed.mp4", "media/lesson.mp4: the file is empty")


@pytest.mark.parametrize(
    "script, message",
    [
        ("", "the script is empty"),
        ("id\tstart\ttext\n0001\t1.0\tHello.\n", "missing column(s) end"),
        (HEADER + "0001\t2.0\t1.0\tn\t\tHello.\n", "line 2 (id 0001): end 1.000 is not after start 2.000"),
        (HEADER + "0001\tabc\t2.0\tn\t\tHello.\n", "line 2 (id 0001): start 'abc' is not a number"),
        (HEADER + "0001\t1.0\t5.0\tn\t\tHello.\n0002\t4.0\t6.0\tn\t\tThere.\n", "segments 0001 and 0002 overlap"),
        (HEADER + "0001\t1.0\t2.0\tn\t\tHello.\n0001\t4.0\t6.0\tn\t\tThere.\n", "line 3 (id 0001): id 0001 is used twice (first on line 2)"),
        (HEADER + "0001\t1.0\t2.0\tn\t\t  \n", "line 2 (id 0001): text is empty"),
        (HEADER + "0001\t1.0\t2.0\tn\t\t\x00\x07\x1b\n", "line 2 (id 0001): text is empty"),  # control characters only
        (HEADER + "0001\t31.0\t33.0\tn\t\tToo late.\n", "segment 0001 starts at 31.000 s, after the video ends"),
    ],
    ids=["empty", "missing-column", "end-before-start", "non-numeric", "overlap", "duplicate-id", "empty-text",
         "control-only", "after-end"],
)
def test_bad_script_fails_before_any_synthesis(tmp_path, script, message):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    (workdir / "media" / "lesson.script.tsv").write_text(script, encoding="utf-8")
    assert_clean_failure(workdir, "results/lesson/dubbed.mp4", f"media/lesson.script.tsv: {message}")
    assert not (workdir / "results" / "lesson" / "tts").exists()  # nothing was paid for


def test_subtitles_that_do_not_parse(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    (workdir / "media" / "lesson.srt").write_text("this is not\na subtitle file\n", encoding="utf-8")
    assert_clean_failure(workdir, "results/lesson/dubbed.mp4", "media/lesson.srt: no subtitle cues found")


def test_a_name_with_spaces_quotes_and_shell_syntax_is_dubbed_safely(tmp_path):
    name = "-my lesson; $(touch PWNED) 'q' \"d\" ü"
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", f"{name}.mp4")])
    rows = (MEDIA / "demo.script.tsv").read_text(encoding="utf-8").splitlines(keepends=True)[:3]
    (workdir / "media" / f"{name}.script.tsv").write_text("".join(rows), encoding="utf-8")
    run_snakemake(workdir, f"results/{name}/dubbed.mp4")
    assert (workdir / "results" / name / "dubbed.mp4").stat().st_size > 0
    assert not list(tmp_path.rglob("PWNED"))  # no shell ever saw the name
