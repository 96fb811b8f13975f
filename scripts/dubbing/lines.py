"""Dub lines from recognized words: sentence-like, voiceable, no hallucinated repeats, with or without punctuation.

Pure: a time-ordered list of words (and, when known, the pauses a voice-activity detector found in the
audio) in, a list of ``Cue`` out; no I/O, no recognizer. Whisper's own segments are cut where its 30 s
decoding windows happen to end, not where the speaker stops, so lines are rebuilt from the words:

0. a word without duration gets some from its neighbours; each boundary between two words gets the
   longer of the gap between their timestamps and the audio pause nearest it (Whisper's timestamps
   often swallow a short pause into the word before it; the audio does not);
1. cut after a sentence end (``. ? ! …``) and at a long pause;
2. drop hallucinated lines (a quick repeat of the line before, or words nearly all improbable): they
   are returned with the reason, never silently lost;
3. split lines too long to voice as one at their longest inner pause (a clause end counts extra);
   words the recognizer did not punctuate (the same audio comes back with or without punctuation on
   different CPUs) are cut at every pause a sentence may end at, and split sooner, into lines of
   about a sentence's length;
4. merge pieces of sentences too short to voice into the neighbour nearest in time, when that pause is
   short (a whole sentence, however short, is never merged: it may be another speaker's).

Every other word is kept, in order.
"""

import re
from typing import NamedTuple, Optional

from .subtitles import Cue

# A line ends after a word ending in one of these (closing quotes/brackets after them allowed):
# Whisper punctuates sentence ends, and a sentence is the unit a translator and a voice handle best.
SENTENCE_END = re.compile(r"[.?!…。？！]['\"”’)\]]*$")
# ... unless the word is a common abbreviation or an initial: "Mr. Smith", "John F. Kennedy" (not "I.").
ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "etc.", "e.g.", "i.e.", "prof.", "jr.", "sr."})
INITIAL = re.compile(r"[B-HJ-Z]\.")
# A clause ends after these: the preferred place to split an over-long line.
CLAUSE_END = re.compile(r"[,;:—–-]['\"”’)\]]*$")

# A silence this long ends a line even without punctuation: people rarely pause 0.7 s inside a
# sentence (measured on the phone call: inner pauses up to 0.40 s, between sentences 0.2-1.2 s).
PAUSE_CUT_SECONDS = 0.7
# A line shorter than this is a fragment: a voice needs about half a second for even one word,
# and a slot this short forces the dub to be sped up or to run into the next line.
MIN_LINE_SECONDS = 0.6
# A fragment joins a neighbour only across a pause shorter than this; across a longer silence it
# is a separate utterance (often another speaker's "Hello?") and keeps its own line and timing.
MERGE_MAX_GAP_SECONDS = 0.5
# A recognizer that punctuates gives a sentence end at least this often (in words); below that the words
# are taken as unpunctuated (tiny.en on some CPUs), and lines are cut at pauses instead.
WORDS_PER_SENTENCE_END = 60
# Without punctuation, lines are cut at an audio pause this long: a pause is then the best sign of a
# sentence's end (the phone call's sentences are 0.02-1.2 s apart, the words in them
# up to 0.4 s, so some long sentences are split: better than lines that run two speakers together).
UNPUNCTUATED_PAUSE_CUT_SECONDS = 0.25
# Without punctuation, a line longer than this is split at its longest pause: the phone call's sentences, as a person marked them, last 0.4-4.4 s.
MAX_UNPUNCTUATED_SECONDS = 4.5
# A boundary takes the audio pause nearest it, up to this far away: Whisper's word edges are often a few
# hundred milliseconds off on conversational speech.
PAUSE_SNAP_SECONDS = 0.4
# A word given without duration (Whisper's "I@8.98-8.98") gets up to this much from the gap or word after it.
MIN_WORD_SECONDS = 0.1
# A line longer than either is split: one dub line should be one breath, and a subtitle of more
# than two lines of ~90 characters is hard to read.
MAX_LINE_SECONDS = 12.0
MAX_LINE_CHARS = 180
# An inner pause ending a clause counts this much longer when choosing where to split.
CLAUSE_BONUS_SECONDS = 0.3
# A split keeps at least this much on each side when it can, so it does not make a new fragment.
MIN_SPLIT_SIDE_SECONDS = 1.0
# A line repeating the previous line's text, this short and faster than anyone speaks is Whisper
# looping on its last sentence (tiny.en adds such a 0.1 s copy at the end of a recording), not a second
# utterance (two people saying "Hello?" one after the other is one word in a quarter second each).
REPEAT_MAX_SECONDS = 0.3
# A word below this probability is likely invented; a line of (nearly) only such words is a
# hallucination over noise or silence. Measured on speech at 0 dB SNR: real but garbled lines keep
# ~40 % of their words above it, so only "nearly all" counts.
LOW_PROBABILITY = 0.1
HALLUCINATED_SHARE = 0.8
# Whisper looping ("see you in the next video, see you in the next video, ...") crams its words
# into ~0 s; nobody says this many words a second, and a loop repeats itself.
MAX_WORDS_PER_SECOND = 12.0
LOOP_MIN_WORDS = 4
LOOP_DISTINCT_SHARE = 0.5


class Word(NamedTuple):
    start: float
    end: float
    text: str  # as the recognizer gives it: with a leading space when it starts a new word
    probability: float = 1.0
    pause: float = 0.0  # seconds of silence after it (filled in by the builder)
    speaker: Optional[int] = None  # who says it, where known (dubbing.voiceprint): a line holds one speaker


class Dropped(NamedTuple):
    start: float
    end: float
    text: str
    reason: str


def build_lines(words, speech=None):
    """Dub lines (``Cue`` with speaker "") from time-ordered recognized words."""
    return build_lines_accounted(words, speech)[0]


def build_lines_accounted(words, speech=None):
    """(lines, dropped): the dub lines and every word left out of them, as ``Dropped`` with the reason.

    ``speech``: [(start, end)] where a voice-activity detector heard speech (``dubbing.vad.speech``), if
    known: the pauses between them cut lines, and a line the detector heard is never taken for invented.
    A word's ``speaker``, where known, cuts a line where it changes, and no two speakers are ever joined.
    """
    speech = None if speech is None else sorted(speech)
    silences = [(a[1], b[0]) for a, b in zip(speech, speech[1:])] if speech else []
    words = _with_pauses(_timed([w for w in words if w.text.strip()]), silences)
    punctuated = _punctuated(words)
    lines, dropped = [], []
    for line in _cut(words, punctuated):
        reason = _hallucinated(line, lines[-1] if lines else None, speech)
        if reason:
            dropped.append(Dropped(round(line[0].start, 3), round(line[-1].end, 3), text_of(line), reason))
        else:
            lines.append(line)
    lines = [piece for line in lines for piece in _split_long(line, punctuated)]
    lines = _merge_fragments(lines, punctuated)
    return [Cue(round(line[0].start, 3), round(line[-1].end, 3), text_of(line)) for line in lines], dropped


def _timed(words):
    """Words with an end no earlier than their start, and some duration when the next word leaves room."""
    out = [w._replace(end=max(w.end, w.start)) for w in words]
    for index, word in enumerate(out):
        if word.end - word.start >= MIN_WORD_SECONDS:
            continue
        limit = out[index + 1].end if index + 1 < len(out) else word.start + MIN_WORD_SECONDS
        end = max(word.end, min(word.start + MIN_WORD_SECONDS, (word.start + limit) / 2))
        out[index] = word._replace(end=round(end, 3))
        if index + 1 < len(out) and out[index + 1].start < end:
            out[index + 1] = out[index + 1]._replace(start=round(end, 3))
    return out


def _with_pauses(words, silences):
    """Each word with the pause after it: the gap to the next word, or the audio silence nearest that boundary."""
    pauses = [max(0.0, b.start - a.end) for a, b in zip(words, words[1:])]
    boundaries = [(a.end + b.start) / 2 for a, b in zip(words, words[1:])]
    if boundaries:
        for start, end in silences:
            if end <= words[0].start or start >= words[-1].end:
                continue

            def distance(i, start=start, end=end):  # to the pause, then (inside it) to its middle
                return max(start - boundaries[i], boundaries[i] - end, 0.0), abs(boundaries[i] - (start + end) / 2)

            nearest = min(range(len(boundaries)), key=distance)
            if distance(nearest)[0] <= PAUSE_SNAP_SECONDS:
                pauses[nearest] = max(pauses[nearest], end - start)
    return [word._replace(pause=round(pause, 3)) for word, pause in zip(words, pauses + [0.0])]


def text_of(words):
    """The words' text as the recognizer spaced it ("Wager" + "-boiled" stays "Wager-boiled")."""
    return " ".join("".join(word.text for word in words).split())


def _ends_sentence(word):
    text = word.text.strip()
    if not SENTENCE_END.search(text):
        return False
    bare = text.strip("\"'“”’([")
    return bare.lower() not in ABBREVIATIONS and not INITIAL.fullmatch(bare)


def _punctuated(words):
    """Whether the recognizer punctuated these words: a sentence end at least every 60 words."""
    ends = sum(_ends_sentence(word) for word in words)
    return ends >= 1 and ends * WORDS_PER_SENTENCE_END >= len(words)


def _cut(words, punctuated):
    """Lines ending at sentence ends and long pauses; without punctuation, at every pause a sentence may end at.

    With punctuation, the pause is the words' own gap: a speaker pausing for effect inside a sentence
    ("ask ... not what your country") keeps one line."""
    lines, current = [], []
    for index, word in enumerate(words):
        current.append(word)
        following = words[index + 1] if index + 1 < len(words) else None
        pause = following.start - word.end if punctuated and following else word.pause
        cut_at = PAUSE_CUT_SECONDS if punctuated else UNPUNCTUATED_PAUSE_CUT_SECONDS
        # A change of speaker cuts anywhere without punctuation; with it, where a clause ends or the
        # words pause (the encoder's changes are a word or two late or early, a sentence is not cut for that).
        new_speaker = _speaker_changes(word, following) and (
            not punctuated or CLAUSE_END.search(word.text.strip()) or pause >= UNPUNCTUATED_PAUSE_CUT_SECONDS)
        if following is None or _ends_sentence(word) or pause >= cut_at or new_speaker:
            lines.append(current)
            current = []
    return lines


def _speaker_changes(word, following):
    return (following is not None and word.speaker is not None and following.speaker is not None
            and word.speaker != following.speaker)


def _seconds(line):
    return line[-1].end - line[0].start


def _normalized(line):
    return re.sub(r"[^\w']+", " ", text_of(line).lower()).strip()


def _heard(line, speech):
    """Whether the voice-activity detector heard speech over ``line`` (give or take Whisper's timing slack)."""
    start, end = line[0].start - PAUSE_SNAP_SECONDS, line[-1].end + PAUSE_SNAP_SECONDS
    return any(a < end and b > start for a, b in speech)


def _hallucinated(line, previous, speech=None):
    """Why the recognizer likely invented ``line`` ("" = it did not)."""
    if (previous is not None and _seconds(line) <= REPEAT_MAX_SECONDS and _normalized(line) == _normalized(previous)
            and len(line) > MAX_WORDS_PER_SECOND * max(_seconds(line), 0.01)):
        # Crammed into no time: a second person's "Hello?" after the first one's is a real line.
        return "a repeat of the line before crammed into no time (the recognizer looping)"
    if sum(word.probability < LOW_PROBABILITY for word in line) >= HALLUCINATED_SHARE * len(line) \
            and not (speech and _heard(line, speech)):
        return f"{HALLUCINATED_SHARE:.0%} or more of its words below probability {LOW_PROBABILITY}"
    said = _normalized(line).split()
    if (len(line) >= LOOP_MIN_WORDS and len(line) > MAX_WORDS_PER_SECOND * _seconds(line)
            and len(set(said)) < LOOP_DISTINCT_SHARE * len(said)):
        return f"more than {MAX_WORDS_PER_SECOND:g} words a second, repeating itself (the recognizer looping)"
    return ""


def _too_long(line, punctuated):
    most = MAX_LINE_SECONDS if punctuated else MAX_UNPUNCTUATED_SECONDS
    return _seconds(line) > most or len(text_of(line)) > MAX_LINE_CHARS


def _split_long(line, punctuated):
    """Split at the best inner boundary (longest pause, clause ends preferred), recursively."""
    if len(line) < 2 or not _too_long(line, punctuated):
        return [line]
    middle = (line[0].start + line[-1].end) / 2

    def score(index):  # boundary after line[index]
        pause = line[index].pause
        bonus = CLAUSE_BONUS_SECONDS if CLAUSE_END.search(line[index].text.strip()) else 0.0
        balanced = (_seconds(line[: index + 1]) >= MIN_SPLIT_SIDE_SECONDS
                    and _seconds(line[index + 1:]) >= MIN_SPLIT_SIDE_SECONDS)
        # ties (e.g. no pauses at all) go to the boundary nearest the middle
        return balanced, pause + bonus, -abs(line[index].end - middle)

    cut = max(range(len(line) - 1), key=score) + 1
    return _split_long(line[:cut], punctuated) + _split_long(line[cut:], punctuated)


def _merge_fragments(lines, punctuated):
    """Join each too-short piece of a sentence to the neighbour nearest in time, if the pause is short and the
    result fits. A whole sentence ("Hello?", "Oh, hello.") stays a line of its own, however short: two people
    often say such a word one after the other, and a line must never hold two speakers."""
    lines = list(lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        whole = _ends_sentence(line[-1]) and (index == 0 or _ends_sentence(lines[index - 1][-1]))
        if _seconds(line) >= MIN_LINE_SECONDS or len(lines) == 1 or whole:
            index += 1
            continue
        options = []
        if index > 0:
            options.append((lines[index - 1][-1].pause, index - 1))
        if index + 1 < len(lines):
            options.append((line[-1].pause, index + 1))
        merged = False
        for gap, other in sorted(options):
            first, second = min(index, other), max(index, other)
            joined = lines[first] + lines[second]
            if _speaker_changes(lines[first][-1], lines[second][0]):
                continue
            # Without punctuation the lines were cut at their pauses: do not undo that.
            most = MERGE_MAX_GAP_SECONDS if punctuated else UNPUNCTUATED_PAUSE_CUT_SECONDS
            if gap < most and not _too_long(joined, punctuated):
                lines[first:second + 1] = [joined]
                index = first  # the joined line may itself still be short
                merged = True
                break
        if not merged:
            index += 1
    return lines
