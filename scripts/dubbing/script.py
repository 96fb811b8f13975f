"""The dubbing script: one row per segment (id, start, end, speaker, source_text, text).

Reading validates everything a later stage relies on, so a bad script fails in seconds with the
row and the problem named, before any audio is synthesized.
"""

import csv
import io
import logging
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import DubbingError

log = logging.getLogger("dubbing")

COLUMNS = ("id", "start", "end", "speaker", "source_text", "text")
# Optional: a line marked here is not dubbed; the original is heard there (its text stays in the subtitles).
KEEP = "keep_original"
KEEP_WORDS = {"": False, "no": False, "0": False, "false": False, "n": False,
              "yes": True, "1": True, "true": True, "y": True, "x": True, "keep": True}
KEPT = "keep original (the original is heard)"  # the reason unspoken.tsv gives
# Optional: the voice that says this line, instead of its speaker's (a backend voice name, or a Piper .onnx path).
VOICE = "voice"
REQUIRED = ("id", "start", "end", "text")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Segment:
    id: str
    start: float
    end: float
    text: str
    speaker: str = ""
    source_text: str = ""
    keep_original: bool = False
    voice: str = ""
    line: int = field(default=0, compare=False)  # the script file's line it was read from (0 = not from a file)

    @property
    def duration(self):
        return self.end - self.start

    def as_row(self, columns=COLUMNS):
        row = asdict(self)
        row["start"] = f"{self.start:.3f}"
        row["end"] = f"{self.end:.3f}"
        row[KEEP] = "yes" if self.keep_original else ""
        return {column: row[column] for column in columns}

    @property
    def where(self):
        """How an error names this line: its line in the script file and its id."""
        return f"line {self.line} (id {self.id})" if self.line else f"id {self.id}"


def clean_text(text):
    """Collapse whitespace and drop control characters (TTS engines choke on them)."""
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text or ""))
    return " ".join(text.split())


def speakable(text):
    """Whether ``text`` has anything to say: a letter, digit, symbol or punctuation mark, not only
    invisible format characters (direction marks, zero-width spaces)."""
    return any(unicodedata.category(char)[0] in "LNSP" for char in text)


# What subtitles mark as not spoken: sound descriptions in brackets or parentheses ("[Music]",
# "(laughs)") and sung lyrics between music notes ("♪ la la la ♪"), or a lone note.
MARKER = re.compile(r"\[[^\]]*\]|\([^)]*\)|[♪♫♬][^♪♫♬]*[♪♫♬]|[♪♫♬]")
UNSPOKEN_COLUMNS = ["id", "start", "end", "speaker", "text", "reason"]


def spoken_text(text):
    """(what a voice says, why not when nothing): ``text`` without its markers; ("", reason) for a line of
    only markers or punctuation ("[Music]", "...", "?!"), which stays in the subtitles and is not voiced."""
    said = " ".join(MARKER.sub(" ", text).split())
    if any(char.isalnum() for char in said):
        return said, ""
    if MARKER.search(text):
        return "", "a sound or music marker, not speech"
    return "", "no word to say (punctuation only)"


def make_id(index, width=4):
    """Generated segment ids are zero-padded and 1-based: 0001, 0002, ..."""
    return str(index + 1).zfill(width)


def segments_from_cues(cues):
    """Script segments (ids 0001, 0002, ...) from time-ordered cues; text starts as the source text."""
    return [
        Segment(id=make_id(i), start=cue.start, end=cue.end, text=clean_text(cue.text), speaker=cue.speaker,
                source_text=clean_text(cue.text))
        for i, cue in enumerate(cues)
    ]


def _number(value, what, where, path):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DubbingError(path, f"{where}: {what} {value!r} is not a number of seconds") from None
    if not math.isfinite(number) or number < 0:
        raise DubbingError(path, f"{where}: {what} {value!r} must be a non-negative number of seconds")
    return number


def parse_script(text, path="<script>"):
    """Parse and validate script TSV text; returns segments in time order."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DubbingError(path, "the script is empty (expected a header line: id, start, end, text)")
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise DubbingError(
            path,
            f"missing column(s) {', '.join(missing)} (header is {' | '.join(header)!r}; "
            "expected tab-separated id, start, end, text)",
        )
    reader.fieldnames = header
    segments, seen = [], {}
    for row in reader:
        line_no = reader.line_num  # physical line, counting blank lines the reader skipped
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue
        seg_id = (row.get("id") or "").strip()
        where = f"line {line_no}" + (f" (id {seg_id})" if seg_id else "")
        if row.get(None):
            raise DubbingError(
                path, f"{where}: {len(row[None])} more field(s) than the header has columns (a tab inside the text?)"
            )
        if not _ID.match(seg_id):
            raise DubbingError(path, f"{where}: id {seg_id!r} must be 1-64 letters, digits, '-' or '_'")
        if seg_id in seen:
            raise DubbingError(path, f"{where}: id {seg_id} is used twice (first on line {seen[seg_id]})")
        seen[seg_id] = line_no
        start = round(_number(row.get("start"), "start", where, path), 3) + 0.0  # + 0.0 turns -0.0 into 0.0
        end = round(_number(row.get("end"), "end", where, path), 3) + 0.0
        if end <= start:
            raise DubbingError(path, f"{where}: end {end:.3f} is not after start {start:.3f}")
        keep = (row.get(KEEP) or "").strip().lower()
        if keep not in KEEP_WORDS:
            raise DubbingError(path, f"{where}: {KEEP} {row.get(KEEP)!r} is not yes or no (leave it empty for no)")
        text_value = clean_text(row.get("text"))
        if not speakable(text_value):
            raise DubbingError(path, f"{where}: text is empty{' (only invisible characters)' if text_value else ''} "
                                     "(delete the row to leave the slot silent)")
        segments.append(
            Segment(
                id=seg_id,
                start=start,
                end=end,
                text=text_value,
                speaker=clean_text(row.get("speaker")),
                source_text=clean_text(row.get("source_text")),
                keep_original=KEEP_WORDS[keep],
                voice=clean_text(row.get(VOICE)),
                line=line_no,
            )
        )
    if not segments:
        raise DubbingError(path, "the script has a header but no segments")
    segments.sort(key=lambda seg: seg.start)
    for before, after in zip(segments, segments[1:]):
        if after.start < before.end - 1e-6:
            raise DubbingError(
                path,
                f"segments {before.id} and {after.id} overlap "
                f"({before.id} ends at {before.end:.3f}, {after.id} starts at {after.start:.3f})",
            )
    return segments


def read_script(path):
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DubbingError(path, "file not found") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DubbingError(path, f"not UTF-8 text (byte {err.start}); save the script as UTF-8") from None
    return parse_script(text, path)


# A cue shorter than this gets time from the silence after it (a zero-length word or cue from a recognizer).
MIN_CUE_SECONDS = 0.2


def _joined(first, second):
    """The text of two cues one person says together; an exact repeat is said once."""
    if " ".join(second.split()) == " ".join(first.split()):
        return first
    return f"{first} {second}"


def normalize_cues(cues):
    """Time-ordered cues with text, none overlapping the next; no text is ever dropped.

    Recognizers and subtitle files often overlap cues, and give cues without duration:
    * a cue overlapping the next is ended where the next starts, when that leaves it MIN_CUE_SECONDS;
    * cues starting together (two speakers at once, common in subtitles) are merged when one person
      says them, and laid one after the other when two people do, their common time shared by the
      length of their text;
    * a cue shorter than MIN_CUE_SECONDS gets time from the silence after it.
    """
    from .subtitles import Cue

    cues = sorted((c for c in cues if c.text.strip()), key=lambda c: c.start)  # stable: same start keeps order
    out = []
    for cue in cues:
        cue = Cue(cue.start, max(cue.end, cue.start + MIN_CUE_SECONDS), cue.text, cue.speaker)
        if out and cue.start < out[-1].end:
            last = out[-1]
            if cue.start - last.start >= MIN_CUE_SECONDS:
                out[-1] = Cue(last.start, cue.start, last.text, last.speaker)
            elif cue.speaker == last.speaker:
                out[-1] = Cue(last.start, max(last.end, cue.end), _joined(last.text, cue.text), last.speaker)
                log.info("cues at %.3f s and %.3f s overlap and have one speaker: joined into one line", last.start,
                         cue.start)
                continue
            else:
                span_end = max(last.end, cue.end, last.start + 2 * MIN_CUE_SECONDS)
                share = len(last.text) / (len(last.text) + len(cue.text))
                middle = round(last.start + (span_end - last.start) * share, 3)
                out[-1] = Cue(last.start, middle, last.text, last.speaker)
                cue = Cue(middle, span_end, cue.text, cue.speaker)
                log.info("cues of %s and %s overlap at %.3f s: laid one after the other", last.speaker or "?",
                         cue.speaker or "?", last.start)
        out.append(cue)
    return [Cue(cue.start, round(cue.end, 3), cue.text, cue.speaker) for cue in out]


def check_within(segments, duration, path):
    """Every segment must start inside the video."""
    for seg in segments:
        if seg.start >= duration:
            raise DubbingError(
                path, f"segment {seg.id} starts at {seg.start:.3f} s, after the video ends ({duration:.3f} s)"
            )


# Where a long line may be cut, best first: after a sentence, after a clause, at a space.
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f\u061f\u0964])[\"'\u201d\u2019)\]]*\s+|(?<=[\u3002\uff01\uff1f])")
_CLAUSE_END = re.compile(r"(?<=[,;:\u3001\uff0c\uff1b\uff1a\u060c\u2013\u2014])\s*")
_SPACE = re.compile(r"\s+")


def _pieces(text, pattern):
    """``text`` cut after each match of ``pattern`` (nothing is lost: the pieces join back to ``text``)."""
    pieces, start = [], 0
    for match in pattern.finditer(text):
        if match.end() > start:
            pieces.append(text[start:match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def split_for_speech(text, max_chars):
    """``text`` as parts of at most ``max_chars`` characters, cut at sentence ends where possible.

    Sentences are packed greedily into parts; a sentence longer than a part is cut at clause
    boundaries, then at spaces, then (a run with no space at all, e.g. CJK without punctuation)
    anywhere. Nothing is truncated: the parts are the text in order, less the whitespace at the
    cuts. One part (the text itself) when it fits.
    """
    if not max_chars or len(text) <= max_chars:
        return [text]

    def units(piece, patterns):
        if len(piece) <= max_chars:
            return [piece]
        if not patterns:
            return [piece[i:i + max_chars] for i in range(0, len(piece), max_chars)]
        out = []
        for sub in _pieces(piece, patterns[0]):
            out.extend(units(sub, patterns[1:]))
        return out

    parts, current = [], ""
    for unit in units(text, (_SENTENCE_END, _CLAUSE_END, _SPACE)):
        if current and len(current) + len(unit) > max_chars:
            parts.append(current)
            current = ""
        current += unit
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def long_lines(segments, max_chars):
    """{id: number of parts} for lines longer than one request may carry."""
    return {seg.id: len(split_for_speech(seg.text, max_chars)) for seg in segments
            if max_chars and len(seg.text) > max_chars}


def format_script(segments):
    """Script TSV text (tabs and newlines inside fields are already collapsed by clean_text)."""
    from .tables import format_table

    columns = (COLUMNS + ((KEEP,) if any(seg.keep_original for seg in segments) else ())
               + ((VOICE,) if any(seg.voice for seg in segments) else ()))
    return format_table(columns, [seg.as_row(columns) for seg in segments])
