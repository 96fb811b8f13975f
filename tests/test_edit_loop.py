"""The translator's loop as the README tells it: edit a line, look before spending (split the script or
`make plan`), dub. The edit must reach the video: timing, subtitles and the mixed audio all follow the
script, exactly the edited line is voiced, and a further run has nothing to do.

Before: after a split or a plan, the dub re-voiced the line but kept the old fit, timing, subtitles
and mix, and every later run said there was nothing to do.
"""

import hashlib

import pytest
from conftest import MEDIA, api_env, clean_env, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e
TARGET = "results/lesson/dubbed.mp4"
OLD = "Most of the planet's water is salty."
NEW = "Nearly all the water on this planet is salty sea water."
_REFERENCE = {}  # backend -> the files a clean build of the edited script gives


def lesson(root):
    return make_workdir(root, [(MEDIA / "demo.mp4", "lesson.mp4"), (MEDIA / "demo.script.tsv", "lesson.script.tsv")])


def edit_line_3(workdir):
    script = workdir / "media" / "lesson.script.tsv"
    text = script.read_text(encoding="utf-8")
    assert OLD in text
    script.write_text(text.replace(OLD, NEW), encoding="utf-8")


def script_mtime(workdir):
    return (workdir / "media" / "lesson.script.tsv").stat().st_mtime


def config(backend, mode):
    return ["--config", f"tts_backend={backend}", f"synth_mode={mode}"]


def run(workdir, api, backend, mode, *args):
    env = api_env(api) if backend != "piper" else clean_env()
    return run_snakemake(workdir, *args, *config(backend, mode), env=env)


def results(workdir):
    """What a user gets: the timing table, the subtitles, the dub track and the mixed audio."""
    out = workdir / "results" / "lesson"
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest()
            for name in ("timing.tsv", "dubbed.srt", "dub.wav", "mix.flac")}


def speech_files(workdir):
    return {p.stem: p.stat().st_mtime_ns for p in (workdir / "results" / "lesson" / "tts").glob("*.wav")}


def reference(tmp_path_factory, api, backend):
    """A clean build of the edited script, in a fresh copy with its own cache."""
    if backend not in _REFERENCE:
        workdir = lesson(tmp_path_factory.mktemp("clean"))
        edit_line_3(workdir)
        run(workdir, api, backend, "async", TARGET)
        _REFERENCE[backend] = results(workdir)
    return _REFERENCE[backend]


LOOK_FIRST = {
    "plan": ["results/lesson/plan.json", "--forcerun", "plan"],  # what `make plan` runs
    "split": ["results/lesson/segments.tsv"],
    "until-fit": ["--until", "fit", TARGET],
}


@pytest.mark.parametrize("backend", ["piper", "openai"])
@pytest.mark.parametrize("mode", ["async", "per-segment"])
@pytest.mark.parametrize("look", ["plan", "split"])
def test_an_edited_line_reaches_the_dub_after_planning_or_splitting(api, tmp_path, tmp_path_factory, backend, mode,
                                                                    look):
    workdir = lesson(tmp_path / "wf")
    run(workdir, api, backend, mode, TARGET)
    edit_line_3(workdir)
    run(workdir, api, backend, mode, *LOOK_FIRST[look])
    api.reset()
    before = speech_files(workdir)
    run(workdir, api, backend, mode, TARGET)
    after = speech_files(workdir)
    assert sorted(seg for seg in after if after[seg] != before.get(seg)) == ["0003"]  # exactly the edited line
    if backend != "piper":  # sent once, maybe again at a faster rate; nothing else
        assert {r["json"]["input"] for r in api.requests if r["path"] == "/v1/audio/speech"} == {NEW}
    out = workdir / "results" / "lesson"
    timing = (out / "timing.tsv").read_text(encoding="utf-8")
    srt = (out / "dubbed.srt").read_text(encoding="utf-8")
    assert NEW in timing and OLD not in timing
    assert NEW in srt and OLD not in srt
    # Nothing left to do, and what was built is what a clean build of the edited script gives.
    dry = run(workdir, api, backend, mode, "-n", TARGET)
    assert "Nothing to be done" in dry.stdout, dry.stdout[-3000:]
    mine = results(workdir)
    api.reset()
    assert mine == reference(tmp_path_factory, api, backend)


def test_an_edit_survives_a_run_stopped_after_the_fit(api, tmp_path, tmp_path_factory):
    # --until stops part-way: what it built must not make the rest look up to date.
    workdir = lesson(tmp_path / "wf")
    run(workdir, api, "piper", "async", TARGET)
    edit_line_3(workdir)
    # Snakemake itself may end an --until run past a checkpoint with "BUG: Out of jobs ready" (its issue 823).
    stopped = run_snakemake(workdir, *LOOK_FIRST["until-fit"], *config("piper", "async"), check=False)
    assert (workdir / "results" / "lesson" / "fit.tsv").stat().st_mtime > script_mtime(workdir), stopped.stdout[-3000:]
    run(workdir, api, "piper", "async", TARGET)
    assert "Nothing to be done" in run(workdir, api, "piper", "async", "-n", TARGET).stdout
    assert results(workdir) == reference(tmp_path_factory, api, "piper")


def test_switching_modes_after_an_edit_keeps_the_edit(api, tmp_path, tmp_path_factory):
    workdir = lesson(tmp_path / "wf")
    run(workdir, api, "openai", "per-segment", TARGET)
    edit_line_3(workdir)
    run(workdir, api, "openai", "async", *LOOK_FIRST["split"])
    api.reset()
    run(workdir, api, "openai", "per-segment", TARGET)
    assert {r["json"]["input"] for r in api.requests if r["path"] == "/v1/audio/speech"} == {NEW}
    run(workdir, api, "openai", "async", TARGET)  # the other mode finds everything current
    assert "Nothing to be done" in run(workdir, api, "openai", "async", "-n", TARGET).stdout
    api.reset()
    assert results(workdir) == reference(tmp_path_factory, api, "openai")
