"""The short soak (issue 7): 30 lines through 429s, 500s, drops and truncated bodies, in both modes,
then the same run killed with SIGKILL three times and resumed. `make soak` runs 1,000 lines."""

import json
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.e2e


def test_short_soak_loses_nothing_and_resends_only_unfinished_lines(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "tools" / "soak.py"), "--segments", "30", "--seed", "3",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=1200)
    report = json.loads((tmp_path / "report.json").read_text())
    runs = {row["run"]: row for row in report["runs"]}
    assert set(runs) == {"async", "async-killed", "per-segment", "per-segment-killed"}, done.stdout[-3000:]
    for row in runs.values():
        assert row["completed"] == 30, row["run"]
        assert row["bad_audio"] == [], row["run"]  # every WAV is exactly the samples the server sent
        assert row["finished_then_resent"] == 0, row["run"]  # a finished line is never paid for twice
        assert row["same_audio_as_first_run"], row["run"]  # killed and resumed: the same dub, sample for sample
        assert row["retries"] > 0, row["run"]  # the faults really happened
    assert runs["async-killed"]["kills"] == 3 and runs["per-segment-killed"]["kills"] == 3
    assert done.returncode == 0 and "soak passed" in done.stdout, done.stdout[-3000:]
