"""Source subtitles (SRT / WebVTT) in, dubbed SRT out."""

import pytest

from dubbing.errors import DubbingError
from dubbing.subtitles import Cue, format_srt, format_timestamp, parse_cues, read_cues

SRT = """1
00:00:01,000 --> 00:00:02,500
Hello there.

2
00:00:03,250 --> 00:00:05,000
<i>This one</i> spans
<font color="red">two lines</font>

3
01:02:03,456 --> 01:02:04,000
{\\an8}Top of the screen
"""


def test_srt_cues_in_file_order_with_multiline_text_joined_and_tags_stripped():
    assert parse_cues(SRT) == [
        Cue(1.0, 2.5, "Hello there."),
        Cue(3.25, 5.0, "This one spans two lines"),
        Cue(3723.456, 3724.0, "Top of the screen"),
    ]


def test_crlf_and_cr_line_endings_parse_like_lf():
    expected = parse_cues(SRT)
    assert parse_cues(SRT.replace("\n", "\r\n")) == expected
    assert parse_cues(SRT.replace("\n", "\r")) == expected


def test_webvtt_header_notes_cue_ids_settings_and_short_times():
    vtt = """WEBVTT - some title
Kind: captions

NOTE this is a comment
spanning two lines

intro
00:01.500 --> 00:04.000 align:start position:10%
<v Ann>Welcome</v> back

00:00:05.000 --> 00:00:06.250
Second cue
"""
    assert parse_cues(vtt) == [Cue(1.5, 4.0, "Welcome back", "Ann"), Cue(5.0, 6.25, "Second cue")]  # <v Ann> = speaker


def test_short_millisecond_fields_are_fractions_not_counts():
    cues = parse_cues("1\n00:00:01,5 --> 00:00:02,05\nHi\n")
    assert (cues[0].start, cues[0].end) == (1.5, 2.05)


def test_cue_with_no_text_is_skipped():
    cues = parse_cues("1\n00:00:01,000 --> 00:00:02,000\n\n2\n00:00:03,000 --> 00:00:04,000\nHi\n")
    assert cues == [Cue(3.0, 4.0, "Hi")]


def test_cue_ending_before_it_starts_is_an_error_naming_the_file():
    with pytest.raises(DubbingError, match=r"^subs\.srt: cue at '00:00:05,000 --> 00:00:04,000' ends before"):
        parse_cues("1\n00:00:05,000 --> 00:00:04,000\nHi\n", "subs.srt")


@pytest.mark.parametrize("text", ["", "WEBVTT\n\nNOTE nothing here\n", "just some prose\nwith lines\n"])
def test_file_without_cues_is_an_error_naming_the_file(tmp_path, text):
    path = tmp_path / "empty.srt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DubbingError, match="no subtitle cues found") as caught:
        read_cues(path)
    assert caught.value.path == str(path)


def test_read_cues_handles_utf8_bom(tmp_path):
    path = tmp_path / "bom.srt"
    path.write_bytes(b"\xef\xbb\xbf" + "1\n00:00:00,000 --> 00:00:01,000\nÇa va — 你好\n".encode("utf-8"))
    assert read_cues(path) == [Cue(0.0, 1.0, "Ça va — 你好")]


def test_read_cues_falls_back_to_cp1252_for_legacy_files(tmp_path):
    path = tmp_path / "legacy.srt"
    path.write_bytes(b"1\r\n00:00:00,000 --> 00:00:01,000\r\nCaf\xe9 \x93quoted\x94 \x80 5\r\n")
    assert read_cues(path) == [Cue(0.0, 1.0, "Café \u201cquoted\u201d € 5")]


@pytest.mark.parametrize(
    "seconds, stamp",
    [
        (0, "00:00:00,000"),
        (3723.456, "01:02:03,456"),
        (59.9996, "00:01:00,000"),
        (1.0004, "00:00:01,000"),
        (360000.001, "100:00:00,001"),
        (-0.5, "00:00:00,000"),
    ],
)
def test_format_timestamp(seconds, stamp):
    assert format_timestamp(seconds) == stamp


def test_format_srt_numbers_cues_and_prefixes_speakers():
    text = format_srt([Cue(1.0, 2.5, "Hello", "Ann"), Cue(3723.456, 3724.0, "Bye")])
    assert text == "1\n00:00:01,000 --> 00:00:02,500\n[Ann] Hello\n\n2\n01:02:03,456 --> 01:02:04,000\nBye\n"


def test_format_then_parse_round_trips():
    cues = [Cue(0.0, 0.999, "First"), Cue(1.5, 2.25, "Ünïcode — 你好 🎬"), Cue(3723.456, 3725.0, 'Say "hi"')]
    assert parse_cues(format_srt(cues)) == cues


# --- Library bugs (reported, not fixed) -------------------------------------------------------------


def test_webvtt_character_references_are_decoded():
    cues = parse_cues("WEBVTT\n\n00:01.000 --> 00:02.000\nTom &amp; Jerry &lt;3\n")
    assert cues[0].text == "Tom & Jerry <3"


def test_a_bare_less_than_sign_is_text_not_markup():
    cues = parse_cues("1\n00:00:01,000 --> 00:00:02,000\nif x < 3 and y > 2 then <i>stop</i>\n")
    assert cues[0].text == "if x < 3 and y > 2 then stop"
