"""config/schema.yaml: every key documented, and a misspelled key stops the run before any job."""

import re

import pytest
import yaml
from conftest import MEDIA, REPO, make_workdir, run_snakemake
from jsonschema import Draft202012Validator

SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())


def walk(schema, prefix=""):
    for key, sub in schema.get("properties", {}).items():
        yield prefix + key, sub
        yield from walk(sub, f"{prefix}{key}.")


def test_every_key_has_a_description_and_the_top_level_is_closed():
    assert SCHEMA["additionalProperties"] is False
    assert SCHEMA["properties"]["prices"]["additionalProperties"] is False
    undocumented = [key for key, sub in walk(SCHEMA) if not sub.get("description", "").strip()]
    assert undocumented == []


def test_config_yaml_validates_and_uses_only_schema_keys():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    Draft202012Validator(SCHEMA).validate(config)
    assert set(config) <= set(SCHEMA["properties"])


def test_keys_passed_with_config_by_tests_makefile_and_scripts_are_in_the_schema():
    used = set()
    for path in [*REPO.glob("tests/*.py"), *REPO.glob("scripts/*.py"), *REPO.glob("tools/*.py"), REPO / "Makefile"]:
        key = r"\s([a-z_]+)=" if path.name == "Makefile" else r"""["']([a-z_]+)="""  # Python: a "key=value" string
        for chunk in re.findall(r"--config((?:[^\n]*\n?){1,3})", path.read_text()):
            used.update(re.findall(key, chunk))
    assert {"tts_backend", "synth_mode", "max_concurrent"} <= used  # the scan finds them
    not_keys = {"seg", "max_speedp"}  # a dry-run output assertion; the misspelling tested below
    assert sorted(used - not_keys - set(SCHEMA["properties"])) == []


@pytest.mark.e2e
def test_a_misspelled_key_stops_the_run_naming_it(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    done = run_snakemake(workdir, "-n", "results/lesson/dubbed.mp4", "--config", "max_speedp=2", check=False)
    assert done.returncode != 0
    assert "config: unknown key 'max_speedp' (did you mean 'max_speedup'?)" in done.stdout, done.stdout[-3000:]
    assert "Job stats" not in done.stdout and "rule " not in done.stdout  # stopped before planning any job
    assert len(done.stdout) < 2000  # one clear message, not the whole schema and config


@pytest.mark.e2e
def test_a_misspelled_nested_price_backend_is_named(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    done = run_snakemake(workdir, "-n", "results/lesson/dubbed.mp4", "--config", "prices={'opnai': {'tts-1': 15}}",
                         check=False)
    assert done.returncode != 0
    assert "config: unknown key 'prices.opnai' (did you mean 'prices.openai'?)" in done.stdout, done.stdout[-3000:]


@pytest.mark.e2e
def test_a_valid_key_still_dry_runs(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    done = run_snakemake(workdir, "-n", "results/lesson/dubbed.mp4", "--config", "max_speedup=2", "mix_mode=replace")
    assert "unknown key" not in done.stdout
    assert "rule mux" in done.stdout or "mux" in done.stdout


@pytest.mark.e2e
def test_yes_no_keys_take_the_words_users_type(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    for word in ("true", "yes", "1", "false", "No", "off"):
        done = run_snakemake(workdir, "-n", "results/lesson/dubbed.mp4", "--config", f"strict_sync={word}")
        assert "not of type 'boolean'" not in done.stdout
    # ... and mean it: clone_voices=true (as the error for Piper itself suggests typing) is on.
    done = run_snakemake(workdir, "-n", "results/lesson/dubbed.mp4", "--config", "clone_voices=true", check=False)
    assert done.returncode != 0 and "voice cloning needs tts_backend elevenlabs" in done.stdout
    done = run_snakemake(workdir, "-n", "results/lesson/dubbed.mp4", "--config", "strict_sync=maybe", check=False)
    assert done.returncode != 0
    assert "config: strict_sync='maybe' is not yes or no (use true/false, yes/no, on/off or 1/0)" in done.stdout
    assert len(done.stdout) < 2000
