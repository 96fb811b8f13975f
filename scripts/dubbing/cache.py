"""A content-addressed cache of synthesized speech, shared by every video and run.

An entry's key is the SHA-256 of everything that determines the audio: backend, model, voice,
instructions (where the model takes them), speed, output format and the normalized text; never
the API key. Entries are ``<cache_dir>/tts/<k[:2]>/<key>.wav`` with a ``.json`` beside it (what
was said, by which voice, when). Writes go to a temp file and are renamed into place, so
concurrent writers of the same key are harmless (the last identical rename wins) and a killed
writer leaves no entry. Identical lines anywhere are synthesized once; reverting an edit is free.
"""

import contextlib
import fcntl
import hashlib
import json
import shutil
import time
from pathlib import Path

from .backends import effective_instructions
from .files import atomic_output
from .script import clean_text

# Bump when the audio a key stands for changes meaning (e.g. a different post-processing).
VERSION = 1


def text_key(**identity):
    """Hex key (SHA-256) of everything that determines an answer: a line's speech, a shortened translation."""
    blob = json.dumps({"v": VERSION, **identity}, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def cache_key(settings, text):
    """Hex key for ``text`` spoken with ``settings`` (a backends.Settings)."""
    return text_key(
        backend=settings.backend,
        model=settings.model,
        voice=settings.voice,
        instructions=effective_instructions(settings),  # only what is really sent
        speed=round(float(settings.speed), 4),
        format=settings.response_format if settings.backend == "openai" else "",
        text=clean_text(text),
        # Piper speaks without its sampling noise now (tts_piper.DETERMINISTIC): older noisy entries are not reused.
        **({"noise": 0} if settings.backend == "piper" else {}),
    )


class SpeechCache:
    def __init__(self, root):
        self.root = Path(root) / "tts"

    def path(self, key):
        return self.root / key[:2] / f"{key}.wav"

    def scratch_near(self, key):
        """Where a job made for the cache only writes its speech before ``put`` (beside the entries, not among
        them: ``put`` clears an entry's own leftovers)."""
        return self.root / "scratch" / f"{key}.wav"

    def get(self, key):
        """The entry's path if present, else None."""
        path = self.path(key)
        return path if path.is_file() else None

    @contextlib.contextmanager
    def lock(self, key):
        """Hold an exclusive lock on ``key`` (across processes), so a line wanted by two jobs at
        once is requested once: the second finds it cached when the lock is released."""
        path = self.root / key[:2] / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def put(self, key, wav, meta):
        """Copy ``wav`` into the cache under ``key`` (atomically) with its metadata.

        The metadata first, the audio last: an entry exists when its WAV does, so a writer killed
        in between leaves no entry (and the next put of the key clears its temp files).
        """
        dest = self.path(key)
        with atomic_output(dest.with_suffix(".json"), ".json") as tmp:
            tmp.write_text(json.dumps({**meta, "created": time.time()}, ensure_ascii=False, sort_keys=True) + "\n",
                           encoding="utf-8")
        with atomic_output(dest, ".wav") as tmp:
            shutil.copyfile(wav, tmp)
        return dest

    def copy_to(self, key, dest):
        """Copy the entry to ``dest`` (a fresh file with a fresh mtime; never a hard link, whose
        shared mtime would make other videos' copies look changed)."""
        with atomic_output(dest, ".wav") as tmp:
            shutil.copyfile(self.path(key), tmp)

    def stats(self):
        entries = list(self.root.glob("*/*.wav")) if self.root.is_dir() else []
        size = sum(p.stat().st_size for p in entries)
        return {"entries": len(entries), "bytes": size}

    def prune(self, older_than_days):
        """Delete entries not written or used for ``older_than_days``; returns how many."""
        cutoff = time.time() - older_than_days * 86400
        removed = 0
        for wav in list(self.root.glob("*/*.wav")) if self.root.is_dir() else []:
            if max(wav.stat().st_mtime, wav.stat().st_atime) < cutoff:
                for path in (wav, wav.with_suffix(".json"), wav.with_suffix(".lock")):
                    path.unlink(missing_ok=True)
                removed += 1
        # Temp files of writers killed mid-write whose key was never written again.
        for stale in list(self.root.glob("*/.*.tmp*")) if self.root.is_dir() else []:
            with contextlib.suppress(FileNotFoundError):
                if stale.stat().st_mtime < min(cutoff, time.time() - 86400):
                    stale.unlink()
        return removed


class TextCache:
    """Answers of text models (shortened translations), shared like the speech cache: ``<cache_dir>/text/``.

    Asking the same thing again (a rerun, another video with the same line) sends nothing.
    """

    def __init__(self, root):
        self.root = Path(root) / "text"

    def get(self, key):
        try:
            return json.loads((self.root / key[:2] / f"{key}.json").read_text(encoding="utf-8"))["text"]
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def put(self, key, text, meta):
        with atomic_output(self.root / key[:2] / f"{key}.json", ".json") as tmp:
            tmp.write_text(json.dumps({**meta, "text": text, "created": time.time()}, ensure_ascii=False,
                                      sort_keys=True) + "\n", encoding="utf-8")
