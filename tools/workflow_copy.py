"""A throwaway copy of the workflow to run in: the one helper tests, benchmarks and the soak share.

Copies what a run needs (never `media/`, `results/` or the cache), then puts the given videos and
scripts in its `media/`, so a test or a benchmark never touches the repository's own files.
"""

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ("Snakefile", "config", "rules", "scripts", "envs", "profiles", "report", "Makefile",
                  "requirements.txt", "requirements.lock", "requirements-nodeps.lock", "tools/targets.py",
                  "tools/review.py", "tools/review_page")


def make_workdir(root, media=(), link=False):
    """A fresh copy of the workflow in ``root`` with ``media`` files ((source, name) pairs) in media/.

    ``link=True`` hard-links the media instead of copying them (an hour of video is large); only for
    files nothing rewrites in place, since a hard link shares the bytes with its source."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / part)  # keeps mtimes: the Makefile sees the venv as up to date
    (root / "media").mkdir(exist_ok=True)
    for source, name in media:
        (os.link if link else shutil.copy2)(source, root / "media" / name)
    return root
