"""Iterating on a dub: only what changed is rebuilt, and the shared cache makes repeats free."""

import json
import shutil

import pytest
from conftest import MEDIA, api_env, clean_env, jobs_run, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e
TARGET = "results/lesson/dubbed.mp4"
MODES = pytest.mark.parametrize("mode", ["per-segment", "async"])


def lesson(root, name="lesson"):
    workdir = make_workdir(root, [(MEDIA / "demo.mp4", f"{name}.mp4"), (MEDIA / "demo.script.tsv", f"{name}.script.tsv")])
    return workdir


def script_path(workdir, name="lesson"):
    return workdir / "media" / f"{name}.script.tsv"


def edit(workdir, change, name="lesson"):
    """Apply ``change`` to the script's rows (lists of fields, header excluded)."""
    lines = script_path(workdir, name).read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines[1:]]
    rows = change(rows)
    script_path(workdir, name).write_text("\n".join([lines[0]] + ["\t".join(r) for r in rows]) + "\n", encoding="utf-8")


def dub(workdir, api, mode, *config):
    api.reset()
    done = run_snakemake(workdir, TARGET, "--config", "tts_backend=openai", f"synth_mode={mode}", *config,
                         env=api_env(api))
    sent = [r["json"]["input"] for r in api.requests if r["path"] == "/v1/audio/speech"]
    return sent, done.stdout


def jobs(stdout, rule):
    return jobs_run(stdout)[rule]


def fit_times(workdir):
    return {p.name: p.stat().st_mtime_ns for p in (workdir / "results" / "lesson" / "fit").glob("*.wav")}


def refitted(workdir, before):
    """Segments whose fitted audio was rewritten since ``before`` (the fit job re-fits only what changed)."""
    log = (workdir / "logs" / "lesson" / "fit.log").read_text()
    fitted = next((line.split("fitted: ", 1)[1].split(", ") for line in log.splitlines() if " fitted: " in line), [])
    after = fit_times(workdir)
    assert sorted(name[:-4] for name in after if after[name] != before.get(name)) == sorted(fitted)
    return sorted(fitted)


@MODES
def test_editing_two_lines_sends_two_requests_and_refits_only_them(api, tmp_path, mode):
    workdir = lesson(tmp_path / "wf")
    sent, _ = dub(workdir, api, mode)
    assert len(sent) == 6

    def change(rows):
        rows[1][5] = "Water covers most of the Earth."
        rows[4][5] = "Vapour makes clouds, and clouds make rain."
        return rows

    edit(workdir, change)
    before = fit_times(workdir)
    sent, out = dub(workdir, api, mode)
    assert sorted(sent) == ["Vapour makes clouds, and clouds make rain.", "Water covers most of the Earth."]
    # One fit job per video, which re-fits only the two edited lines; the other four files are untouched.
    assert refitted(workdir, before) == ["0002", "0005"] and jobs(out, "mux") == 1
    if mode == "per-segment":
        assert jobs(out, "synth") == 2


@MODES
def test_moving_a_line_resynthesizes_nothing_and_refits_it_and_its_neighbour(api, tmp_path, mode):
    workdir = lesson(tmp_path / "wf")
    dub(workdir, api, mode)

    def move(rows):
        rows[2][1], rows[2][2] = "10.500", "13.500"  # 0003 starts 0.3 s later
        return rows

    edit(workdir, move)
    before = fit_times(workdir)
    sent, out = dub(workdir, api, mode)
    assert sent == []
    assert refitted(workdir, before) == ["0002", "0003"]  # 0003 itself, and 0002 whose pause before 0003 grew
    fit = json.loads((workdir / "results" / "lesson" / "fit" / "0003.json").read_text())
    assert fit["start"] == 10.5


def test_reordering_deleting_and_adding_rows_pay_only_for_new_text(api, tmp_path):
    workdir = lesson(tmp_path / "wf")
    dub(workdir, api, "per-segment")
    edit(workdir, lambda rows: list(reversed(rows)))  # same rows, other order in the file
    assert dub(workdir, api, "per-segment")[0] == []
    edit(workdir, lambda rows: [r for r in rows if r[0] != "0004"])
    assert dub(workdir, api, "per-segment")[0] == []
    edit(workdir, lambda rows: rows + [["0007", "27.000", "28.500", "narrator", "", "Goodbye."]])
    assert dub(workdir, api, "per-segment")[0] == ["Goodbye."]


def test_voice_changes_resynthesize_and_mixing_changes_do_not(api, tmp_path):
    workdir = lesson(tmp_path / "wf")
    dub(workdir, api, "per-segment")
    sent, out = dub(workdir, api, "per-segment", "mix_mode=replace", "max_speedup=1.4", "loudness_lufs=-20")
    assert sent == [] and jobs(out, "synth") == 0
    sent, _ = dub(workdir, api, "per-segment", "tts_voice=nova")
    assert len(sent) == 6


@MODES
def test_reverting_an_edit_costs_nothing(api, tmp_path, mode):
    workdir = lesson(tmp_path / "wf")
    dub(workdir, api, mode)
    original = script_path(workdir).read_text(encoding="utf-8")

    def change(rows):
        rows[0][5] = "Hello and welcome."
        return rows

    edit(workdir, change)
    assert dub(workdir, api, mode)[0] == ["Hello and welcome."]
    script_path(workdir).write_text(original, encoding="utf-8")
    sent, _ = dub(workdir, api, mode)
    assert sent == []


def add_video(workdir, name, rows=None):
    shutil.copy2(MEDIA / "demo.mp4", workdir / "media" / f"{name}.mp4")
    shutil.copy2(MEDIA / "demo.script.tsv", script_path(workdir, name))
    if rows:
        edit(workdir, rows, name=name)


def test_identical_lines_are_synthesized_once_across_videos_and_within_one(api, tmp_path):
    workdir = lesson(tmp_path / "wf")
    add_video(workdir, "repeat")  # a second video with the same lines, same cache
    sent, _ = dub(workdir, api, "per-segment")
    assert len(sent) == 6
    api.reset()
    run_snakemake(workdir, "results/repeat/dubbed.mp4", "--config", "tts_backend=openai", env=api_env(api))
    assert api.requests == []
    for mode in ("per-segment", "async"):  # six rows saying the same words: one request
        add_video(workdir, f"same-{mode}", lambda rows: [r[:5] + [f"Same words, {mode}."] for r in rows])
        api.reset()
        run_snakemake(workdir, f"results/same-{mode}/dubbed.mp4", "--config", "tts_backend=openai",
                      f"synth_mode={mode}", env=api_env(api))
        assert [r["json"]["input"] for r in api.requests] == [f"Same words, {mode}."]


def test_dry_run_and_plan_show_only_the_stale_lines(api, tmp_path):
    workdir = lesson(tmp_path / "wf")
    dub(workdir, api, "per-segment")

    def change(rows):
        rows[2][5] = "Most water on Earth is salt water."
        return rows

    edit(workdir, change)
    api.reset()
    env = api_env(api)
    run_snakemake(workdir, "results/lesson/segments.tsv", "--config", "tts_backend=openai", env=env)  # sends nothing
    dry = run_snakemake(workdir, "-n", TARGET, "--config", "tts_backend=openai", env=env)
    assert jobs(dry.stdout, "synth") == 1 and "seg=0003" in dry.stdout
    plan = run_snakemake(workdir, "results/lesson/plan.json", "--forcerun", "plan", "--config", "tts_backend=openai",
                         env=clean_env())  # planning needs no key
    summary = json.loads((workdir / "results" / "lesson" / "plan.json").read_text())
    assert summary["to_synthesize"] == 1 and summary["to_synthesize_ids"] == ["0003"]
    assert summary["up_to_date"] == 5 and summary["characters"] == len("Most water on Earth is salt water.")
    assert summary["cost_usd"] == pytest.approx(len("Most water on Earth is salt water.") * 15 / 1e6, abs=1e-4)
    assert "to synthesize         1" in plan.stdout
    assert api.requests == []


def test_voice_changes_in_any_mode_order_send_exactly_what_the_new_voice_needs(api, tmp_path):
    # Before: a voice change right after switching modes sent nothing and the dub kept the old voice
    # (per-segment jobs could not see that the async batch had written their WAVs with another voice).
    workdir = lesson(tmp_path / "wf")
    tts = workdir / "results" / "lesson" / "tts"

    def audio():
        return {p.name: p.read_bytes() for p in sorted(tts.glob("*.wav"))}

    sent, _ = dub(workdir, api, "async", "tts_voice=alloy")
    assert len(sent) == 6
    alloy = audio()
    dub(workdir, api, "per-segment", "tts_voice=nova")
    voices = [r["json"]["voice"] for r in api.requests if r["path"] == "/v1/audio/speech"]
    assert voices == ["nova"] * 6  # every line, in the new voice
    nova = audio()
    assert all(nova[name] != alloy[name] for name in alloy)
    assert dub(workdir, api, "async", "tts_voice=nova")[0] == []  # mode switch alone: nothing
    assert audio() == nova
    assert dub(workdir, api, "per-segment", "tts_voice=alloy")[0] == []  # back to alloy: all from the cache
    assert audio() == alloy  # and the dub speaks alloy again
