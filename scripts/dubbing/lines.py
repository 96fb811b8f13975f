"""Dub lines from recognized words: sentence-like, voiceable, no hallucinated repeats.

Pure: a time-ordered list of words in, a list of ``Cue`` out; no I/O, no recognizer. Whisper's
own segments are cut where its 30 s decoding windows happen to end, not where the speaker stops,
so lines are rebuilt from the words' timestamps:

1. cut after a sentence end (``. ? ! …``) and at a long pause;
2. drop hallucinated lines (a quick repeat of the line before, or words nearly all improbable);
3. split lines too long to voice as one at their longest inner pause (a clause end counts extra);
4. merge fragments too short to voice into the neighbour nearest in time, when that pause is short.

Every other word is kept, in order.
"""

import re
from typing import NamedTuple

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
# A line longer than either is split: one dub line should be one breath, and a subtitle of more
# than two lines of ~90 characters is hard to read.
MAX_LINE_SECONDS = 12.0
MAX_LINE_CHARS = 180
# An inner pause ending a clause counts this much longer when choosing where to split.
CLAUSE_BONUS_SECONDS = 0.3
# A split keeps at least this much on each side when it can, so it does not make a new fragment.
MIN_SPLIT_SIDE_SECONDS = 1.0
# A line repeating the previous line's text and this short is Whisper looping on its last
# sentence (tiny.en adds such a 0.1 s copy at the end of a recording), not a second utterance.
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


def build_lines(words):
    """Dub lines (``Cue`` with speaker "") from time-ordered recognized words."""
    words = [Word(w.start, max(w.end, w.start), w.text, w.probability) for w in words if w.text.strip()]
    lines = []
    for line in _cut(words):
        if not _hallucinated(line, lines[-1] if lines else None):
            lines.append(line)
    lines = [piece for line in lines for piece in _split_long(line)]
    lines = _merge_fragments(lines)
    return [Cue(round(line[0].start, 3), round(line[-1].end, 3), text_of(line)) for line in lines]


def text_of(words):
    """The words' text as the recognizer spaced it ("Wager" + "-boiled" stays "Wager-boiled")."""
    return " ".join("".join(word.text for word in words).split())


def _ends_sentence(word):
    text = word.text.strip()
    if not SENTENCE_END.search(text):
        return False
    bare = text.strip("\"'“”’([")
    return bare.lower() not in ABBREVIATIONS and not INITIAL.fullmatch(bare)


def _cut(words):
    lines, current = [], []
    for index, word in enumerate(words):
        current.append(word)
        following = words[index + 1] if index + 1 < len(words) else None
        if following is None or _ends_sentence(word) or following.start - word.end >= PAUSE_CUT_SECONDS:
            lines.append(current)
            current = []
    return lines


def _seconds(line):
    return line[-1].end - line[0].start


def _normalized(line):
    return re.sub(r"[^\w']+", " ", text_of(line).lower()).strip()


def _hallucinated(line, previous):
    if previous is not None and _seconds(line) <= REPEAT_MAX_SECONDS and _normalized(line) == _normalized(previous):
        return True
    if sum(word.probability < LOW_PROBABILITY for word in line) >= HALLUCINATED_SHARE * len(line):
        return True
    said = _normalized(line).split()
    return (len(line) >= LOOP_MIN_WORDS and len(line) > MAX_WORDS_PER_SECOND * _seconds(line)
            and len(set(said)) < LOOP_DISTINCT_SHARE * len(said))


def _too_long(line):
    return _seconds(line) > MAX_LINE_SECONDS or len(text_of(line)) > MAX_LINE_CHARS


def _split_long(line):
    """Split at the best inner boundary (longest pause, clause ends preferred), recursively."""
    if len(line) < 2 or not _too_long(line):
        return [line]
    middle = (line[0].start + line[-1].end) / 2

    def score(index):  # boundary after line[index]
        pause = line[index + 1].start - line[index].end
        bonus = CLAUSE_BONUS_SECONDS if CLAUSE_END.search(line[index].text.strip()) else 0.0
        balanced = (_seconds(line[: index + 1]) >= MIN_SPLIT_SIDE_SECONDS
                    and _seconds(line[index + 1:]) >= MIN_SPLIT_SIDE_SECONDS)
        # ties (e.g. no pauses at all) go to the boundary nearest the middle
        return balanced, pause + bonus, -abs(line[index].end - middle)

    cut = max(range(len(line) - 1), key=score) + 1
    return _split_long(line[:cut]) + _split_long(line[cut:])


def _merge_fragments(lines):
    """Join each too-short line to the neighbour nearest in time, if the pause is short and the result fits."""
    lines = list(lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        if _seconds(line) >= MIN_LINE_SECONDS or len(lines) == 1:
            index += 1
            continue
        options = []
        if index > 0:
            options.append((line[0].start - lines[index - 1][-1].end, index - 1))
        if index + 1 < len(lines):
            options.append((lines[index + 1][0].start - line[-1].end, index + 1))
        merged = False
        for gap, other in sorted(options):
            first, second = min(index, other), max(index, other)
            joined = lines[first] + lines[second]
            if gap < MERGE_MAX_GAP_SECONDS and not _too_long(joined):
                lines[first:second + 1] = [joined]
                index = first  # the joined line may itself still be short
                merged = True
                break
        if not merged:
            index += 1
    return lines
