"""The dub-line builder (dubbing.lines) on made-up words: where lines are cut, merged, split and dropped."""

from dubbing import lines
from dubbing.lines import Word, build_lines


def said(*spans):
    """Words from (start, text) or (start, end, text) spans: one word each, a leading space like Whisper's."""
    words = []
    for span in spans:
        start, end, text = span if len(span) == 3 else (span[0], span[0] + 0.3, span[1])
        words.append(Word(start, end, " " + text, 0.9))
    return words


def sentence(start, text, step=0.3, probability=0.9):
    """One word every ``step`` seconds from ``start``, each ``step`` long (no pauses inside)."""
    return [Word(round(start + i * step, 3), round(start + (i + 1) * step, 3), " " + word, probability)
            for i, word in enumerate(text.split())]


def texts(cues):
    return [cue.text for cue in cues]


def all_words(cues):
    return " ".join(cue.text for cue in cues).split()


def test_a_line_ends_at_each_sentence_end():
    words = sentence(1.0, "I didn't know you were there.") + sentence(3.0, "Neither did I.") + \
        sentence(4.2, "This is Diane in New Jersey?")
    cues = build_lines(words)
    assert texts(cues) == ["I didn't know you were there.", "Neither did I.", "This is Diane in New Jersey?"]
    assert [(cue.start, cue.end) for cue in cues] == [(1.0, 2.8), (3.0, 3.9), (4.2, 6.0)]
    assert all(cue.speaker == "" for cue in cues)


def test_abbreviations_and_initials_do_not_end_a_sentence():
    cues = build_lines(sentence(0.0, "Mr. Smith met John F. Kennedy today."))
    assert texts(cues) == ["Mr. Smith met John F. Kennedy today."]


def test_a_long_pause_ends_a_line_inside_punctuated_text():
    pause = lines.PAUSE_CUT_SECONDS
    words = sentence(0.0, "so we went down to the river") + sentence(2.1 + pause + 0.1, "and the water was cold.")
    cues = build_lines(words)
    assert texts(cues) == ["so we went down to the river", "and the water was cold."]
    # a shorter pause inside a sentence does not cut it
    words = sentence(0.0, "so we went down to the river") + sentence(2.1 + pause - 0.2, "and the water was cold.")
    assert texts(build_lines(words)) == ["so we went down to the river and the water was cold."]


def test_without_punctuation_every_pause_a_sentence_may_end_at_ends_a_line():
    # No sentence end at all (tiny.en on some CPUs): a quarter-second pause is the best sign of one.
    cut = lines.UNPUNCTUATED_PAUSE_CUT_SECONDS
    words = sentence(0.0, "so we went down to the river") + sentence(2.1 + cut + 0.05, "and the water was cold")
    assert texts(build_lines(words)) == ["so we went down to the river", "and the water was cold"]
    words = sentence(0.0, "so we went down to the river") + sentence(2.1 + cut - 0.1, "and the water was cold")
    assert texts(build_lines(words)) == ["so we went down to the river and the water was cold"]


def test_a_pause_the_audio_has_cuts_where_the_word_times_show_none():
    # Whisper's times run the words together; the voice-activity detector heard 0.3 s of silence near 2.1 s.
    words = sentence(0.0, "so we went down to the river") + sentence(2.1, "and the water was cold")
    assert len(build_lines(words)) == 1
    speech = [(0.0, 1.9), (2.2, 3.6)]
    assert texts(build_lines(words, speech)) == ["so we went down to the river", "and the water was cold"]
    # a pause farther than PAUSE_SNAP_SECONDS from any word boundary is not taken for this one
    long_word = [Word(0.0, 3.0, " sooooo", 0.9), Word(3.0, 3.3, " well", 0.9)]  # one boundary, at 3.0 s
    far = [(0.0, 1.0), (1.4, 3.3)]  # a pause at 1.0-1.4 s, inside the long word
    assert len(build_lines(long_word, far)) == 1
    near = [(0.0, 2.5), (2.9, 3.3)]
    assert len(build_lines(long_word, near)) == 2


def test_a_whole_sentence_keeps_its_own_line_however_short():
    # "Oh, hello." lasts 0.4 s, 0.1 s before the next sentence: it may be another speaker's, never merged.
    words = sentence(0.0, "Good morning everyone.") + said((2.9, 3.1, "Oh,"), (3.1, 3.3, "hello.")) + \
        sentence(3.4, "I didn't know you were there.")
    assert texts(build_lines(words)) == ["Good morning everyone.", "Oh, hello.", "I didn't know you were there."]


def test_a_word_without_duration_gets_time_from_the_next_one():
    words = [Word(1.0, 1.0, " I", 0.9), Word(1.0, 1.4, " know.", 0.9)]
    cue, = build_lines(words)
    assert (cue.start, cue.end, cue.text) == (1.0, 1.4, "I know.")
    assert lines._timed(words)[0].end == 1.1 and lines._timed(words)[1].start == 1.1


def test_a_fragment_after_a_long_silence_keeps_its_own_line():
    # Another speaker's quick "Hello?" a second after the previous line is its own utterance.
    words = sentence(0.0, "Hello?") + said((1.5, 1.9, "Hello?")) + sentence(3.0, "Oh, hello there.")
    cues = build_lines(words)
    assert texts(cues) == ["Hello?", "Hello?", "Oh, hello there."]


def test_an_over_long_sentence_is_split_at_its_longest_pause():
    # 50 words ending in one full stop, 0.3 s each, one 0.5 s pause after word 20: 15.5 s in all.
    first = sentence(0.0, " ".join(f"a{i}" for i in range(20)))
    second = sentence(6.5, " ".join(f"b{i}" for i in range(30)) + ".")
    cues = build_lines(first + second)
    assert texts(cues) == [" ".join(f"a{i}" for i in range(20)), " ".join(f"b{i}" for i in range(30)) + "."]
    assert all(cue.end - cue.start <= lines.MAX_LINE_SECONDS for cue in cues)


def test_an_over_long_sentence_without_pauses_is_split_at_a_clause_end():
    words = sentence(0.0, " ".join(["word"] * 25 + ["clause,"] + ["word"] * 19 + ["end."]))  # 13.8 s, no pauses
    cues = build_lines(words)
    assert [len(cue.text.split()) for cue in cues] == [26, 20]
    assert cues[0].text.endswith("clause,")


def test_without_punctuation_a_line_is_at_most_a_sentence_long():
    words = sentence(0.0, " ".join(f"w{i}" for i in range(46)))  # 13.8 s, no pauses, no punctuation
    cues = build_lines(words)
    assert all(cue.end - cue.start <= lines.MAX_UNPUNCTUATED_SECONDS for cue in cues) and len(cues) == 4
    assert all_words(cues) == [w.text.strip() for w in words]


def test_an_over_long_line_by_characters_is_split():
    long_words = " ".join(["extraordinarily"] * 14)  # 223 characters in 4.2 s
    cues = build_lines(sentence(0.0, long_words))
    assert len(cues) == 2 and all(len(cue.text) <= lines.MAX_LINE_CHARS for cue in cues)
    assert all_words(cues) == long_words.split()


def test_a_quick_repeat_of_the_last_line_is_dropped():
    # tiny.en repeats the phone call's last sentence as an extra 0.1 s line.
    last = "Oh, I don't hear that in New Jersey now."
    words = sentence(26.0, "They call me a Yankee down here.") + sentence(28.0, last, step=0.25)
    words += [Word(30.3 + i * 0.01, 30.3 + (i + 1) * 0.01, " " + w, 0.6) for i, w in enumerate(last.split())]
    cues = build_lines(words)
    assert texts(cues) == ["They call me a Yankee down here.", last]
    assert cues[-1].end == 30.25


def test_a_real_repeat_is_kept():
    # Two people saying "Hello?" one after the other, each for half a second.
    words = said((6.7, 7.2, "Hello?"), (7.6, 8.1, "Hello?"), (8.4, 8.6, "Oh,"), (8.6, 8.9, "hello."))
    assert all_words(build_lines(words)) == ["Hello?", "Hello?", "Oh,", "hello."]


def test_a_line_of_improbable_words_is_dropped():
    words = sentence(0.0, "We went to the river.") + sentence(3.0, "Thank you for watching.", probability=0.02) + \
        sentence(6.0, "The water was cold.")
    assert texts(build_lines(words)) == ["We went to the river.", "The water was cold."]


def test_a_looping_line_crammed_into_no_time_is_dropped():
    loop = " ".join(["see you in the next video,"] * 8)
    words = sentence(0.0, "We went to the river.") + [
        Word(1.6, 1.6 + 0.001 * i, " " + w, 0.8) for i, w in enumerate(loop.split())]
    assert texts(build_lines(words)) == ["We went to the river."]


def test_every_other_word_is_kept_in_order():
    words = (sentence(0.0, "Hello.") + sentence(1.6, "Hi.") + said((2.8, 3.0, "Oh,"), (3.0, 3.2, "hello."))
             + sentence(3.3, "I didn't know you were there and then I thought you know I heard a beep "
                             "and this is Diane in New Jersey and I'm Sheila in Texas originally from "
                             "Chicago oh I'm originally from Chicago also")
             + sentence(16.0, "Well, there isn't that much difference.", step=0.4))
    cues = build_lines(words)
    assert all_words(cues) == [w.text.strip() for w in words]
    assert [cue.start for cue in cues] == sorted(cue.start for cue in cues)
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))
    assert all(cue.end - cue.start <= lines.MAX_LINE_SECONDS and len(cue.text) <= lines.MAX_LINE_CHARS
               for cue in cues)


def test_words_without_text_are_ignored_and_no_words_make_no_lines():
    assert build_lines([]) == []
    assert texts(build_lines(sentence(0.0, "One more time.") + [Word(1.0, 1.1, "  ", 0.9)])) == ["One more time."]
