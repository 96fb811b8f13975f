"""The workflow passes Snakemake's linter and snakefmt, and a dry run plans the whole dub."""

import subprocess
import sys
from pathlib import Path

from conftest import MEDIA, REPO, SNAKEMAKE, make_workdir


def test_snakemake_lint_is_clean():
    done = subprocess.run([SNAKEMAKE, "--lint"], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Congratulations" in done.stdout + done.stderr, done.stdout + done.stderr


def test_snakefmt_check_passes():
    snakefmt = str(Path(sys.executable).parent / "snakefmt")
    done = subprocess.run([snakefmt, "--check", "Snakefile", "rules"], cwd=REPO, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dry_run_plans_every_stage(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / name, name) for name in ("demo.mp4", "demo.script.tsv")])
    done = subprocess.run([SNAKEMAKE, "-n", "results/demo/dubbed.mp4"], cwd=workdir, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for job in ("rule probe:", "rule extract_audio:", "checkpoint segments:", "rule timeline:", "rule mux:"):
        assert job in done.stdout
    assert not (workdir / "results").exists()  # a dry run writes nothing


def test_one_name_per_rule_and_keyword_arguments_from_every_rule_script():
    # rule X (rules/*.smk) -> scripts/X.py -> dubbing.stages.X, called with keyword arguments only.
    import ast
    import re

    rules = {}
    for smk in (REPO / "rules").glob("*.smk"):
        for name, script in re.findall(r"(?:rule|checkpoint) (\w+):.*?script:\s*\"\.\./scripts/(\w+)\.py\"",
                                       smk.read_text(), re.S):
            rules[name] = script
    assert len(rules) >= 19 and all(name == script for name, script in rules.items()), rules
    for name in rules:
        tree = ast.parse((REPO / "scripts" / f"{name}.py").read_text())
        imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module == "dubbing.stages" for alias in node.names]
        assert imported == [name], (name, imported)
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Name) and node.func.id == name]
        assert len(calls) == 1 and not calls[0].args, f"scripts/{name}.py: call stages.{name} with keywords only"
