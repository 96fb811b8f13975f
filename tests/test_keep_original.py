"""A line marked keep_original in the script is not dubbed: the original is heard there, its text subtitled."""

import json

import numpy as np
import pytest
from conftest import MEDIA, decode, frame_rms, make_workdir, run_snakemake

from dubbing.errors import DubbingError
from dubbing.script import KEPT, format_script, parse_script

KEEP = ("0002", 5.5, 8.926)  # the demo's second line


def marked_script():
    lines = (MEDIA / "demo.script.tsv").read_text(encoding="utf-8").splitlines()
    out = [lines[0] + "\tkeep_original"]
    out += [line + ("\tyes" if line.startswith(KEEP[0] + "\t") else "\t") for line in lines[1:]]
    return "\n".join(out) + "\n"


def test_the_column_is_read_written_back_and_refused_by_line_when_unclear():
    segments = parse_script(marked_script())
    assert [seg.id for seg in segments if seg.keep_original] == [KEEP[0]]
    assert parse_script(format_script(segments)) == segments
    assert "keep_original" not in format_script([s for s in segments if not s.keep_original]).splitlines()[0]
    bad = marked_script().replace("\tyes", "\tmaybe")
    with pytest.raises(DubbingError, match=r"line 3 \(id 0002\): keep_original 'maybe' is not yes or no"):
        parse_script(bad, "media/lesson.script.tsv")


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["duck", "separate"])
def test_a_kept_line_is_not_voiced_and_the_original_is_heard_there(tmp_path, mode):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    (workdir / "media" / "lesson.script.tsv").write_text(marked_script(), encoding="utf-8")
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", f"mix_mode={mode}")
    results = workdir / "results" / "lesson"
    assert not (results / "tts" / f"{KEEP[0]}.wav").exists()  # never voiced
    unspoken = (results / "unspoken.tsv").read_text(encoding="utf-8")
    assert f"{KEEP[0]}\t" in unspoken and KEPT in unspoken
    script_text = [line.split("\t")[5] for line in marked_script().splitlines()[1:] if line.startswith(KEEP[0])][0]
    assert script_text in (results / "dubbed.srt").read_text(encoding="utf-8")  # the translation is subtitled
    words = json.loads((results / "words_summary.json").read_text())
    assert words["lost_lines"] == [] and words["subtitles_only_words"] == len(script_text.split())
    rate = 16000
    dub = decode(results / "dub.wav", rate)
    start, end = int(KEEP[1] * rate), int(KEEP[2] * rate)
    assert np.abs(dub[start:end]).max() < 1e-3  # no dub over the kept line
    # In the mix, the kept line is the original at full level: its loudness follows the source's, frame by
    # frame, at the same ratio as where nothing is dubbed nor ducked, not 18 dB (duck) or 6 dB (separate) down.
    mixed = frame_rms(decode(results / "mix.flac", rate), rate, 0.05)
    source = frame_rms(decode(results / "audio" / "source.wav", rate), rate, 0.05)
    span = slice(int(KEEP[1] / 0.05) + 4, int(KEEP[2] / 0.05) - 4)
    assert np.corrcoef(mixed[span], source[span])[0, 1] > 0.95
    loud = source[span] > np.percentile(source[span], 50)
    ratio = 20 * np.log10(np.median(mixed[span][loud] / source[span][loud]))
    lufs_gain = 20 * np.log10(np.median(mixed[: int(0.9 / 0.05)] / np.maximum(source[: int(0.9 / 0.05)], 1e-9)))
    assert abs(ratio - lufs_gain) <= 3.0, (ratio, lufs_gain)
