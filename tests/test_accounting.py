"""Word accounting (dubbing.accounting): every word dubbed, shown, or listed with why not; a lost line is named."""

import json

import pytest

from dubbing.accounting import account, count_words
from dubbing.errors import DubbingError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_line_neither_dubbed_nor_shown_is_lost_and_strict_names_it(tmp_path):
    script = write(tmp_path / "script.tsv", "id\tstart\tend\ttext\n0001\t1.0\t2.0\tHello there.\n"
                                            "0002\t3.0\t4.0\t[Music]\n0003\t5.0\t6.0\tWhere did I go?\n")
    timing = write(tmp_path / "timing.tsv", "id\tstart\tend\ttext\n0001\t1.000\t2.000\tHello there.\n")
    unspoken = write(tmp_path / "unspoken.tsv", "id\tstart\tend\tspeaker\ttext\treason\n"
                                                "0002\t3.000\t4.000\t\t[Music]\ta sound or music marker, not speech\n")
    transcript = write(tmp_path / "transcript.json", json.dumps({"segments": [], "dropped": [
        {"start": 7.0, "end": 8.0, "text": " Thank you.", "reason": "no speech heard there"}]}))
    words, summary = tmp_path / "words.tsv", tmp_path / "words_summary.json"
    result = account(script, timing, unspoken, words, summary, transcript)
    assert (result["dubbed_words"], result["subtitles_only_words"], result["left_out_words"], result["lost_words"]) \
        == (2, 1, 2, 4)
    assert result["lost_lines"] == ["0003"] and result["left_out"] == ["7.00-8.00 s 'Thank you.': no speech heard there"]
    rows = words.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "id\tstart\tend\twords\tstatus\treason\ttext" and len(rows) == 5
    with pytest.raises(DubbingError, match="1 line\\(s\\) lost between the script and the dub: 0003"):
        account(script, timing, unspoken, words, summary, transcript, strict=True)


def test_words_are_counted_as_a_listener_hears_them():
    assert count_words("It's 5 o'clock, isn't it?") == 5
    assert count_words("...") == 0 and count_words("日本語 テキスト") == 2
