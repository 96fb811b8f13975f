"""One table format for every TSV the project writes and reads (dubbing.tables): an exact round trip."""

import json

import pytest

from dubbing import stages, tables
from dubbing.backends import Settings
from dubbing.errors import DubbingError
from dubbing.script import format_script, parse_script, read_script

AWKWARD = ['He said "hi"', '"Quoted from start to end"', "It's 5\" long", "C:\\path\\to\\file \\t \\n",
           "Ελληνικά, 日本語, עברית, emoji 🎬", "trailing space? no: collapsed", "semi;colon,comma"]


def test_any_text_comes_back_byte_for_byte():
    rows = [{"id": f"{i:04d}", "seconds": 1.0 + i, "text": text} for i, text in enumerate(AWKWARD)]
    text = tables.format_table(["id", "seconds", "text"], rows)
    assert '"""' not in text and text.count("\n") == len(rows) + 1
    back = tables.parse_table(text)
    assert [row["text"] for row in back] == AWKWARD
    assert back[0] == {"id": "0000", "seconds": "1.000", "text": 'He said "hi"'}


def test_a_tab_or_line_break_is_refused_by_column_when_writing_and_by_line_when_reading(tmp_path):
    with pytest.raises(ValueError, match="column text"):
        tables.format_table(["id", "text"], [("0001", "one\ttwo")])
    with pytest.raises(ValueError, match="column text"):
        tables.format_table(["id", "text"], [("0001", "one\ntwo")])
    bad = tmp_path / "timing.tsv"
    bad.write_text("id\ttext\n0001\tfine\n0002\tone\ttwo\n", encoding="utf-8")
    with pytest.raises(DubbingError, match=r"timing.tsv: line 3: 3 fields, the header has 2"):
        tables.read_table(bad)


def test_the_script_survives_its_own_round_trip(tmp_path):
    # Recognized (or subtitled) text -> script.tsv -> the user's copy -> read back: nothing quoted, nothing doubled.
    transcript = tmp_path / "transcript.json"
    transcript.write_text(json.dumps({"language": "en", "segments": [
        {"start": 1.0 + 3 * i, "end": 3.0 + 3 * i, "text": text, "speaker": ""} for i, text in enumerate(AWKWARD)]}))
    script = tmp_path / "script.tsv"
    stages.translate(transcript, None, script, Settings.resolve("translate", backend="none", target_language="en"))
    assert [seg.text for seg in read_script(script)] == AWKWARD
    # text and source_text: each quote written once per column
    assert script.read_text(encoding="utf-8").count('"') == 2 * sum(text.count('"') for text in AWKWARD)
    again = format_script(parse_script(script.read_text(encoding="utf-8")))
    assert again == script.read_text(encoding="utf-8")
