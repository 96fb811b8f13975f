"""The dubbing script: parsing, validation messages, cleaning and round-trips."""

import pytest

from dubbing.errors import DubbingError
from dubbing.script import (
    Segment,
    check_within,
    clean_text,
    format_script,
    make_id,
    parse_script,
    read_script,
    split_for_speech,
)

HEADER = "id\tstart\tend\tspeaker\tsource_text\ttext\n"
SHORT_HEADER = "id\tstart\tend\ttext\n"
VALID = (
    HEADER
    + "0002\t3.5\t5.25\tBob\tHola\tHello there\n"
    + "0001\t0.1234\t2.0006\tAnn\tBuenos días\tGood morning\n"
)


def rows(*lines):
    return SHORT_HEADER + "".join(line + "\n" for line in lines)


def test_valid_script_parses_into_time_ordered_segments():
    segments = parse_script(VALID)
    assert [seg.id for seg in segments] == ["0001", "0002"]
    first = segments[0]
    assert first == Segment(
        id="0001", start=0.123, end=2.001, text="Good morning", speaker="Ann", source_text="Buenos días"
    )
    assert isinstance(first.id, str)
    assert segments[1].start == 3.5 and segments[1].end == 5.25


def test_bom_and_crlf_parse_the_same_as_a_clean_file(tmp_path):
    clean = parse_script(VALID)
    assert parse_script("\ufeff" + VALID.replace("\n", "\r\n")) == clean
    assert parse_script(VALID.replace("\n", "\r")) == clean
    path = tmp_path / "script.tsv"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.replace("\n", "\r\n").encode("utf-8"))
    assert read_script(path) == clean


def test_only_id_start_end_text_are_required():
    segments = parse_script(rows("7\t1\t2\tHi"))
    assert segments == [Segment(id="7", start=1.0, end=2.0, text="Hi", speaker="", source_text="")]


def test_columns_may_come_in_any_order():
    segments = parse_script("text\tend\tid\tstart\nHi\t2\tx\t1\n")
    assert segments == [Segment(id="x", start=1.0, end=2.0, text="Hi")]


def test_whitespace_only_rows_are_skipped():
    segments = parse_script(rows("0001\t0\t1\tOne", "\t\t \t", "0002\t1\t2\tTwo"))
    assert [seg.id for seg in segments] == ["0001", "0002"]


def test_touching_segments_are_not_an_overlap():
    segments = parse_script(rows("a\t0\t1.5\tOne", "b\t1.5\t3\tTwo"))
    assert [seg.id for seg in segments] == ["a", "b"]


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("", ["empty"]),
        ("   \n\n", ["empty"]),
        (SHORT_HEADER, ["header but no segments"]),
        ("id\tbegin\tfinish\ttext\n1\t0\t1\tHi\n", ["missing column", "start", "end"]),
        ("id start end text\n1 0 1 Hi\n", ["missing column", "start, end, text"]),
        (rows("0001\tabc\t2\tHi"), ["line 2", "0001", "start", "'abc'", "not a number"]),
        (rows("0001\t1\t2\tHi", "0002\t-1\t3\tHi"), ["line 3", "0002", "start", "non-negative"]),
        (rows("0001\t1\tnan\tHi"), ["line 2", "end", "non-negative"]),
        (rows("0001\t1\tinf\tHi"), ["line 2", "end", "non-negative"]),
        (rows("0001\t2\t1\tHi"), ["line 2", "0001", "end 1.000 is not after start 2.000"]),
        (rows("0001\t2\t2\tHi"), ["line 2", "not after start"]),
        (rows("0001\t0\t2\tOne", "0002\t1.5\t3\tTwo"), ["0001 and 0002 overlap", "ends at 2.000", "starts at 1.500"]),
        (rows("late\t5\t9\tTwo", "early\t0\t6\tOne"), ["early and late overlap"]),
        (rows("0001\t0\t1\tOne", "0002\t1\t2\tTwo", "0001\t2\t3\tThree"), ["line 4", "used twice", "first on line 2"]),
        (rows("0001\t0\t1\t   "), ["line 2", "0001", "text is empty"]),
        (rows("0001\t0\t1"), ["line 2", "text is empty"]),
        (rows("0001\t0\t1\t\x01\x02"), ["line 2", "text is empty"]),
        (rows("a/b\t0\t1\tHi"), ["line 2", "'a/b'", "letters, digits"]),
        (rows("../x\t0\t1\tHi"), ["line 2", "'../x'"]),
        (rows("a b\t0\t1\tHi"), ["'a b'"]),
        (rows("\t0\t1\tHi"), ["line 2", "id ''"]),
        (rows("x" * 65 + "\t0\t1\tHi"), ["line 2", "1-64"]),
    ],
    ids=[
        "empty", "blank", "header-only", "renamed-columns", "space-separated", "non-numeric-start",
        "negative-start", "nan-end", "inf-end", "end-before-start", "zero-length", "overlap", "overlap-unsorted",
        "duplicate-id", "blank-text", "missing-text", "control-only-text", "slash-id", "dotdot-id", "space-id",
        "empty-id", "long-id",
    ],
)
def test_bad_script_names_file_and_problem(text, fragments):
    with pytest.raises(DubbingError) as caught:
        parse_script(text, "dub/script.tsv")
    message = str(caught.value)
    assert message.startswith("dub/script.tsv: ")
    assert caught.value.path == "dub/script.tsv"
    for fragment in fragments:
        assert fragment in message


def test_missing_columns_message_lists_only_the_missing_ones():
    with pytest.raises(DubbingError) as caught:
        parse_script("id\tstart\tspeaker\nx\t1\tAnn\n", "s.tsv")
    message = str(caught.value)
    assert "missing column(s) end, text " in message
    assert "id | start | speaker" in message


def test_non_utf8_file_is_reported_with_its_path(tmp_path):
    path = tmp_path / "script.tsv"
    raw = SHORT_HEADER.encode() + b"0001\t0\t1\tCaf\xe9\n"
    path.write_bytes(raw)
    with pytest.raises(DubbingError) as caught:
        read_script(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "not UTF-8" in str(caught.value)
    bad_byte = raw.index(b"\xe9")
    assert f"(byte {bad_byte})" in str(caught.value)


def test_missing_file_is_reported_with_its_path(tmp_path):
    path = tmp_path / "nope.tsv"
    with pytest.raises(DubbingError, match="file not found") as caught:
        read_script(path)
    assert caught.value.path == str(path)


def test_clean_text_collapses_control_characters_tabs_and_newlines():
    assert clean_text("  Hello,\tworld!\r\n  How\x00are\x1byou?\x7f ") == "Hello, world! How are you?"
    assert clean_text(None) == ""
    assert clean_text("e\u0301") == "\u00e9"  # NFC


def test_text_is_cleaned_when_parsed():
    segments = parse_script(rows("0001\t0\t1\t  Hello \x0b  world\x07 "))
    assert segments[0].text == "Hello world"


def test_make_id_is_one_based_and_zero_padded():
    assert [make_id(0), make_id(9), make_id(9998)] == ["0001", "0010", "9999"]
    assert make_id(12344) == "12345"
    assert make_id(2, width=2) == "03"


@pytest.mark.parametrize(
    "text",
    [
        'She said "hi" and \'bye\'',
        '"quoted from the start"',
        r"C:\path\to\file \n not a newline \\",
        "naïve café – ünïcödé — ½ ∑",
        "emoji 🎬🎉 👩‍👩‍👧 flags 🇫🇷",
        "مرحبا بالعالم",
        "שלום עולם",
        "你好，世界。こんにちは",
        "a,b;c|d",
    ],
)
def test_format_then_parse_round_trips_exactly(text):
    segments = [
        Segment(id="0001", start=0.0, end=1.5, text=text, speaker="Ann \"A\" Lee", source_text=text),
        Segment(id="seg_2-b", start=1.5, end=3723.456, text="Second", speaker="", source_text=""),
    ]
    assert parse_script(format_script(segments)) == segments


def test_format_script_writes_fixed_header_and_millisecond_times():
    text = format_script([Segment(id="0001", start=1.5, end=2.25, text="Hi", speaker="Ann")])
    assert text == "id\tstart\tend\tspeaker\tsource_text\ttext\n0001\t1.500\t2.250\tAnn\t\tHi\n"


def test_check_within_names_the_segment_that_starts_after_the_video():
    segments = parse_script(rows("0001\t0\t1\tOne", "0002\t9.5\t11\tTwo"))
    check_within(segments[:1], 10.0, "s.tsv")
    check_within(segments, 10.0, "s.tsv")  # ends past the video: allowed, only the start matters
    with pytest.raises(DubbingError) as caught:
        check_within(segments, 9.5, "s.tsv")
    assert str(caught.value) == "s.tsv: segment 0002 starts at 9.500 s, after the video ends (9.500 s)"


def test_long_lines_are_cut_at_sentence_ends_without_losing_text():
    sentence = "Sentence {} is here, with a clause; and a few more words. "
    text = "".join(sentence.format(i) for i in range(200)).strip()
    parts = split_for_speech(text, 4096)
    assert len(parts) == 3 and all(len(part) <= 4096 for part in parts)
    assert all(part.endswith("more words.") for part in parts)  # every cut is at a sentence end
    assert " ".join(parts) == text  # nothing truncated, nothing reordered
    assert split_for_speech("Short.", 4096) == ["Short."]


def test_a_sentence_longer_than_the_limit_is_cut_at_clauses_then_spaces_then_anywhere():
    clauses = "one two three, " * 40
    parts = split_for_speech(clauses.strip(), 100)
    assert all(len(part) <= 100 and part.endswith(",") for part in parts[:-1])
    assert " ".join(parts) == clauses.strip()
    cjk = "这是一个很长的句子" * 50  # no spaces, no punctuation: cut anywhere, still all there
    assert "".join(split_for_speech(cjk, 100)) == cjk
    cjk_sentences = "这是一个句子。" * 50  # CJK full stops are sentence ends without a space
    parts = split_for_speech(cjk_sentences, 100)
    assert all(part.endswith("。") for part in parts) and "".join(parts) == cjk_sentences
    arabic = " ".join(["هذه جملة طويلة جدا؟"] * 30)
    parts = split_for_speech(arabic, 100)
    assert all(part.endswith("؟") for part in parts) and " ".join(parts) == arabic


def test_invisible_only_text_is_an_empty_line():
    with pytest.raises(DubbingError) as caught:
        parse_script(rows("0001\t0\t1\t\u200f\u200e\u200b"))
    assert "line 2 (id 0001): text is empty (only invisible characters)" in str(caught.value)
    kept = parse_script(rows("0001\t0\t1\tمرحبا \u200fبكم 👋 你好"))
    assert kept[0].text == "مرحبا \u200fبكم 👋 你好"  # right-to-left, CJK and emoji pass through untouched
def test_error_line_number_counts_blank_lines():
    text = SHORT_HEADER + "\n0001\tabc\t1\tHi\n"  # the bad row is on line 3
    with pytest.raises(DubbingError, match="line 3"):
        parse_script(text, "s.tsv")


def test_sub_millisecond_segment_is_rejected_or_kept_positive():
    try:
        segments = parse_script(rows("0001\t1.0001\t1.0004\tHi"), "s.tsv")
    except DubbingError:
        return
    assert segments[0].end > segments[0].start
    assert parse_script(format_script(segments)) == segments


def test_extra_fields_are_not_silently_dropped():
    try:
        segments = parse_script(rows("0001\t0\t1\tHello\tworld"), "s.tsv")
    except DubbingError as err:
        assert "line 2" in str(err)
        return
    assert "world" in segments[0].text


def test_normalizing_cues_never_drops_text():
    from dubbing.script import MIN_CUE_SECONDS, normalize_cues
    from dubbing.subtitles import Cue

    cues = [
        Cue(1.0, 3.0, "First line.", "A"),
        Cue(2.9, 4.0, "Overlaps the first a little.", "A"),  # the first ends where this starts
        Cue(22.70, 22.71, "A sentence of ten milliseconds.", ""),  # the phone call's lost sentence
        Cue(30.0, 32.0, "Two people", "A"),
        Cue(30.0, 31.0, "at once.", "B"),  # same start, other speaker: one after the other
        Cue(40.0, 42.0, "Said twice.", "A"),
        Cue(40.0, 42.0, "Said twice.", "A"),  # an exact duplicate: said once
        Cue(50.0, 50.0, "Zero length,", "A"),
        Cue(50.0, 51.0, "then more.", "A"),  # same speaker, same start: one line
    ]
    out = normalize_cues(cues)
    words = " ".join(cue.text for cue in out).split()
    assert words == "First line. Overlaps the first a little. A sentence of ten milliseconds. Two people at once. " \
                    "Said twice. Zero length, then more.".split()
    assert all(b.start >= a.end - 1e-9 for a, b in zip(out, out[1:]))
    assert all(cue.end - cue.start >= MIN_CUE_SECONDS - 1e-9 for cue in out)
    assert [(c.start, c.end, c.speaker) for c in out if c.text in ("Two people", "at once.")] == \
        [(30.0, 31.111, "A"), (31.111, 32.0, "B")]  # the 2 s shared 10:8, by their text
    assert (out[0].start, out[0].end, out[1].start) == (1.0, 2.9, 2.9)
