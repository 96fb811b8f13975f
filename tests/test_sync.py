"""Measured sync: each fitted line is found in the dub track where it really is.

Real files throughout: fitted lines are real speech (utterances of a recorded phone call, decoded
with ffmpeg) or synthetic voiced speech, written as WAVs, laid on a dub track by the pipeline's own
timeline writer, then measured by sync.measure / stages.sync_check as the workflow does.
"""

import json
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from dubbing import report, stages, sync, timeline
from dubbing.audio import speech_bounds, write_wav
from dubbing.errors import DubbingError
from dubbing.script import Segment, format_script

RATE = 48000
REALSPEECH = Path("/work/shared/realspeech")
PHONE_CALL = REALSPEECH / "pyannote_sample.flac"
TOLERANCE = 0.1


def fitted(samples):
    """What the fit leaves of a line: its speech with 5 ms either side (audio.speech_bounds)."""
    first, last = speech_bounds(samples, RATE)
    return samples[first:last]


def utterance(index):
    """One timed utterance of the phone call (pyannote_sample.stm, transcribed by a person), at 48 kHz."""
    if not PHONE_CALL.is_file():
        pytest.skip(f"{PHONE_CALL} not present")
    fields = (REALSPEECH / "pyannote_sample.stm").read_text().splitlines()[index].split(None, 5)
    start, end = float(fields[3]), float(fields[4])
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", str(start), "-t", str(end - start), "-i",
                          str(PHONE_CALL), "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    return fitted(np.frombuffer(out, dtype="<i2"))


def voiced(seed, seconds):
    """Synthetic voiced speech: a gliding pitch (95-230 Hz) with formants, noise, and syllables with pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    knots = rng.uniform(95, 230, size=int(seconds * 4) + 2)
    phase = 2 * np.pi * np.cumsum(np.interp(t, np.linspace(0, seconds, knots.size), knots)) / RATE
    source = sum(np.sin(k * phase) / k for k in range(1, 13)) + 0.3 * rng.standard_normal(n)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    formants = rng.uniform([300, 900, 2200], [800, 1800, 3000])
    shape = sum(np.exp(-0.5 * ((freqs - fc) / bw) ** 2) for fc, bw in zip(formants, (90, 120, 200))) + 0.02
    signal = np.fft.irfft(np.fft.rfft(source) * shape, n)
    envelope = np.zeros(n)
    edges = np.concatenate([[0.0], np.cumsum(rng.uniform(0.12, 0.3, size=int(seconds * 8) + 2))])
    for a, b in zip(edges[::2], edges[1::2]):  # syllables, and pauses between them
        i, j = int(a * RATE), min(n, int(b * RATE))
        if i < j:
            envelope[i:j] = np.sin(np.linspace(0, np.pi, j - i)) ** 0.5
    envelope[: int(0.01 * RATE)] = np.linspace(0.3, 1.0, int(0.01 * RATE))  # speech from the first sample
    signal *= envelope
    return fitted(np.round(signal / np.abs(signal).max() * rng.uniform(8000, 20000)).astype(np.int16))


def lay(tmp_path, lines, seconds, name="dub.wav"):
    """Write each line's fitted WAV and a dub track with the placed ones on it.

    ``lines``: (id, samples, slot_start, placed_start or None for a line left off the track).
    Returns the dub path and the ``lines`` sync.measure takes. Lines that overlap are summed: the
    workflow's timeline (timeline.write_track, used for long tracks here) delays a line until the
    previous one ends instead, so a track with overlaps is what a placement bug or another tool makes.
    """
    (tmp_path / "fit").mkdir(exist_ok=True)
    out, placements = [], []
    for seg_id, samples, slot, placed in lines:
        wav = tmp_path / "fit" / f"{seg_id}.wav"
        write_wav(wav, samples)
        if placed is not None:
            placements.append((round(placed * RATE), samples))
        start = slot if placed is None else placed
        out.append({"id": seg_id, "speaker": "", "text": f"line {seg_id}", "slot_start": slot,
                    "slot_end": slot + samples.size / RATE, "start": start, "displacement": start - slot,
                    "speedup": 1.0, "fitted_wav": str(wav)})
    dub, total = tmp_path / name, round(seconds * RATE)
    if seconds <= 60:
        track = np.zeros(total, np.int32)
        for at, samples in placements:
            track[at : at + samples.size] += samples[: max(0, total - at)]
        write_wav(dub, np.clip(track, -32768, 32767).astype(np.int16))
    else:
        timeline.write_track(dub, iter(sorted(placements, key=lambda p: p[0])), total, RATE)
    return dub, out


SOURCES = {
    # Consecutive utterances of one speaker (10.78-12.54 s, 12.54-14.18 s): abutting, as she spoke them.
    "phone call": lambda: [utterance(i) for i in (5, 6, 8, 10, 7, 12, 11)],
    "synthetic": lambda: [voiced(seed, seconds) for seed, seconds in
                          enumerate((1.8, 1.6, 2.3, 2.0, 3.3, 1.5, 4.3))],
}


@pytest.mark.parametrize("source", SOURCES)
def test_each_line_is_found_where_it_really_is(tmp_path, source):
    a, b, c, d, e, f, g = SOURCES[source]()
    end_a = 1.0 + a.size / RATE
    end_e = 13.0 + e.size / RATE
    dub, lines = lay(tmp_path, [
        ("a", a, 1.0, 1.0),
        ("b", b, end_a, end_a),  # starts on a's last sample: no silence between them
        ("c", c, 6.0, 6.3),  # placed 0.30 s late
        ("d", d, 10.0, None),  # its audio never made it onto the track
        ("e", e, 13.0, 13.0),
        ("f", f, end_e - 0.2, end_e - 0.2),  # e runs 0.2 s into f
        ("g", g, 20.0, 20.0),
    ], 26.0)
    rows, summary = sync.measure(dub, lines, TOLERANCE)
    by_id = {row.id: row for row in rows}
    assert {row.id: row.status for row in rows} == {
        "a": "ok", "b": "ok", "c": "late", "d": "missing", "e": "overlap", "f": "ok", "g": "ok"}
    for line in lines:  # every line on the track found within 5 ms of where it was laid
        row = by_id[line["id"]]
        if line["id"] != "d":
            assert abs(row.measured_start - line["start"]) <= 0.005, (line["id"], row)
            assert row.measured_end == pytest.approx(line["start"] + line["slot_end"] - line["slot_start"], abs=0.01)
    assert by_id["c"].onset_error == pytest.approx(0.30, abs=0.005)
    assert by_id["e"].overlap == pytest.approx(0.2, abs=0.01)
    assert by_id["a"].overlap == 0 and by_id["b"].onset_error == pytest.approx(0, abs=0.005)
    assert by_id["d"].measured_start is None and by_id["d"].match < sync.FOUND
    assert all(by_id[i].match >= 0.999 for i in "abcg")  # nothing else under them
    assert summary["violations"] == ["c", "d", "e"]
    assert (summary["missing"], summary["overlaps"], summary["worst_onset_id"]) == (1, 1, "c")
    assert summary["worst_onset_error"] == pytest.approx(0.30, abs=0.005)
    assert summary["within_0_25"] == pytest.approx(5 / 7, abs=0.001)  # c is late, d is missing


def test_the_same_audio_twice_and_silence_before_the_speech(tmp_path):
    yes = voiced(7, 0.4)
    long_line = voiced(8, 2.0)
    late_head = np.concatenate([np.zeros(int(0.3 * RATE), np.int16), voiced(9, 1.5)])  # 0.3 s of silence first
    dub, lines = lay(tmp_path, [
        ("y1", yes, 3.0, 3.0),
        ("y2", yes, 3.6, 3.6),  # the very same audio 0.6 s later: both within each other's search
        ("s", late_head, 6.0, 6.0),
        ("cut", long_line, 9.6, 9.6),  # the track ends 0.4 s into it
    ], 10.0)
    rows, _summary = sync.measure(dub, lines, TOLERANCE)
    by_id = {row.id: row for row in rows}
    assert by_id["y1"].measured_start == pytest.approx(3.0, abs=0.001) and by_id["y1"].status == "ok"
    assert by_id["y2"].measured_start == pytest.approx(3.6, abs=0.001) and by_id["y2"].status == "ok"
    assert by_id["s"].status == "late" and by_id["s"].onset_error == pytest.approx(0.30, abs=0.01)
    assert by_id["cut"].status == "missing"


def test_sync_check_writes_the_table_and_the_report_shows_it(tmp_path):
    voices = [voiced(seed, 2.0) for seed in range(20, 24)]
    slots = [1.0, 3.5, 6.0, 9.0]
    placed = [1.0, 3.5, 6.4, 9.0]  # 0003 moved 0.4 s late
    dub, lines = lay(tmp_path, [(f"{i + 1:04d}", v, s, p) for i, (v, s, p) in enumerate(zip(voices, slots, placed))],
                     12.0)
    timing = tmp_path / "timing.tsv"
    header = ["id", "slot_start", "slot_end", "usable_until", "speech_seconds", "voice_rate", "stretch", "speedup",
              "fitted_seconds", "start", "end", "displacement"]
    timing.write_text("\t".join(header) + "\n" + "".join(
        "\t".join([line["id"]] + [f"{v:.3f}" for v in (
            line["slot_start"], line["slot_end"], line["slot_end"] + 0.3, 2.0, 1.1, 1.0, 1.1, 2.0, line["start"],
            line["start"] + 2.0, line["displacement"])]) + "\n" for line in lines))
    manifest = tmp_path / "segments.tsv"
    manifest.write_text(format_script([Segment(line["id"], line["slot_start"], line["slot_end"], f"Line {i}.",
                                               "host" if i % 2 else "guest") for i, line in enumerate(lines)]))
    table, summary_json = tmp_path / "sync.tsv", tmp_path / "sync_summary.json"
    fit_table = tmp_path / "fit.tsv"  # lay() wrote the fitted lines into fit/ beside it
    fit_table.write_text("id\n" + "".join(f"{line['id']}\n" for line in lines))
    args = dict(dub_wav=dub, timing_tsv=timing, manifest=manifest, fit_table=fit_table,
                table=table, summary_json=summary_json, tolerance=TOLERANCE)
    stages.sync_check(**args, strict=False)
    with pytest.raises(DubbingError, match="late 0003"):
        stages.sync_check(**args, strict=True)

    header, *rows = [line.split("\t") for line in table.read_text().splitlines()]
    assert header == ["id", "speaker", "text", "slot_start", "slot_end", "placed_start", "measured_start",
                      "measured_end", "onset_error", "displacement", "speedup", "overlap", "match", "status",
                      "original_onset", "vs_original"]
    third = dict(zip(header, rows[2]))
    assert (third["id"], third["speaker"], third["text"], third["status"]) == ("0003", "guest", "Line 2.", "late")
    assert (third["placed_start"], third["measured_start"], third["onset_error"], third["displacement"]) == \
        ("6.400", "6.400", "0.400", "0.400")
    assert third["speedup"] == "1.100" and third["match"] == "1.000"
    summary = json.loads(summary_json.read_text())
    assert summary["violations"] == ["0003"] and summary["sped_up"] == 4 and summary["max_speedup"] == 1.1
    assert summary["p90_onset_error"] == pytest.approx(0.28, abs=0.001)  # numpy's linear 90th percentile

    synth_index = tmp_path / "synth.tsv"
    synth_index.write_text("id\tseconds\tsource\n" + "".join(f"{line['id']}\t2.0\tapi\n" for line in lines))
    figure, page = tmp_path / "timeline.png", tmp_path / "summary.html"
    settings = {"backend": "piper", "model": "", "voice": "joe"}
    config = {"voices": {}, "asr_backend": "subtitles", "translate_backend": "none", "target_language": "en",
              "mix_mode": "duck", "loudness_lufs": -16, "max_speedup": 1.25}
    stages.report_pieces(dub, table, summary_json, synth_index, figure, page, "lesson", settings, config)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.read_text()
    assert "1 line(s) out of sync, overlapping or missing: 0003" in text
    assert "75.0%" in text  # within 0.25 s
    assert "<td>6.40–" in text and "<td>+0.400</td>" in text  # where 0003 was found, and how late


def test_an_hour_with_600_lines_is_measured_in_bounded_memory(tmp_path):
    pool = [voiced(100 + k, 3.0 + 0.4 * k) for k in range(6)]  # 3.0 to 5.0 s
    rows = []
    for i in range(600):
        slot = 0.5 + 6.0 * i
        shift = (0.05, -0.05, 0.0)[i % 3]  # placed a little early or late, within tolerance
        rows.append((f"{i:04d}", pool[i % len(pool)], slot, slot + shift))
    # One fitted WAV per line, as the workflow has (reused audio: lines far apart never share a window).
    dub, lines = lay(tmp_path, rows, 3600.0)
    assert dub.stat().st_size > 3600 * RATE * 2  # the track is really an hour at 48 kHz

    tracemalloc.start()
    try:
        result, summary = sync.measure(dub, lines, TOLERANCE)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary["segments"] == 600 and summary["violations"] == []
    assert all(abs(row.measured_start - line["start"]) <= 0.005 for row, line in zip(result, lines))
    assert summary["median_onset_error"] == pytest.approx(0.05, abs=0.005)
    # One window at a time: far below the track's own size (345 MB as int16, 1.4 GB as float64).
    assert peak < 64e6, peak


def test_the_timeline_figure_of_600_lines_draws(tmp_path):
    source = tmp_path / "source.wav"
    write_wav(source, np.zeros(3600 * 100, np.int16), rate=100)  # an hour, at a rate cheap to write
    rows = []
    for i in range(600):
        start = 0.5 + 6.0 * i
        status = ("ok", "late", "overlap", "missing")[i % 4]
        found = status != "missing"
        rows.append({"id": f"{i:04d}", "slot_start": start, "slot_end": start + 4.0, "status": status,
                     "measured_start": start + 0.3 if found else None, "measured_end": start + 6.2 if found else None,
                     "overlap": 0.2 if status == "overlap" else 0.0})
    figure = tmp_path / "timeline.png"
    report.timeline_figure(source, rows, figure, "an hour")
    assert figure.stat().st_size > 10000


def test_the_dub_is_measured_against_the_original_speech():
    from dubbing import vad

    frame = vad.FRAME_SECONDS
    n = round(10 / frame)

    def probs(*spans):
        out = np.zeros(n, np.float32)
        for a, b in spans:
            out[round(a / frame):round(b / frame)] = 0.9
        return out

    original = probs((1.0, 3.0), (5.0, 7.0))
    dub = probs((1.3, 3.3), (5.0, 8.0))  # line 1 starts 0.3 s late; line 2 runs 1 s into the original's silence
    rows = [sync.LineSync("0001", "", "a", 1.0, 3.0, 1.0, 1.3, 3.3, 0.3, 0.0, 1.0, 0.0, 1.0, "late"),
            sync.LineSync("0002", "", "b", 5.0, 7.0, 5.0, 5.0, 8.0, 0.0, 0.0, 1.0, 0.0, 1.0, "ok")]
    rows, summary = sync.against_original(original, dub, rows)
    assert [(r.original_onset, r.vs_original) for r in rows] == [(pytest.approx(1.0, abs=frame), pytest.approx(0.3, abs=frame)),
                                                                 (pytest.approx(5.0, abs=frame), pytest.approx(0.0, abs=frame))]
    assert summary["dub_over_silence_seconds"] == pytest.approx(1.3, abs=2 * frame)
    assert summary["original_without_dub_seconds"] == pytest.approx(0.3, abs=2 * frame)
    assert summary["median_vs_original"] == pytest.approx(0.15, abs=frame)
    assert 0.8 < summary["speech_agreement"] < 0.9 and summary["lines_with_original_onset"] == 2
