"""Source subtitles (SRT / WebVTT) in, dubbed SRT out."""

import logging

import pytest
from conftest import DATA

from dubbing.backends import asr_subtitles
from dubbing.errors import DubbingError
from dubbing.subtitles import Cue, decode_text, format_srt, format_timestamp, parse_cues, read_cues

SUBS = DATA / "subtitles"  # real-world shapes; tests/data/subtitles/README.md says what each reproduces

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
    with pytest.raises(DubbingError, match=r"^subs\.srt: line 2: cue at '00:00:05,000 --> 00:00:04,000' ends before"):
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


# --- Subtitles from the real world (issue 15) ----------------------------------------------------------------


def test_cues_without_blank_lines_are_separate_cues():
    cues = parse_cues("WEBVTT\n\n00:01.000 --> 00:02.000\nyeah what\n00:02.000 --> 00:03.000\nthis will happen\n")
    assert cues == [Cue(1.0, 2.0, "yeah what"), Cue(2.0, 3.0, "this will happen")]


def test_youtube_vtt_without_blank_lines():
    assert read_cues(SUBS / "youtube_no_blank_lines.vtt") == [
        Cue(1.0, 2.0, "yeah what"), Cue(2.0, 3.0, "this will happen"), Cue(3.0, 4.5, "if you don't stop now")]


def test_srt_without_blank_lines_drops_the_next_cue_number_but_keeps_a_number_said_in_a_cue():
    srt = "1\n00:00:01,000 --> 00:00:02,000\nHello\n2\n00:00:02,000 --> 00:00:03,000\nCount with me:\n42\n"
    assert parse_cues(srt) == [Cue(1.0, 2.0, "Hello"), Cue(2.0, 3.0, "Count with me: 42")]


ES = [Cue(1.0, 2.5, "¿Qué tal, señor Núñez?"), Cue(3.0, 4.0, "Muy bien — ¡gracias!")]


@pytest.mark.parametrize("name", ["utf16le_bom.srt", "utf32le_bom.srt"])
def test_utf16_and_utf32_files_with_a_byte_order_mark_are_read(name):
    assert read_cues(SUBS / name) == ES


@pytest.mark.parametrize("codec, bom", [("utf-16-be", b"\xfe\xff"), ("utf-32-be", b"\x00\x00\xfe\xff"),
                                        ("utf-16-le", b""), ("utf-16-be", b"")])
def test_big_endian_and_unmarked_utf16_are_read_too(codec, bom):
    text = "1\r\n00:00:01,000 --> 00:00:02,500\r\n¿Qué tal, señor Núñez?\r\n"
    assert parse_cues(decode_text(bom + text.encode(codec))) == ES[:1]


def test_a_byte_order_mark_on_bytes_that_do_not_follow_it_is_an_error():
    with pytest.raises(DubbingError, match=r"^x\.srt: starts with a UTF-16-LE byte-order mark but is not valid"):
        decode_text(b"\xff\xfe1\x00\n", "x.srt")  # odd number of bytes


def test_windows_1251_russian_reads_as_cyrillic_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="dubbing"):
        cues = read_cues(SUBS / "russian_cp1251.srt")
    assert [c.text for c in cues] == ["Привет! Как дела?", "Спасибо, хорошо. Я не знаю, что будет завтра.",
                                      "Это всё, что я хотел сказать."]
    assert "russian_cp1251.srt: not UTF-8; read as windows-1251, Cyrillic" in caplog.text


def test_windows_1252_french_still_reads_right():
    assert [c.text for c in read_cues(SUBS / "french_cp1252.srt")] == [
        "Ça va très bien, merci.", "Où est la bibliothèque ? « Peut-être à côté du café », dit-il.",
        "Il était une fois un garçon qui rêvait d’être pêcheur – 5 €, c’est tout."]


@pytest.mark.parametrize("codec, text", [
    ("cp1252", "Ça va très bien, merci. Où est la bibliothèque ? Peut-être à côté du café."),
    ("cp1252", "Grüß Gott! Das Mädchen hört Musik und öffnet die Tür."),
    ("cp1252", "¿Dónde está la estación? Mañana vamos a la montaña con mi niño."),
    ("cp1252", "Não sei o que você está dizendo. A informação é útil para a população."),
    ("cp1252", "Jeg kan godt lide rødgrød med fløde på en søndag."),
    ("cp1252", "He said \u201chello\u201d \u2013 and left\u2026 It\u2019s 5 \u20ac."),
    ("cp1252", "Voilà Niño, le garçon espagnol. Il était très content d'être ici à Noël."),  # one foreign letter
    ("cp1250", "Dzień dobry! Czy możesz mi pomóc? Chciałbym zamówić kawę i ciastko."),
    ("cp1250", "Příliš žluťoučký kůň úpěl ďábelské ódy. Děkuji, mám se dobře."),
    ("cp1250", "Jó napot kívánok! Köszönöm, jól vagyok. Árvíztűrő tükörfúrógép."),
    ("cp1251", "ПРИВЕТ! КАК ДЕЛА? СПАСИБО, ХОРОШО."),
    ("cp1251", "Добрий день! Як справи? Дякую, все добре. Їжак їсть яблуко."),
    ("cp1251", "Да."),
    ("koi8-r", "Привет! Как дела? Спасибо, хорошо. Я не знаю, что будет завтра."),
    ("cp1253", "Καλημέρα! Τι κάνεις; Ευχαριστώ, είμαι καλά. Πού είναι ο σταθμός;"),
    ("cp1254", "Günaydın! Nasılsınız? Teşekkür ederim, iyiyim. İstanbul çok güzel bir şehir."),
    ("cp1256", "مرحبا، كيف حالك؟ شكرا، أنا بخير. أين المحطة؟"),
    ("cp1257", "Labas rytas! Kaip sekasi? Ačiū, gerai. Šiandien graži diena."),
])
def test_legacy_code_pages_are_detected(codec, text):
    raw = f"1\r\n00:00:01,000 --> 00:00:02,000\r\n{text}\r\n".encode(codec)
    assert parse_cues(decode_text(raw)) == [Cue(1.0, 2.0, " ".join(text.split()))]


def test_an_unrecognized_legacy_encoding_is_refused_naming_the_file():
    path = SUBS / "chinese_gbk.srt"
    message = r"not UTF-8 \(line 3 has byte 0xc4\), and not text in a legacy code page .*save it as UTF-8$"
    with pytest.raises(DubbingError, match=message) as caught:
        read_cues(path)
    assert caught.value.path == str(path)


@pytest.mark.parametrize("codec, text", [("cp1253", "Ναι."), ("koi8-r", "ПРИВЕТ! КАК ДЕЛА? СПАСИБО, ХОРОШО.")])
def test_a_legacy_file_that_reads_plausibly_two_ways_is_refused_not_guessed(codec, text):
    raw = f"1\n00:00:01,000 --> 00:00:02,000\n{text}\n".encode(codec)
    message = r"^s\.srt: not UTF-8 \(line 3 has byte 0x..\), and its encoding is unclear: it reads as .* or as "
    with pytest.raises(DubbingError, match=message):
        decode_text(raw, "s.srt")


def test_odd_timestamps_whose_meaning_is_plain_are_read():
    assert [(c.start, c.end) for c in read_cues(SUBS / "odd_timestamps.srt")] == [
        (13.567, 14.0), (15.0, 16.0), (17.5, 18.25), (19.0, 20.5)]


def test_an_unreadable_timestamp_is_an_error_naming_file_and_line():
    path = SUBS / "bad_timestamp.srt"
    with pytest.raises(DubbingError) as caught:
        read_cues(path)
    assert str(caught.value) == (f"{path}: line 6: cannot read the time '00:00:75,000' in "
                                 "'00:00:03,000 --> 00:00:75,000' (expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm')")


@pytest.mark.parametrize("timing, bad", [
    ("01:13 --> 01:14", "01:13"),  # minutes:seconds or hours:minutes?
    ("00:00:01:500 --> 00:00:02:000", "00:00:01:500"),  # milliseconds or frames?
    ("00:61:00,000 --> 00:62:00,000", "00:61:00,000"),
    ("00:00:01,000 --> soon", "soon"),
])
def test_ambiguous_timestamps_are_refused_with_the_line(timing, bad):
    with pytest.raises(DubbingError, match=rf"^s\.srt: line 4: cannot read the time '{bad}'"):
        parse_cues(f"1\n00:00:00,000 --> 00:00:01,000\nOK\n{timing}\nNext\n", "s.srt")


def test_a_mangled_arrow_is_an_error_not_dialogue():
    with pytest.raises(DubbingError, match=r"^s\.srt: line 5: '00:00:02,000 -> 00:00:03,000' is not a timing line"):
        parse_cues("1\n00:00:00,000 --> 00:00:01,000\nOK\n\n00:00:02,000 -> 00:00:03,000\nLost\n", "s.srt")


def test_each_voice_in_a_cue_becomes_its_own_cue_sharing_the_time_by_text_length():
    assert read_cues(SUBS / "two_speakers.vtt") == [
        Cue(1.0, 1.308, "Hi", "Alice"), Cue(1.308, 3.0, "Hello there", "Bob"),  # 2 and 11 characters of 2 s
        Cue(4.0, 4.545, "Ready?", "Alice"), Cue(4.545, 6.0, "Yes, I am ready.", "Bob"),
        Cue(7.0, 8.0, "- Go!", "Alice"),  # a dialogue dash before the voice stays with it
    ]


def test_the_subtitles_backend_hands_on_one_cue_per_speaker():
    cues = asr_subtitles.transcribe(None, SUBS / "two_speakers.vtt", None)
    assert [(c.speaker, c.text) for c in cues[:2]] == [("Alice", "Hi"), ("Bob", "Hello there")]
