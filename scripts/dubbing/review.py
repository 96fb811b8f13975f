"""The review page's view of one dub: its lines, what an edit costs, saving edits, and re-dubbing.

The page (``tools/review.py``, ``make review``) is a client of the workflow, never a second pipeline:
it reads what a run left in ``results/<video>/``, writes the user's script ``media/<video>.script.tsv``
(created from ``results/<video>/script.tsv`` on the first edit) and re-dubs by running the ordinary
Snakemake target. No web framework in here; the server only moves JSON and bytes.

Saving never loses work: the script is written atomically through ``tables``; the page sends each edited
field with the value it was edited from, so an edit made meanwhile in a text editor is merged when it
touched other lines or other fields and refused, naming the lines, when it touched the same ones (the
page keeps its edits). What would be written is first validated by the workflow's own reader
(``script.parse_script``), so the page refuses bad input with the very message a run would give.
"""

import collections
import dataclasses
import fcntl
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import threading
import time
import types
import wave
from pathlib import Path

import yaml

from . import backends, languages, rates, tables
from .errors import DubbingError
from .files import write_text_atomic
from .script import KEEP, KEEP_WORDS, KEPT, VOICE, check_within, clean_text, parse_script, spoken_text

# The fields of a line the page edits, as the script's columns.
EDITABLE = ("start", "end", "speaker", VOICE, "text", KEEP)
TIMES = ("start", "end")


class Conflict(DubbingError):
    """The script changed on disk in the same lines the page edited."""


def load_config(root, overrides=()):
    """config/config.yaml with ``--config KEY=VALUE`` overrides (values read as YAML, as Snakemake does)."""
    config = yaml.safe_load((Path(root) / "config" / "config.yaml").read_text(encoding="utf-8")) or {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise DubbingError("--config", f"{item!r} is not KEY=VALUE")
        config[key.strip()] = yaml.safe_load(value)
    return config


def version_of(data):
    return hashlib.sha256(data).hexdigest()[:16]


def _same(field, first, second):
    """Whether two values of a script field mean the same (times to the millisecond, text cleaned)."""
    if field in TIMES:
        try:
            return round(float(first), 3) == round(float(second), 3)
        except (TypeError, ValueError):
            return str(first).strip() == str(second).strip()
    if field == KEEP:
        return KEEP_WORDS.get(str(first or "").strip().lower()) == KEEP_WORDS.get(str(second or "").strip().lower())
    return clean_text(str(first or "")) == clean_text(str(second or ""))


def _field_text(field, value):
    """How the page's value is written in the script."""
    if field in TIMES:
        try:
            return f"{float(value):.3f}"
        except (TypeError, ValueError):
            return str(value).strip()  # the validation names it
    if field == KEEP:
        return "yes" if value is True or KEEP_WORDS.get(str(value or "").strip().lower()) else ""
    return str(value or "")


def _rows(path, key="id"):
    """{row[key]: row} of a table the last run wrote; {} before it did."""
    try:
        return {row[key]: row for row in tables.read_table(path)}
    except FileNotFoundError:
        return {}


def _float(value, default=0.0):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def speech_regions(npy_path):
    """[(start, end)] of the original's speech (the VAD ``original_speech`` saved), [] before a run made it."""
    import numpy as np

    from . import vad

    try:
        return vad.speech(np.load(npy_path), min_seconds=0.1)
    except FileNotFoundError:
        return []


def wav_clip(path, start, end):
    """The WAV bytes of ``path`` between ``start`` and ``end`` seconds (no decoding: the PCM frames copied)."""
    with wave.open(str(path), "rb") as src:
        rate, frames = src.getframerate(), src.getnframes()
        first = min(max(int(start * rate), 0), frames)
        last = min(max(int(end * rate), first), frames)
        src.setpos(first)
        data = src.readframes(last - first)
        out = io.BytesIO()
        with wave.open(out, "wb") as dest:
            dest.setnchannels(src.getnchannels())
            dest.setsampwidth(src.getsampwidth())
            dest.setframerate(rate)
            dest.writeframes(data)
    return out.getvalue()


@dataclasses.dataclass
class Dub:
    """One video's dub in one language, as the files of the workflow hold it."""

    root: Path
    video: str
    config: dict
    language: str = ""  # the target language's token; "" = the first (the only one with one language)

    def __post_init__(self):
        self.root = Path(self.root)
        found = languages.targets(self.config.get("target_language", "en"))
        if self.language and self.language not in found:
            raise DubbingError("LANGUAGE", f"{self.language} is not a target language of this run "
                                           f"({', '.join(found)})")
        self.language = self.language or next(iter(found))
        self.several = len(found) > 1
        self.shared = self.root / "results" / self.video
        self.folder = self.root / "results" / f"{self.video}{languages.dub_folder(self.language, self.several)}"
        name = f"{self.video}.{self.language}.script.tsv" if self.several else f"{self.video}.script.tsv"
        self.script = self.root / "media" / name
        self.generated = self.folder / "script.tsv"
        self.logs = self.root / "logs" / self.video
        self.target = f"results/{self.video}/dubbed.mp4"
        self._saving = threading.Lock()  # two tabs saving at once: one after the other, each merged

    def relative(self, path):
        return str(Path(path).relative_to(self.root))

    # --- the script ------------------------------------------------------------------------------------
    def script_source(self):
        """(path, bytes) of the script a save starts from: the user's, else the generated one."""
        for path in (self.script, self.generated):
            try:
                return path, path.read_bytes()
            except FileNotFoundError:
                continue
        raise DubbingError(self.relative(self.generated), "no script yet: dub the video once before reviewing it "
                                                          f"(make dub VIDEO=media/{self.video}.mp4)")

    def version(self, source=None):
        """What the page's edits are based on: which script and its content (``source``: a ``script_source()``
        already read, else read now)."""
        path, data = source or self.script_source()
        return f"{'user' if path == self.script else 'generated'}-{version_of(data)}"

    def save(self, base_version, edits):
        """Apply ``edits`` ([{id, base: {field: value}, new: {field: value}}]) to the script on disk and write
        ``media/<video>.script.tsv`` atomically; returns {version, saved, merged}. Raises ``Conflict`` when the
        file changed in an edited field since ``base_version``, ``DubbingError`` (the workflow's message) when
        the result would not be a valid script; nothing is written then."""
        with self._saving:
            return self._save(base_version, edits)

    def _save(self, base_version, edits):
        path, data = source = self.script_source()
        text = data.decode("utf-8-sig")
        rows = tables.parse_table(text, self.relative(path))
        columns = text.split("\n", 1)[0].rstrip("\r").split("\t")
        by_id = {row["id"]: row for row in rows}
        changed_on_disk = self.version(source) != base_version
        conflicts, saved = [], []
        for edit in edits:
            seg_id = str(edit.get("id", ""))
            row = by_id.get(seg_id)
            if row is None:
                conflicts.append(f"{seg_id} (no longer in the script)")
                continue
            clash = []
            for field, value in (edit.get("new") or {}).items():
                if field not in EDITABLE:
                    raise DubbingError(self.relative(self.script), f"id {seg_id}: {field!r} is not a field the page edits")
                on_disk = row.get(field, "")
                if _same(field, on_disk, value):
                    continue
                if not _same(field, on_disk, (edit.get("base") or {}).get(field, "")):
                    clash.append(field)
                    continue
                if field not in columns:
                    columns.append(field)
                row[field] = _field_text(field, value)
            if clash:
                conflicts.append(f"{seg_id} ({', '.join(clash)})")
            else:
                saved.append(seg_id)
        if conflicts:
            raise Conflict(self.relative(path), "changed in another program since the page loaded it, in the lines "
                                                f"you edited: {'; '.join(conflicts)}. Your edits are still in the page: "
                                                "reload to see the file as it is now, then edit again")
        new_text = tables.format_table(columns, [{**{c: "" for c in columns}, **row} for row in rows])
        segments = parse_script(new_text, self.relative(self.script))
        duration = self.duration()
        if duration:
            check_within(segments, duration, self.relative(self.script))
        if self.version() != self.version(source):
            raise Conflict(self.relative(path), "changed in another program while saving; nothing was written: save again")
        write_text_atomic(self.script, new_text)
        return {"version": self.version(), "saved": saved, "merged": changed_on_disk,
                "script": self.relative(self.script)}

    # --- what the last run made ------------------------------------------------------------------------
    def duration(self):
        try:
            return float(json.loads((self.shared / "audio" / "probe.json").read_text(encoding="utf-8"))["duration"])
        except (FileNotFoundError, KeyError, ValueError):
            return 0.0

    def state(self):
        """Everything the page shows: the script's lines with where the last dub put them and what they cost."""
        path, data = source = self.script_source()
        rows = tables.parse_table(data.decode("utf-8-sig"), self.relative(path))
        timing = _rows(self.folder / "timing.tsv")
        sync = _rows(self.folder / "sync.tsv")
        unspoken = _rows(self.folder / "unspoken.tsv")
        dubbed = {**_rows(self.folder / "segments.tsv"), **unspoken}
        voices = {speaker: row["voice"] for speaker, row in _rows(self.folder / "voices.tsv", "speaker").items()}
        lines = []
        for row in rows:
            seg_id = row["id"]
            placed, checked, last = timing.get(seg_id, {}), sync.get(seg_id, {}), dubbed.get(seg_id)
            line = {field: row.get(field, "") for field in ("id", "source_text", *EDITABLE)}
            line[KEEP] = bool(KEEP_WORDS.get(line[KEEP].strip().lower()))
            line.update({
                "placed_start": _float(placed.get("start"), None), "placed_end": _float(placed.get("end"), None),
                "displacement": _float(placed.get("displacement")), "speedup": _float(placed.get("speedup"), 1.0),
                "speech_seconds": _float(placed.get("speech_seconds"), None),
                "status": checked.get("status", ""), "vs_original": _float(checked.get("vs_original"), None),
                "unspoken": unspoken.get(seg_id, {}).get("reason", ""),
                "speaker_voice": voices.get(row.get("speaker", ""), ""),
                "changed": _changed(last, row),  # since the last dub (or never dubbed): a re-dub voices or moves it
            })
            lines.append(line)
        costs = self.costs(lines)
        for line in lines:
            line["cost"] = costs[line["id"]]
        try:
            summary = json.loads((self.folder / "sync_summary.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            summary = {}
        tts = self.config.get("tts_backend", "piper")
        return {
            "video": self.video, "language": self.language,
            "language_name": languages.name(languages.code(self.language)) if self.language else "",
            "duration": self.duration(), "script": self.relative(self.script), "script_exists": self.script.exists(),
            "from": self.relative(path), "version": self.version(source), "lines": lines,
            "speech": speech_regions(self.shared / "audio" / "speech.npy"),
            "dubbed": (self.shared / "dubbed.mp4").exists(), "backend": tts,
            "voices": self.voice_choices(), "max_speedup": float(self.config.get("max_speedup", 1.25)),
            "sync": {key: summary.get(key) for key in ("overlaps", "missing", "median_vs_original", "p90_vs_original",
                                                       "violations")},
        }

    def voice_choices(self):
        tts = self.config.get("tts_backend", "piper")
        configured = self.config.get("voices") or {}
        chosen = [*backends.info("tts", tts).voices, *(self.config.get("voice_pool") or []),
                  *configured.values(), self.config.get("tts_voice") or ""]
        return [voice for voice in dict.fromkeys(str(v) for v in chosen) if voice]

    def costs(self, lines):
        """{id: cost} for the page's lines as they stand (edited or not): characters said, the requests a
        re-dub sends for it, the speed-up its slot asks and whether it fits within ``max_speedup``."""
        tts = self.config.get("tts_backend", "piper")
        paid = rates.predicts(tts)
        max_speedup = float(self.config.get("max_speedup", 1.25))
        min_gap = float(self.config.get("min_gap", 0.1))
        from .fitting import slots_for
        from .plan import price_per_million

        price = price_per_million(self.config.get("prices") or {},
                                  backends.Settings(backend=tts, model=self.config.get("tts_model", "")))
        out, voiced = {}, []
        for line in sorted(lines, key=lambda line: _float(line.get("start"))):
            keep = line.get(KEEP) is True or KEEP_WORDS.get(str(line.get(KEEP) or "").strip().lower())
            said, reason = ("", KEPT) if keep else spoken_text(clean_text(str(line.get("text", ""))))
            if said:
                voiced.append((line, said))
            else:
                out[line["id"]] = {"characters": 0, "requests": 0, "voicings": 0, "note": reason or "nothing to say"}
        # Each voiced line's time, as the workflow gives it (the lines not voiced leave their time to it).
        spans = [types.SimpleNamespace(id=line["id"], start=_float(line.get("start")), end=_float(line.get("end")))
                 for line, _said in voiced]
        duration = self.duration() or max((span.end for span in spans), default=0.0)
        for (line, said), slot in zip(voiced, slots_for(spans, duration, min_gap)):
            window = max(slot.window, 1e-3)
            measured = line.get("speech_seconds") if not line.get("changed") else None
            natural = measured if measured else rates.natural_seconds(said, tts)
            needed = natural / window
            fits = needed <= max_speedup + 1e-6
            fresh = bool(line.get("changed"))
            cost = {"characters": len(said), "speedup": round(needed, 2), "fits": fits,
                    "requests": 1 if fresh and paid else 0,
                    "voicings": (1 + (needed > 1.0 and not paid)) if fresh else 0,
                    "price": round(len(said) * price / 1e6, 5) if fresh and paid else 0.0,
                    "note": "" if fresh else "in the last dub (nothing to send)"}
            if fresh and paid and needed > 1.0:
                cost["note"] = f"asked at {min(needed, max_speedup):.2f}x at once (one request)"
            elif fresh and not paid:
                cost["note"] = "offline voice: no request" + (f", voiced again {min(needed, max_speedup):.2f}x faster"
                                                               if needed > 1.0 else "")
            if not fits:
                cost["warning"] = (f"will not fit: about {natural:.1f} s of speech for {window:.1f} s, "
                                   f"{needed:.2f}x where max_speedup is {max_speedup:g}; shorten the text or give "
                                   "the line more time (the tail is sped up further, with a warning)")
            out[line["id"]] = cost
        return out

    # --- audio for one line ----------------------------------------------------------------------------
    def clip(self, kind, seg_id):
        """WAV bytes of one line: ``original`` (the source over the line's script time) or ``dub`` (the dub
        track where the line was placed)."""
        if kind == "original":
            path, data = self.script_source()
            row = {r["id"]: r for r in tables.parse_table(data.decode("utf-8-sig"), path)}.get(seg_id)
            if row is None:
                raise KeyError(seg_id)
            return wav_clip(self.shared / "audio" / "source.wav", _float(row["start"]) - 0.1, _float(row["end"]) + 0.1)
        placed = _rows(self.folder / "timing.tsv").get(seg_id)
        if placed is None:
            raise KeyError(seg_id)
        return wav_clip(self.folder / "dub.wav", _float(placed["start"]) - 0.05, _float(placed["end"]) + 0.1)


def _changed(last, row):
    """Whether the script ``row`` differs from ``last``, the line as the last dub used it (its row of
    ``segments.tsv``, which holds the text as said, or of ``unspoken.tsv``); None: never dubbed."""
    if last is None:
        return True
    if any(not _same(field, last.get(field, ""), row.get(field, "")) for field in ("start", "end", "speaker", VOICE)):
        return True
    if bool(KEEP_WORDS.get(row.get(KEEP, "").strip().lower())) != (last.get("reason") == KEPT):
        return True
    now = clean_text(row.get("text", ""))
    then = clean_text(last.get("text", ""))
    return not (_same("text", spoken_text(now)[0] or now, spoken_text(then)[0] or then))


_PROGRESS = re.compile(r"(\d+) of (\d+) steps \((\d+)%\) done")


class Redub:
    """One re-dub at a time per video: the ordinary Snakemake target, run in the repository, with its
    output kept for the page (and in ``logs/<video>/review-redub.log``). A second start while one runs is
    refused with why; the lock is a file lock, so two review servers of one video do not run two."""

    def __init__(self, dub, command):
        self.dub, self.command = dub, list(command)
        self.lines = collections.deque(maxlen=400)
        self.state, self.started, self.ended, self.returncode = "idle", None, None, None
        self.process, self.progress, self.message = None, None, ""
        self.voiced, self.requests = [], 0
        self._guard = threading.Lock()
        self._lock_file = None
        self._killed_before = False

    def status(self):
        with self._guard:
            return {"state": self.state, "progress": self.progress, "message": self.message,
                    "started": self.started, "seconds": round((self.ended or time.time()) - self.started, 1)
                    if self.started else None, "log": list(self.lines)[-12:], "voiced": self.voiced,
                    "requests": self.requests}

    def start(self):
        with self._guard:
            if self.state == "running":
                raise DubbingError(self.dub.target, f"a re-dub of {self.dub.video} is already running (started "
                                                    f"{time.strftime('%H:%M:%S', time.localtime(self.started))}, "
                                                    f"{self.progress or 'starting'}); wait for it to finish")
            self.dub.logs.mkdir(parents=True, exist_ok=True)
            lock_file = open(self.dub.logs / "review-redub.lock", "w")
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_file.close()
                raise DubbingError(self.dub.target, f"a re-dub of {self.dub.video} is running from another review "
                                                    "page; wait for it to finish") from None
            self._lock_file = lock_file
            self.lines.clear()
            self.state, self.started, self.ended, self.returncode = "running", time.time(), None, None
            self.progress, self.message, self.voiced, self.requests = None, "starting Snakemake", [], 0
        threading.Thread(target=self._run, daemon=True).start()

    def stop(self):
        with self._guard:
            if self.state == "running" and self.process:
                self.process.send_signal(signal.SIGINT)  # Snakemake stops its jobs and removes their partial output
                return True
        return False

    def _say(self, line):
        with self._guard:
            self.lines.append(line)
            found = _PROGRESS.search(line)
            if found:
                self.progress = f"{found.group(1)} of {found.group(2)} steps ({found.group(3)}%)"
            if line.startswith("rule ") or line.startswith("localrule "):
                self.message = "running " + line.split()[1].rstrip(":")

    def _run(self):
        log_path = self.dub.logs / "review-redub.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            with open(log_path, "w", encoding="utf-8") as log:
                if self._killed_before:  # a killed Snakemake leaves its lock: ours, since only one runs
                    subprocess.run([*self.command[:1], "--unlock", *self.command[1:]], cwd=self.dub.root,
                                   stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
                process = subprocess.Popen([*self.command, "--rerun-incomplete"], cwd=self.dub.root,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                           text=True, errors="replace")
                with self._guard:
                    self.process = process
                for line in process.stdout:
                    log.write(line)
                    log.flush()
                    self._say(line.rstrip("\n"))
                returncode = process.wait()
        except OSError as error:
            returncode, self.lines = 127, collections.deque([f"could not start Snakemake: {error}"], maxlen=400)
        self._finish(returncode)

    def _finish(self, returncode):
        voiced = sorted(path.stem for path in (self.dub.folder / "tts").glob("*.wav")
                        if path.stat().st_mtime >= self.started - 1)
        from .plan import sent_since

        requests, _chars = sent_since(self.dub.folder, self.started)
        with self._guard:
            self.ended, self.returncode, self.process = time.time(), returncode, None
            self.voiced, self.requests = voiced, requests
            self._killed_before = returncode < 0
            if returncode == 0:
                self.state = "done"
                self.message = (f"re-dub done in {self.ended - self.started:.1f} s: voiced {len(voiced)} line(s)"
                                + (f" ({', '.join(voiced[:10])}{' ...' if len(voiced) > 10 else ''})" if voiced else "")
                                + (f", {requests} request(s) sent" if requests else ""))
            elif returncode < 0:
                self.state = "stopped"
                self.message = (f"re-dub stopped ({signal.Signals(-returncode).name}); the script is saved and "
                                "nothing half-made is kept: the next re-dub redoes the interrupted steps")
            else:
                self.state = "failed"
                self.message = "re-dub failed: " + _error_line(self.lines)
            if self._lock_file:
                self._lock_file.close()
                self._lock_file = None


def _error_line(lines):
    """The line of a failed run that says what went wrong: the workflow's own one-line error (logged as
    "ERROR <file>: <problem>"), else Snakemake's."""
    lines = [line.strip() for line in lines if line.strip()]
    if any("LockException" in line or "cannot be locked" in line for line in lines):
        return ("another Snakemake run holds this folder (or a killed one left its lock): wait for it, or run "
                "make unlock VIDEO=... and re-dub")
    for line in reversed(lines):
        found = re.search(r"\bERROR\s+(.+)", line)
        if found:
            return found.group(1)
    for line in reversed(lines):
        if line.startswith("Error in rule"):
            return f"{line.rstrip(':')} (make show-logs shows its log)"
    return lines[-1] if lines else "Snakemake stopped with no output"
