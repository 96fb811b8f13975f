"""SubRip (.srt) and WebVTT (.vtt) cues: parsing source subtitles and writing the dubbed ones."""

import html
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DubbingError

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
_CUE_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
# Markup inside cue text: <i>, </b>, <font ...>, <c.class>, <00:01.000> (not a bare "x < 3"), {\an8}.
_TAGS = re.compile(r"</?(?:[A-Za-z][^<>]*|\d[\d:.]*)>|\{\\[^}]*\}")
_VOICE = re.compile(r"<v(?:\.[^ >]*)?\s+([^>]+)>")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    speaker: str = ""


def _seconds(hours, minutes, seconds, millis):
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis.ljust(3, "0")) / 1000


def read_text(path):
    """Read a text file as UTF-8 (with or without BOM), falling back to Windows-1252 for legacy files."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def parse_cues(text, path="<subtitles>"):
    """Parse SRT or WebVTT text into cues, in file order. Raises DubbingError if nothing parses."""
    cues = []
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    for block in blocks:
        lines = [line for line in block.split("\n") if line.strip()]
        for i, line in enumerate(lines):
            match = _CUE_TIMING.match(line)
            if not match:
                continue
            start = _seconds(*match.groups()[:4])
            end = _seconds(*match.groups()[4:])
            raw = " ".join(lines[i + 1 :])
            voice = _VOICE.search(raw)  # WebVTT <v Speaker> names who speaks
            body = " ".join(html.unescape(_TAGS.sub("", raw)).split())
            if end < start:
                raise DubbingError(path, f"cue at {line.strip()!r} ends before it starts")
            if body:
                cues.append(Cue(round(start, 3), round(end, 3), body, voice.group(1).strip() if voice else ""))
            break
    if not cues:
        raise DubbingError(path, "no subtitle cues found (expected SRT or WebVTT 'HH:MM:SS,mmm --> HH:MM:SS,mmm' lines)")
    return cues


def read_cues(path):
    return parse_cues(read_text(path), path)


def format_timestamp(seconds):
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def format_srt(cues):
    """SubRip text for ``cues``; a speaker, when given, prefixes the line as ``[speaker]``."""
    blocks = []
    for number, cue in enumerate(cues, start=1):
        text = f"[{cue.speaker}] {cue.text}" if cue.speaker else cue.text
        blocks.append(f"{number}\n{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}\n{text}\n")
    return "\n".join(blocks)
