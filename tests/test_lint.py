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
