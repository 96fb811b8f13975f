"""The line builder on what the recognizer really heard in a real phone call, on two kinds of CPU.

tiny.en returns the call punctuated on one CPU and without a single full stop on another (AVX against
AVX2/AVX-512; tests/data/realspeech/words/, recorded with tools/record_words.py together with the
Silero VAD's speech probabilities). The builder must make dub lines of the same kind from both, and no
test here runs a model, so the answer is the same on every machine.
"""

import json

import pytest

from conftest import DATA
from dubbing import lines, vad
from dubbing.lines import Word, build_lines_accounted

REAL = DATA / "realspeech"
VARIANTS = {"punctuated": "pyannote_sample.avx.json", "unpunctuated": "pyannote_sample.avx512.json"}
# A line may run into another speaker's turn by this much: the RTTM's own turn edges, the human STM's
# and Whisper's word edges each differ by a tenth of a second or more.
OTHER_SPEAKER_SECONDS = 0.3
WORD_EDGE_SECONDS = 0.35


def recorded(variant, speakers=True):
    """(words, speech): the recognizer's words (with the speaker dubbing.voiceprint told for each, as recorded
    with them, unless ``speakers`` is False) and where the VAD heard speech."""
    heard = json.loads((REAL / "words" / VARIANTS[variant]).read_text(encoding="utf-8"))
    words = [Word(w["start"], w["end"], w["text"], w["probability"]) for s in heard["segments"] for w in s["words"]]
    if speakers:
        words = [word._replace(speaker=label) for word, label in zip(words, heard["speakers"], strict=True)]
    return words, vad.speech(heard["vad"])


def turns():
    """(start, end, speaker) per RTTM turn."""
    out = []
    for line in (REAL / "pyannote_sample.rttm").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        out.append((float(fields[3]), float(fields[3]) + float(fields[4]), fields[7]))
    return out


def alone_seconds(start, end, speaker, rttm, step=0.01):
    """Seconds of [start, end] in which ``speaker`` speaks and nobody else does (RTTM)."""
    count = 0
    for i in range(int(round((end - start) / step))):
        t = start + (i + 0.5) * step
        speaking = {who for a, b, who in rttm if a <= t < b}
        count += speaking == {speaker}
    return count * step


def other_speaker_seconds(cue, rttm):
    """Seconds of the line when only someone other than its main speaker speaks."""
    by_speaker = {who: alone_seconds(cue.start, cue.end, who, rttm) for who in {t[2] for t in rttm}}
    main = max(by_speaker, key=by_speaker.get)
    return sum(seconds for who, seconds in by_speaker.items() if who != main)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_call_gives_sentence_sized_lines_with_or_without_punctuation(variant):
    words, speech = recorded(variant)
    cues, dropped = build_lines_accounted(words, speech)
    assert 9 <= len(cues) <= 13, [cue.text for cue in cues]  # the person who transcribed it made 13
    assert dropped == []  # every word heard is in a line, in order
    assert " ".join(cue.text for cue in cues).split() == [w.text.strip() for w in words]
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))
    for cue in cues:
        assert 0.2 <= cue.end - cue.start <= lines.MAX_UNPUNCTUATED_SECONDS, cue


def test_with_punctuation_no_line_holds_two_speakers():
    words, speech = recorded("punctuated")
    cues = build_lines_accounted(words, speech)[0]
    rttm = turns()
    assert all(cue.text[-1] in ".?!" for cue in cues)
    # Diane's "Hello?", Sheila's "Hello?" and Diane's "Oh, hello." stay three lines.
    assert [cue.text for cue in cues[:3]] == ["Hello.", "Hello.", "Oh, hello."]
    assert [round(other_speaker_seconds(cue, rttm), 2) for cue in cues] == [0.0] * len(cues) or \
        max(other_speaker_seconds(cue, rttm) for cue in cues) <= OTHER_SPEAKER_SECONDS


def test_without_punctuation_no_line_holds_two_speakers():
    # Without a full stop, nothing but the voices tells where Diane's "I didn't know you were there" ends and
    # Sheila's "Neither did I" (heard as "I needed to say") begins: no pause, no punctuation.
    words, speech = recorded("unpunctuated")
    cues = build_lines_accounted(words, speech)[0]
    rttm = turns()
    # Whisper's own word edges move by this much between the two recordings: "and" (Sheila's) starts at
    # 14.16 s here and 14.44 s in the punctuated one, inside the last 0.33 s of Diane's turn.
    assert max(other_speaker_seconds(cue, rttm) for cue in cues) <= WORD_EDGE_SECONDS
    texts = [cue.text for cue in cues]
    assert "I needed to say" in texts  # Sheila's words alone, between two of Diane's
    assert any(text.startswith("and I'm Sheila") for text in texts)
    # Without the voices, three lines held two people (1.06 s of the other speaker in one).
    blind = build_lines_accounted(recorded("unpunctuated", speakers=False)[0], speech)[0]
    assert sum(other_speaker_seconds(cue, rttm) > WORD_EDGE_SECONDS for cue in blind) == 3


def test_the_voices_do_not_cut_a_punctuated_sentence():
    # The encoder's changes fall a word early or late; with punctuation they cut only at clause ends.
    words, speech = recorded("punctuated")
    with_voices = build_lines_accounted(words, speech)[0]
    assert with_voices == build_lines_accounted(recorded("punctuated", speakers=False)[0], speech)[0]
    assert len(with_voices) == 13


def test_two_speakers_are_never_joined_into_one_line():
    # Two short sentences a pause apart would be joined as fragments, but not across a change of voice.
    hello = [Word(1.0, 1.3, " Hi", speaker=0), Word(1.5, 1.8, " there", speaker=1)]
    assert [cue.text for cue in build_lines_accounted(hello)[0]] == ["Hi", "there"]
    same = [word._replace(speaker=0) for word in hello]
    assert [cue.text for cue in build_lines_accounted(same)[0]] == ["Hi there"]


def test_without_punctuation_lines_are_cut_at_the_pauses_the_audio_has():
    # Whisper's word times swallow the call's pauses (no gap at all between "Chicago" and "oh"); the VAD
    # hears 0.26 s there and 0.32 s before "well": both are line ends, as they are turn ends in the RTTM.
    words, speech = recorded("unpunctuated", speakers=False)
    cues = build_lines_accounted(words, speech)[0]
    starts = [cue.text.split()[0] for cue in cues]
    assert "oh" in starts and "well" in starts
    without_vad = build_lines_accounted(words)[0]
    assert len(without_vad) < len(cues)


def test_the_vad_keeps_a_real_word_the_recognizer_doubts():
    # The unpunctuated output's first "hello" has probability below 0.1, but the VAD heard a voice there.
    words, speech = recorded("unpunctuated")
    assert words[0].probability < lines.LOW_PROBABILITY
    assert build_lines_accounted(words, speech)[0][0].text == "hello"
    alone = words[:1]  # as a line of its own, without the VAD it is taken for invented, and listed with why
    assert build_lines_accounted(alone) == ([], [lines.Dropped(7.28, 7.86, "hello", lines._hallucinated(alone, None))])
    assert [cue.text for cue in build_lines_accounted(alone, speech)[0]] == ["hello"]


def test_the_vad_hears_the_speech_a_person_marked_in_the_call():
    # The measurement the sync check makes of the original, validated on the human speaker turns (RTTM).
    heard = json.loads((REAL / "words" / VARIANTS["punctuated"]).read_text(encoding="utf-8"))
    probs = heard["vad"]
    times = [(i + 0.5) * vad.FRAME_SECONDS for i in range(len(probs))]
    rttm = turns()
    marked = [any(a <= t < b for a, b, _ in rttm) for t in times]
    found = [p >= vad.THRESHOLD for p in probs]
    agreement = sum(m == f for m, f in zip(marked, found)) / len(probs)
    assert agreement >= 0.93  # measured 0.950; the two human references disagree by 0.135 s per turn
    # Every turn that starts after a pause (silence before it in the RTTM) is found within 0.15 s.
    onsets = vad.onsets(probs)
    after_pause = [a for a, _b, _w in rttm if not any(x < a - 0.05 and y > a - 0.1 for x, y, _ in rttm)]
    assert len(after_pause) == 4  # 6.69, 7.55, 18.05 and 21.78 s
    assert all(min(abs(o - a) for o in onsets) <= 0.15 for a in after_pause), after_pause
