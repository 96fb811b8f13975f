"""Atomic writes: a killed job never leaves a file that looks finished."""

import contextlib
import glob
import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_output(dest, suffix=""):
    """Yield a temporary path next to ``dest``; rename it onto ``dest`` only if the block succeeds.

    ``suffix`` keeps a meaningful extension on the temporary name (ffmpeg picks formats by it).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Leftovers of a writer of this same file that was killed (SIGKILL, power loss): only one writer
    # at a time owns a file here (one Snakemake job per output, the cache's per-key lock).
    for stale in dest.parent.glob(f".{glob.escape(dest.name)}.*.tmp*"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".tmp{suffix}", dir=dest.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; results should get the usual permissions
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def scratch_file(near, suffix=""):
    """Yield a temporary path next to ``near`` that is deleted when the block ends, however it ends.

    Named like ``atomic_output``'s temporary files, so a leftover of a killed process is cleared by
    the next atomic write of ``near``.
    """
    near = Path(near)
    near.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{near.name}.", suffix=f".tmp{suffix}", dir=near.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_text_atomic(dest, text):
    """Write ``text`` to ``dest`` atomically."""
    with atomic_output(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_if_changed(dest, text):
    """Write ``text`` only when it differs from what ``dest`` holds, so unchanged files keep their mtime.

    Returns True when the file was (re)written.
    """
    dest = Path(dest)
    try:
        if dest.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    write_text_atomic(dest, text)
    return True


def append_row(path, row):
    """Append one short line to ``path`` in a single O_APPEND write: whole even when many processes append at
    once (a log of rows whose order does not matter)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(handle, row.encode("utf-8"))
    finally:
        os.close(handle)
