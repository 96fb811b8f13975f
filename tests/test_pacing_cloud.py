"""Pace through the cloud voices: speed from the voice itself, shorter translations, never two voices at once.

Real workflow, real SDKs, the local fake server (its voices speak 0.06 s per character plus 0.3 s,
like a cloud TTS; `speed` and ElevenLabs `voice_settings.speed` are honoured).
"""

import csv
import json

import pytest
from conftest import MEDIA, api_env, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e

# Lines written to be too long for their slots at a TTS-like rate; 0003 is far too long.
ROWS = [
    ("0001", 1.0, 2.5, "Water covers almost three quarters of our planet."),  # 3.3 s in 2.9 s
    ("0002", 4.0, 6.0, "Most of it is salt water."),
    ("0003", 6.5, 8.0, "Only a tiny part of all that water is fresh water that people can drink safely."),
    ("0004", 10.0, 11.0, "The sun heats it."),
]


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def lesson(tmp_path, rows=ROWS, subtitles=False):
    """The demo video as lesson.mp4 with ``rows`` as its script (or as its subtitles, i.e. a transcript)."""
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    if subtitles:
        def stamp(t):
            return f"00:00:{int(t):02d},{int(round(t % 1 * 1000)):03d}"
        srt = "".join(f"{i + 1}\n{stamp(s)} --> {stamp(e)}\n{text}\n\n" for i, (_id, s, e, text) in enumerate(rows))
        (workdir / "media" / "lesson.srt").write_text(srt, encoding="utf-8")
    else:
        (workdir / "media" / "lesson.script.tsv").write_text(
            "id\tstart\tend\ttext\n" + "".join(f"{i}\t{s}\t{e}\t{t}\n" for i, s, e, t in rows), encoding="utf-8")
    return workdir


def speech_requests(api):
    return [r["json"] for r in api.requests if r["path"] == "/v1/audio/speech"]


def assert_apart(timing):
    for before, after in zip(timing, timing[1:]):
        assert float(before["end"]) <= float(after["start"]) + 0.001, (before["id"], after["id"])


def test_openai_voice_is_asked_the_speed_each_line_needs_in_its_first_request(api, tmp_path):
    workdir = lesson(tmp_path)
    env = api_env(api)
    # The plan is the run: what `make plan` says will be sent, before anything is.
    run_snakemake(workdir, "results/lesson/plan.json", "--config", "tts_backend=openai", env=env)
    planned = json.loads((workdir / "results" / "lesson" / "plan.json").read_text())
    assert speech_requests(api) == []
    done = run_snakemake(workdir, "results/lesson/timing.tsv", "--config", "tts_backend=openai", env=env)
    assert planned["speech_requests"] == len(speech_requests(api)) == 4
    assert planned["characters"] == sum(len(r["input"]) for r in speech_requests(api))
    # ... and the end of the run says so.
    assert (f"lesson: 4 speech request(s) sent, {planned['characters']} characters; the plan said 4 request(s), "
            f"{planned['characters']} characters") in done.stdout
    timing = {row["id"]: row for row in read_tsv(workdir / "results" / "lesson" / "timing.tsv")}
    requests = speech_requests(api)
    # Pay once per line: each line is sent once, the too-long ones already at the speed they need
    # (predicted from their text and slot, rates.py), never past 1.25x in all.
    assert sorted(r["input"] for r in requests) == sorted(text for _i, _s, _e, text in ROWS)
    speed = {r["input"]: r["speed"] for r in requests}
    assert speed[ROWS[0][3]] > 1.05 and speed[ROWS[2][3]] > 1.05
    assert speed[ROWS[1][3]] == 1.0 and speed[ROWS[3][3]] == 1.0
    assert float(timing["0002"]["voice_rate"]) == 1.0 and float(timing["0004"]["speedup"]) == 1.0
    assert all(float(row["speedup"]) <= 1.25 + 0.005 for row in timing.values())
    assert float(timing["0001"]["voice_rate"]) > 1.05  # the voice itself did the speeding up
    assert_apart(list(timing.values()))

    # Nothing changed: nothing is sent. One line edited: that line alone is voiced (and paced) again.
    api.reset()
    done = run_snakemake(workdir, "results/lesson/timing.tsv", "--config", "tts_backend=openai", env=env)
    assert speech_requests(api) == [] and "speech request(s) sent" not in done.stdout
    script = workdir / "media" / "lesson.script.tsv"
    script.write_text(script.read_text(encoding="utf-8").replace("The sun heats it.", "The sun warms it."),
                      encoding="utf-8")
    run_snakemake(workdir, "results/lesson/timing.tsv", "--config", "tts_backend=openai", env=env)
    assert [r["input"] for r in speech_requests(api)] == ["The sun warms it."]


def test_elevenlabs_speed_stays_within_what_the_voice_takes_and_atempo_does_the_rest(api, tmp_path):
    workdir = lesson(tmp_path)
    run_snakemake(workdir, "results/lesson/timing.tsv", "--config", "tts_backend=elevenlabs", env=api_env(api))
    bodies = [r["json"] for r in api.requests if r["path"].startswith("/v1/text-to-speech/")]
    speeds = [body["voice_settings"]["speed"] for body in bodies if "voice_settings" in body]
    assert speeds and all(1.0 < speed <= 1.2 for speed in speeds)  # ElevenLabs takes 0.7-1.2
    assert not [r for r in api.requests if r["status"] >= 400]
    timing = read_tsv(workdir / "results" / "lesson" / "timing.tsv")
    line_3 = next(row for row in timing if row["id"] == "0003")
    assert float(line_3["voice_rate"]) <= 1.2 + 0.06 and float(line_3["speedup"]) == pytest.approx(1.25, abs=0.006)
    assert_apart(timing)


def test_a_translated_line_that_does_not_fit_is_shortened_by_the_translator(api, tmp_path):
    # Subtitles are a transcript: the translator writes the script, so it may shorten its lines.
    workdir = lesson(tmp_path, subtitles=True)
    env = api_env(api)
    config = ["--config", "tts_backend=openai", "translate_backend=openai", "target_language=de"]
    run_snakemake(workdir, "results/lesson/plan.json", *config, env=env)
    planned = json.loads((workdir / "results" / "lesson" / "plan.json").read_text())
    assert planned["to_shorten_ids"] == ["0003"] and planned["translator_requests"] == 1  # predicted, not yet sent
    run_snakemake(workdir, "results/lesson/dubbed.srt", *config, env=env)
    shorten = [r for r in api.requests if r["path"] == "/v1/chat/completions"
               and '"task": "shorten"' in r["json"]["messages"][-1]["content"]]
    assert len(shorten) == 1
    asked = json.loads(shorten[0]["json"]["messages"][-1]["content"])["segments"]
    assert [line["id"] for line in asked] == ["0003"]  # only the line that overruns even at 1.25x
    # Its time: from its start to the next line's, less a breath (3.4 s), at 1.25x.
    assert asked[0]["max_chars"] < len(asked[0]["text"]) and asked[0]["seconds"] == pytest.approx(3.4 * 1.25, abs=0.01)
    timing = {row["id"]: row for row in read_tsv(workdir / "results" / "lesson" / "timing.tsv")}
    assert len(timing["0003"]["text"]) <= asked[0]["max_chars"]  # what is spoken is the shorter wording
    assert abs(float(timing["0003"]["displacement"])) < 0.05
    srt = (workdir / "results" / "lesson" / "dubbed.srt").read_text(encoding="utf-8")
    assert timing["0003"]["text"] in srt and asked[0]["text"] not in srt
    spoken = [r["input"] for r in speech_requests(api)]
    assert timing["0003"]["text"] in spoken
    # A rerun asks nothing: the shortened wording and its speech come from the cache.
    api.reset()
    run_snakemake(workdir, "results/lesson/dubbed.srt", *config, "--forcerun", "shorten", env=env)
    assert api.requests == []


def test_a_users_own_script_is_never_rewritten(api, tmp_path):
    workdir = lesson(tmp_path)
    done = run_snakemake(workdir, "results/lesson/dubbed.srt", "--config", "tts_backend=openai",
                         "translate_backend=openai", env=api_env(api))
    assert "rule shorten" not in done.stdout
    assert not [r for r in api.requests if r["path"] == "/v1/chat/completions"]
    timing = {row["id"]: row["text"] for row in read_tsv(workdir / "results" / "lesson" / "timing.tsv")}
    assert timing == {seg_id: text for seg_id, _s, _e, text in ROWS}
    assert_apart(read_tsv(workdir / "results" / "lesson" / "timing.tsv"))


def dense_rows(seed, count=9):
    """``count`` lines of 30-70 characters, each slot holding 80-95 % of what a voice at the prior's pace needs."""
    import random

    words = ("river mountain people water light morning village garden teacher market window station "
             "history number evening question country answer").split()
    rng = random.Random(seed)
    rows, at = [], 0.5
    for i in range(1, count + 1):
        text = f"Line {i}, " + " ".join(rng.choice(words) for _ in range(rng.randint(3, 7))) + "."
        slot = (0.3 + 0.06 * len(text)) * rng.uniform(0.8, 0.95)
        rows.append((f"{i:04d}", round(at, 2), round(at + slot, 2), text))
        at += slot + 0.3
    assert at < 29.0  # the demo video's length
    return rows


def test_a_voice_slower_than_predicted_is_learned_and_no_rerun_pays_again(api, tmp_path):
    # The server's voice speaks 20 % slower than the prior says (as a real voice may): the first video
    # pays for that, the next video of the same voice does not, and nothing already voiced is paid again.
    api.configure(voice_pace=1.2)
    first, second = dense_rows(1), dense_rows(2)
    workdir = lesson(tmp_path, rows=first)
    (workdir / "media" / "other.mp4").write_bytes((MEDIA / "demo.mp4").read_bytes())
    (workdir / "media" / "other.script.tsv").write_text(
        "id\tstart\tend\ttext\n" + "".join(f"{i}\t{s}\t{e}\t{t}\n" for i, s, e, t in second), encoding="utf-8")
    env, config = api_env(api), ["--config", "tts_backend=openai"]
    run_snakemake(workdir, "results/lesson/timing.tsv", *config, env=env)
    paid_first = len(speech_requests(api))
    assert paid_first > len(first) * 1.3  # the prior was wrong: most lines voiced twice
    heard = list((workdir / "cache" / "rates").glob("openai-*.tsv"))
    assert len(heard) == 1 and len(heard[0].read_text().splitlines()) == paid_first  # no text, no key: numbers

    api.reset()
    run_snakemake(workdir, "results/other/plan.json", *config, env=env)
    planned = json.loads((workdir / "results" / "other" / "plan.json").read_text())
    run_snakemake(workdir, "results/other/timing.tsv", *config, env=env)
    paid_second = len(speech_requests(api))
    assert paid_second <= len(second) * 1.15  # learned: each line asked at the speed it needs, once
    assert planned["speech_requests"] == len(second)
    timing = read_tsv(workdir / "results" / "other" / "timing.tsv")
    assert all(float(row["speedup"]) <= 1.25 + 0.005 for row in timing)
    assert_apart(timing)

    # What the voice learned does not make anything already voiced be paid again: a rerun, or the
    # results of the first video deleted and made again, sends nothing.
    api.reset()
    run_snakemake(workdir, "results/lesson/timing.tsv", "results/other/timing.tsv", *config, env=env)
    assert speech_requests(api) == []
    before = (workdir / "results" / "lesson" / "timing.tsv").read_text()
    import shutil

    shutil.rmtree(workdir / "results" / "lesson")
    run_snakemake(workdir, "results/lesson/timing.tsv", *config, env=env)
    assert speech_requests(api) == []
    assert len((workdir / "results" / "lesson" / "timing.tsv").read_text().splitlines()) == len(before.splitlines())


@pytest.mark.parametrize("mode", ["async", "per-segment"])
def test_a_line_slower_than_predicted_is_voiced_faster_in_the_same_pass_not_by_the_fit(api, tmp_path, mode):
    # A voice never heard, 20 % slower than the prior: lines that come out too slow are voiced again at
    # once by the synthesis job that measured them, so the fit finds every faster voicing in the cache.
    api.configure(voice_pace=1.2)
    rows = dense_rows(3)
    workdir = lesson(tmp_path, rows=rows)
    run_snakemake(workdir, "results/lesson/timing.tsv", "--config", "tts_backend=openai", f"synth_mode={mode}",
                  env=api_env(api))
    paced = [json.loads(path.read_text()) for path in (workdir / "results" / "lesson" / "paced").glob("*.json")]
    assert len(paced) >= 3  # the voice is slow: several lines needed a faster voicing
    assert all(record["source"] == "cache" for record in paced)  # made in the synthesis pass, not by the fit
    assert len(speech_requests(api)) == len(rows) + len(paced)  # and nothing asked twice
    timing = read_tsv(workdir / "results" / "lesson" / "timing.tsv")
    assert all(float(row["speedup"]) <= 1.25 + 0.005 for row in timing)
    assert_apart(timing)
