"""Cloud backends end to end: the real workflow and the real SDKs against a local server with faults."""

import time

import pytest
from conftest import API_KEY, DATA, MEDIA, api_env, clean_env, decode, make_workdir, run_snakemake, speech_onset
from fakeapi import voice_f0

pytestmark = pytest.mark.e2e
KEY = API_KEY
RATE = 16000
SCRIPT = MEDIA / "demo.script.tsv"


def lesson(tmp_path, rows=None):
    """A workdir with the demo video as media/lesson.mp4 and the first ``rows`` lines of its script."""
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    lines = SCRIPT.read_text(encoding="utf-8").splitlines(keepends=True)
    (workdir / "media" / "lesson.script.tsv").write_text("".join(lines[: (rows or len(lines)) + 1]), encoding="utf-8")
    return workdir


def script_rows(workdir):
    lines = (workdir / "media" / "lesson.script.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [dict(zip(("id", "start", "end", "speaker", "source_text", "text"), line.split("\t"))) for line in lines]


def assert_key_nowhere(workdir):
    """The API key appears in no file the workflow wrote."""
    for folder in ("results", "logs", ".snakemake", "benchmarks"):
        for path in (workdir / folder).rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path


def assert_no_partial_files(workdir):
    leftovers = [p for p in (workdir / "results").rglob("*") if ".tmp" in p.name or p.name.endswith(".part")]
    assert leftovers == []


def speech_requests(api):
    return [r for r in api.requests if r["path"] == "/v1/audio/speech"]


def test_openai_tts_dubs_the_video_in_sync(api, tmp_path):
    workdir = lesson(tmp_path)
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", env=api_env(api))
    requests = speech_requests(api)
    rows = script_rows(workdir)
    assert len(requests) == len(rows)  # one request per line, no more
    assert sorted(r["json"]["input"] for r in requests) == sorted(row["text"] for row in rows)
    for request in requests:
        assert request["json"]["model"] == "gpt-4o-mini-tts" and request["json"]["voice"] == "alloy"
        assert request["json"]["response_format"] == "pcm" and "instructions" not in request["json"]
    dub = decode(workdir / "results" / "lesson" / "dub.wav", RATE)
    for row in rows:
        onset = speech_onset(dub, RATE, float(row["start"]))
        assert onset is not None and abs(onset - float(row["start"])) <= 0.08, row["id"]
    assert_key_nowhere(workdir)
    assert_no_partial_files(workdir)


def test_instructions_go_only_to_models_that_accept_them(api, tmp_path):
    workdir = lesson(tmp_path, rows=2)
    env = api_env(api)
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai",
                  "tts_instructions=Calm and warm", env=env)
    assert [r["json"]["instructions"] for r in speech_requests(api)] == ["Calm and warm"] * 2
    api.reset()
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", "tts_model=tts-1",
                  "tts_instructions=Calm and warm", "tts_response_format=wav", env=env)
    requests = speech_requests(api)
    assert len(requests) == 2  # the model change re-synthesized both lines; nothing was retried
    for request in requests:
        assert request["json"]["model"] == "tts-1" and "instructions" not in request["json"]
        assert request["json"]["response_format"] == "wav"


def test_elevenlabs_sends_neighbours_for_prosody(api, tmp_path):
    workdir = lesson(tmp_path, rows=3)
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=elevenlabs", "tts_voice=v-narrator",
                  env=api_env(api))
    requests = {r["json"]["text"]: r for r in api.requests if r["path"].startswith("/v1/text-to-speech/")}
    rows = script_rows(workdir)
    assert len(requests) == 3
    middle = requests[rows[1]["text"]]
    assert middle["path"] == "/v1/text-to-speech/v-narrator"
    assert middle["json"]["previous_text"] == rows[0]["text"] and middle["json"]["next_text"] == rows[2]["text"]
    assert "previous_text" not in requests[rows[0]["text"]]["json"]
    assert_key_nowhere(workdir)


def test_openai_transcription_in_chunks_and_translation(api, tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(DATA / "english.mp4", "talk.mp4")])
    api.configure(transcript_lines=["Hola a todos.", "El agua hierve a cien grados."])
    run_snakemake(workdir, "results/talk/dubbed.mp4", "--config", "asr_backend=openai", "asr_chunk_seconds=5",
                  "translate_backend=openai", "target_language=es", "tts_backend=openai", env=api_env(api))
    uploads = [r for r in api.requests if r["path"] == "/v1/audio/transcriptions"]
    assert len(uploads) >= 2  # 11 s of audio in ~5 s chunks
    assert all(r["json"]["model"] == "whisper-1" for r in uploads)
    rows = (workdir / "results" / "talk" / "script.tsv").read_text(encoding="utf-8").splitlines()[1:]
    starts = [float(row.split("\t")[1]) for row in rows]
    # Speech is at 1.0 s and 6.0 s of the video: chunk offsets were added back.
    assert len(starts) == 2 and abs(starts[0] - 1.0) <= 0.1 and abs(starts[1] - 6.0) <= 0.1
    assert rows[0].split("\t")[5].endswith("[es]")  # the text is the translation
    chats = [r for r in api.requests if r["path"] == "/v1/chat/completions"]
    assert len(chats) == 1 and chats[0]["json"]["response_format"]["type"] == "json_schema"
    assert_key_nowhere(workdir)


def test_translation_answers_are_validated_and_asked_again(api, tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4"), (MEDIA / "demo.srt", "lesson.srt")])
    api.configure(fail_next=["drop_id", "empty_text", "bad_json"])
    run_snakemake(workdir, "results/lesson/script.tsv", "--config", "translate_backend=openai", env=api_env(api))
    chats = [r for r in api.requests if r["path"] == "/v1/chat/completions"]
    assert len(chats) == 4
    rows = (workdir / "results" / "lesson" / "script.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == 6 and all(row.split("\t")[5].strip() for row in rows)


def test_missing_key_stops_before_any_work_but_dry_runs_work(api, tmp_path):
    workdir = lesson(tmp_path)
    env = clean_env(OPENAI_BASE_URL=api.openai_base_url)
    dry = run_snakemake(workdir, "-n", "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", env=env)
    assert dry.returncode == 0
    done = run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", env=env, check=False)
    assert done.returncode != 0 and "OPENAI_API_KEY: not set" in done.stdout
    assert not (workdir / "results").exists() and api.requests == []


def test_key_from_dotenv_file(api, tmp_path):
    workdir = lesson(tmp_path, rows=1)
    (workdir / ".env").write_text(f"OPENAI_API_KEY='{KEY}'\nOPENAI_BASE_URL={api.openai_base_url}\n")
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", env=clean_env())
    assert len(speech_requests(api)) == 1 and speech_requests(api)[0]["authorized"]
    assert_key_nowhere(workdir)


MODES = pytest.mark.parametrize("mode", ["per-segment", "async"])


def synth_logs(workdir, mode):
    logs = workdir / "logs" / "lesson"
    files = logs.glob("synth/*.log") if mode == "per-segment" else [logs / "synth_async.log"]
    return "".join(path.read_text() for path in files)


@MODES
def test_temporary_failures_are_retried_and_no_bad_audio_is_kept(api, tmp_path, mode):
    workdir = lesson(tmp_path)
    api.configure(fail_next=["429", "500", "drop", "truncate", "503", "408", "slow"])
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", "request_timeout=6",
                  f"synth_mode={mode}", env=api_env(api))
    rows = script_rows(workdir)
    outcomes = [r["outcome"] for r in speech_requests(api)]
    assert outcomes.count("ok") == len(rows)
    # Each fault cost exactly one extra request (the "slow" one is recorded only when the server
    # gives up on it, after the client's 6 s timeout and its successful retry; 6 s, not less, so a
    # normal answer on a loaded machine never times out too).
    assert sorted(o for o in outcomes if o != "ok") == sorted(["429", "500", "drop", "truncate", "503", "408"])
    assert len(outcomes) <= len(rows) + 7
    logs = synth_logs(workdir, mode)
    assert "Timeout" in logs and "complete message body" in logs  # the timeout and the cut-off body
    assert "429 rate_limit_exceeded; retry 1/6 in 0.1 s" in logs  # the server's retry-after-ms (50) was honoured
    dub = decode(workdir / "results" / "lesson" / "dub.wav", RATE)
    for row in rows:  # every line is there, none replaced by silence or a cut-off body
        onset = speech_onset(dub, RATE, float(row["start"]))
        assert onset is not None and abs(onset - float(row["start"])) <= 0.08, row["id"]
    assert_no_partial_files(workdir)
    assert_key_nowhere(workdir)


@MODES
def test_a_segment_that_keeps_failing_is_named_and_only_it_is_redone(api, tmp_path, mode):
    workdir = lesson(tmp_path)
    api.configure(fail_text={"salty": "500"})
    done = run_snakemake(workdir, "results/lesson/dubbed.mp4", "--keep-going", "--config", "tts_backend=openai",
                         "max_retries=2", f"synth_mode={mode}", env=api_env(api), check=False)
    assert done.returncode != 0
    assert "segment 0003" in done.stdout and "still failing after 2 retries: 500" in done.stdout
    tts = workdir / "results" / "lesson" / "tts"
    assert sorted(p.name for p in tts.glob("*.wav")) == ["0001.wav", "0002.wav", "0004.wav", "0005.wav", "0006.wav"]
    assert_no_partial_files(workdir)
    api.reset()
    api.configure(fail_text={})
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", "max_retries=2",
                  f"synth_mode={mode}", env=api_env(api))
    assert [r["json"]["input"] for r in speech_requests(api)] == ["Most of the planet's water is salty."]


@MODES
@pytest.mark.parametrize(
    "knobs, config, expected",
    [
        ({"quota_exhausted": True}, [], "insufficient_quota — the account is out of credit"),
        ({"key": "a-different-key"}, [], "OpenAI rejected the API key (401 invalid_api_key: "),
        ({}, ["tts_voice=nobody"], "rejected the request (400"),
    ],
    ids=["quota", "bad-key", "bad-request"],
)
def test_permanent_errors_stop_the_run_at_once(api, tmp_path, knobs, config, expected, mode):
    workdir = lesson(tmp_path)
    api.configure(**knobs)
    started = time.monotonic()
    done = run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", *config,
                         f"synth_mode={mode}", env=api_env(api), check=False)
    elapsed = time.monotonic() - started
    assert done.returncode != 0 and expected in done.stdout
    # Never retried: at most the requests already in flight (2 jobs, or the async mode's 5).
    assert len(speech_requests(api)) <= (2 if mode == "per-segment" else 5)
    assert elapsed < 60  # generous bound; the point is "not after minutes of retries"
    assert not list((workdir / "results" / "lesson" / "tts").glob("*.wav"))
    assert_key_nowhere(workdir)


def test_elevenlabs_async_uses_the_sdk_with_neighbours(api, tmp_path):
    workdir = lesson(tmp_path, rows=3)
    run_snakemake(workdir, "results/lesson/synth.tsv", "--config", "tts_backend=elevenlabs", "synth_mode=async",
                  env=api_env(api))
    requests = [r for r in api.requests if r["path"].startswith("/v1/text-to-speech/")]
    rows = script_rows(workdir)
    assert len(requests) == 3 and all(r["query"]["output_format"] == "pcm_24000" for r in requests)
    middle = next(r for r in requests if r["json"]["text"] == rows[1]["text"])
    assert middle["json"]["previous_text"] == rows[0]["text"] and middle["json"]["next_text"] == rows[2]["text"]


def test_each_voice_is_the_one_requested(api, tmp_path):
    workdir = lesson(tmp_path, rows=1)
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "tts_backend=openai", "tts_voice=onyx",
                  env=api_env(api))
    import numpy as np

    samples = decode(workdir / "results" / "lesson" / "tts" / "0001.wav", 24000)
    spectrum = np.abs(np.fft.rfft(samples[2400:-2400]))
    peak = np.fft.rfftfreq(samples[2400:-2400].size, 1 / 24000)[np.argmax(spectrum)]
    assert abs(peak - voice_f0("onyx")) < 3
