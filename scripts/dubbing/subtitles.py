"""SubRip (.srt) and WebVTT (.vtt) cues: parsing source subtitles and writing the dubbed ones."""

import html
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .errors import DubbingError

log = logging.getLogger("dubbing")

# One timestamp, read leniently where the meaning is plain: [hours:]minutes:seconds[,.fraction], with the
# fraction a decimal of any length ("1,5" = 1.5 s) and seconds of up to three digits ("013" = 13). Two
# fields need the fraction (WebVTT "mm:ss.ttt"); without it "01:13" could be minutes or hours.
_STAMP = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,3})(?:[,.](\d+))?")
_TIMING = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)(?:\s.*)?$")
# A line meant as a timing line with a mangled arrow: an error, not a line of dialogue.
_BAD_ARROW = re.compile(r"^\s*\d+:\d+[\d:,.]*\s*(?:->|- ->|- >|=>|—>|–>|>)\s*\d+:\d+[\d:,.]*\s*$")
# Markup inside cue text: <i>, </b>, <font ...>, <c.class>, <00:01.000> (not a bare "x < 3"), {\an8}.
_TAGS = re.compile(r"</?(?:[A-Za-z][^<>]*|\d[\d:.]*)>|\{\\[^}]*\}")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    speaker: str = ""


# --- Reading the bytes --------------------------------------------------------------------------------------

_BOMS = (  # UTF-32 LE before UTF-16 LE: its BOM starts with UTF-16 LE's
    (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
)

# Legacy single-byte code pages tried for files that are not UTF-8, with the languages written in each:
# their non-ASCII letters, most frequent first (approximate). A reading is plausible when its non-ASCII
# letters are (nearly) all letters of one of those languages, in words of one script and a sane case
# pattern; frequent letters weigh more than rare ones. Readings of different text compete: a clear winner
# is used (and logged), a near tie is refused.
_CODE_PAGES = {
    "windows-1252": ("Western European", {
        "French": "éèàêçùâîôûëïœüÿæ", "German": "üäöß", "Spanish": "óíáéñúü", "Portuguese": "ãçéáíóõêúâàô",
        "Italian": "àèéùòìóí", "Dutch": "ëéïèöüá", "Swedish": "äåöé", "Danish/Norwegian": "øåæéó",
        "Finnish": "äöå", "Icelandic": "áðíóéúþæöý", "Catalan": "èàéòóíúïüç"}),
    "windows-1250": ("Central European", {
        "Polish": "łąęóśżćńź", "Czech": "íáéěřýčšžůúňťď", "Slovak": "áíéýčšžúôäľňťďĺŕó",
        "Hungarian": "éáöőóüíúű", "Croatian/Slovene": "čšžćđ", "Romanian": "ăîâşţ"}),
    "windows-1251": ("Cyrillic", {
        "Russian": "оеаинтсрвлкмдпуяызьбгчйхжшюцщэфъё", "Ukrainian": "оаніверитсклудмпяьзбгчхйжцшюєїщфґ",
        "Bulgarian": "оаеинтрсвлкдпмзгяъбуьчжцфйшхщю", "Serbian": "аиоенсртјвдклупмзгбчшћцжхњљђфџ"}),
    "koi8-r": ("Cyrillic, KOI8-R", {"Russian": "оеаинтсрвлкмдпуяызьбгчйхжшюцщэфъё"}),
    "windows-1253": ("Greek", {"Greek": "αοιετσνηςυρπκμλωάέίόήύώδγχθφβξζψϊϋΐΰ"}),
    "windows-1254": ("Turkish", {"Turkish": "ıüşçğöİâî"}),
    "windows-1255": ("Hebrew", {"Hebrew": "יוהמלארבשתנכעדקפםחסגןזטךצףץ"}),
    "windows-1256": ("Arabic", {
        "Arabic": "اليمونهرتبعدسفكقحجشطصىخةءأزإثضذغظآؤئ", "Persian": "اینردمهوتبسلکزشگفخقجچپعحصطآغضظثذژ"}),
    "windows-1257": ("Baltic", {"Lithuanian": "ėšųūąįčęž", "Latvian": "āēīšūņčķļģžō", "Estonian": "äõüöšž"}),
}
# Non-ASCII punctuation and symbols common in subtitles; neutral (they read the same in most code pages).
_COMMON_SYMBOLS = set("\u00a0“”‘’‚„–—…«»‹›•·°§©®™€£¥¢¡¿×±½¼¾²³µ،؛؟")
_NON_ASCII_WORD = re.compile(r"[^\W\d_]*[^\x00-\x7f\W\d_][^\W\d_]*")  # a word with a non-ASCII letter
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ENOUGH = 0.95  # share of the non-ASCII letters a plausible reading explains (or all but one)
_TIE = 0.8  # a rival reading this close (in share times weight) makes the encoding unclear


def _letter_key(char):
    lower = char.lower()
    return lower if len(lower) == 1 else char  # "İ".lower() is two characters


def _letters(text):
    """Counts of the non-ASCII letters of ``text`` that could be real (lower-cased), and of the characters
    that cannot: letters in a word mixing ASCII with another script, letters of a word whose case goes
    lower to upper ("пРИВЕТ" is mojibake, not a name), and stray symbols (¤, ¦, control characters)."""
    letters, impossible = Counter(), 0
    for word, times in Counter(_NON_ASCII_WORD.findall(text)).items():
        others = [c for c in word if not c.isascii()]
        mixed = len(others) < len(word) and any(not unicodedata.name(c, "").startswith("LATIN") for c in others)
        if mixed or any(a.islower() and b.isupper() for a, b in zip(word, word[1:])):
            impossible += len(others) * times
        else:
            for c in others:
                letters[_letter_key(c)] += times
    impossible += sum(n for c, n in Counter(_NON_ASCII.findall(text)).items()
                      if not c.isalpha() and c not in _COMMON_SYMBOLS and not unicodedata.combining(c))
    return letters, impossible


def _plausibility(letters, impossible, letters_by_frequency):
    """(share of the non-ASCII letters explained, their frequency weight relative to typical text, letters
    not explained) of a text read as one language; ``letters`` and ``impossible`` come from _letters()."""
    weights = [1 / (rank + 1) for rank in range(len(letters_by_frequency))]
    known = dict(zip(letters_by_frequency, weights))
    typical = sum(w * w for w in weights) / sum(weights)  # mean weight of text with Zipf-distributed letters
    counted = sum(letters.values()) + impossible
    if not counted:
        return 1.0, 1.0, 0
    explained = sum(n for letter, n in letters.items() if letter in known)
    weight = sum(n * known[letter] for letter, n in letters.items() if letter in known)
    return explained / counted, weight / counted / typical, counted - explained


def _decode_legacy(raw, path, error):
    """Text of a file that is not UTF-8, in the one legacy code page that reads it as plausible text."""
    line = raw.count(b"\n", 0, error.start) + 1
    where = f"not UTF-8 (line {line} has byte 0x{raw[error.start]:02x})"
    readings = {}  # text -> its best (share, weight, -order, 'codec, family')
    for order, (codec, (family, languages)) in enumerate(_CODE_PAGES.items()):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        counts = _letters(text)
        for language, letters in languages.items():
            share, weight, unexplained = _plausibility(*counts, letters)
            if share >= _ENOUGH or (unexplained <= 1 and share > 0):
                readings[text] = max(readings.get(text, ()), (share, weight, -order, f"{codec}, {family}"))
    if not readings:
        raise DubbingError(path, f"{where}, and not text in a legacy code page this tool recognizes "
                                 "(Windows 1250-1257, KOI8-R); save it as UTF-8")
    (best_text, best), *rivals = sorted(readings.items(), key=lambda item: item[1], reverse=True)
    for _, rival in rivals:
        if rival[0] * rival[1] >= _TIE * best[0] * best[1]:
            raise DubbingError(path, f"{where}, and its encoding is unclear: it reads as {best[3]} or as "
                                     f"{rival[3]}; save it as UTF-8")
    log.warning("%s: not UTF-8; read as %s", path, best[3])
    return best_text


def decode_text(raw, path="<subtitles>"):
    """Text of subtitle bytes: UTF-8/16/32 by their byte-order mark, UTF-8, UTF-16/32 without a mark, or a
    legacy Windows code page when exactly one reads as plausible text. Raises DubbingError otherwise."""
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(codec)
            except UnicodeDecodeError as error:
                raise DubbingError(path, f"starts with a {codec.upper()} byte-order mark but is not valid "
                                         f"{codec.upper()} (at byte {error.start + len(bom)})") from None
    if b"\x00" in raw:  # UTF-16/32 without a byte-order mark: the timing lines give it away
        for codec in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
            try:
                text = raw.decode(codec)
            except UnicodeDecodeError:
                continue
            if "-->" in text and "\x00" not in text:
                return text
        raise DubbingError(path, "contains NUL bytes but is not UTF-16 or UTF-32 text; save it as UTF-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _decode_legacy(raw, path, error)


def read_text(path):
    return decode_text(Path(path).read_bytes(), path)


# --- Parsing ------------------------------------------------------------------------------------------------


def _seconds(stamp):
    """Seconds of one timestamp, or None when it is not one (or its minutes or seconds are 60 or more)."""
    match = _STAMP.fullmatch(stamp)
    if not match:
        return None
    hours, minutes, seconds, fraction = match.groups()
    if (hours is None and fraction is None) or int(minutes) >= 60 or int(seconds) >= 60:
        return None
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + float(f"0.{fraction or 0}")


def _timing(line, path, number):
    match = _TIMING.match(line)
    times = [_seconds(stamp) for stamp in match.groups()] if match else [None]
    if None in times:
        bad = next(s for s, t in zip(match.groups(), times) if t is None) if match else line.strip()
        raise DubbingError(path, f"line {number}: cannot read the time {bad!r} in {line.strip()!r} "
                                 "(expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm')")
    start, end = times
    if end < start:
        raise DubbingError(path, f"line {number}: cue at {line.strip()!r} ends before it starts")
    return start, end


def _clean(raw):
    return " ".join(html.unescape(_TAGS.sub("", raw)).split())


def _speaker_cues(start, end, raw):
    """One cue per WebVTT voice (<v Name>) in the cue text, sharing its time in proportion to text length."""
    parts, speaker, position = [], "", 0
    for match in _VOICE.finditer(raw):
        parts.append([speaker, _clean(raw[position:match.start()])])
        speaker, position = match.group(1).strip(), match.end()
    parts.append([speaker, _clean(raw[position:])])
    merged = []
    for part in parts:  # punctuation alone ("- " before a voice) joins the next part
        if merged and (merged[-1][0] == part[0] or not re.search(r"\w", merged[-1][1])):
            merged[-1] = [part[0] if re.search(r"\w", part[1]) or not merged[-1][1] else merged[-1][0],
                          f"{merged[-1][1]} {part[1]}".strip()]
        elif part[1]:
            merged.append(part)
    total = sum(len(text) for _, text in merged)
    cues, done = [], 0
    for speaker, text in merged:
        begin = start + (end - start) * done / total
        done += len(text)
        cues.append(Cue(round(begin, 3), round(start + (end - start) * done / total, 3), text, speaker))
    return cues


def parse_cues(text, path="<subtitles>"):
    """Parse SRT or WebVTT text into cues, in file order. Raises DubbingError naming the file (and line)
    for a timing line it cannot read, or if nothing parses.

    A cue's text runs from its timing line to a blank line or to the next timing line (YouTube captions
    leave out the blank lines; an SRT index just before the next timing line is dropped)."""
    cues, current = [], None

    def finish(next_timing):
        start, end, lines = current
        if next_timing and lines and lines[-1].strip().isdigit():
            lines = lines[:-1]  # the next cue's number in an SRT without blank lines
        if lines:
            cues.extend(_speaker_cues(start, end, "\n".join(lines)))

    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if "-->" in line:
            if current:
                finish(next_timing=True)
            current = (*_timing(line, path, number), [])
        elif _BAD_ARROW.match(line):
            raise DubbingError(path, f"line {number}: {line.strip()!r} is not a timing line "
                                     "(expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm')")
        elif not line.strip():
            if current:
                finish(next_timing=False)
            current = None
        elif current:
            current[2].append(line)
    if current:
        finish(next_timing=False)
    if not cues:
        raise DubbingError(path, "no subtitle cues found (expected SRT or WebVTT 'HH:MM:SS,mmm --> HH:MM:SS,mmm' lines)")
    return cues


def read_cues(path):
    return parse_cues(read_text(path), path)


def format_timestamp(seconds, decimal=","):
    """HH:MM:SS,mmm (SubRip); ``decimal`` "." gives WebVTT's HH:MM:SS.mmm."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def format_srt(cues):
    """SubRip text for ``cues``; a speaker, when given, prefixes the line as ``[speaker]``."""
    blocks = []
    for number, cue in enumerate(cues, start=1):
        text = f"[{cue.speaker}] {cue.text}" if cue.speaker else cue.text
        blocks.append(f"{number}\n{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}\n{text}\n")
    return "\n".join(blocks)
