"""The API key never reaches a file the workflow writes, nor its messages, even when a server echoes it."""

import pytest
from conftest import API_KEY, DATA, api_env, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e
MODES = pytest.mark.parametrize("mode", ["per-segment", "async"])


def files_with_key(workdir, key=API_KEY):
    """Every file under the workdir that holds ``key``, except the user's own media/ and .env."""
    found = []
    for path in workdir.rglob("*"):
        rel = path.relative_to(workdir)
        if path.is_file() and rel.parts[0] not in ("media", ".env") and key.encode() in path.read_bytes():
            found.append(str(rel))
    return found


@MODES
def test_every_file_written_by_a_cloud_dub_and_its_report_is_free_of_the_key(api, tmp_path, mode):
    workdir = make_workdir(tmp_path / "wf", [(DATA / "english.mp4", "talk.mp4")])
    api.configure(transcript_lines=["Hola a todos.", "El agua hierve a cien grados."],
                  fail_next=["429", "500", "drop", "truncate"])
    config = ("--config", "asr_backend=openai", "asr_chunk_seconds=5", "translate_backend=openai",
              "target_language=es", "tts_backend=openai", f"synth_mode={mode}")
    done = run_snakemake(workdir, "results/talk/dubbed.mp4", *config, env=api_env(api, DUBBING_LOG_LEVEL="DEBUG"))
    report = run_snakemake(workdir, "--report", "results/talk/report.zip", "results/talk/dubbed.mp4", *config,
                           env=api_env(api))
    assert {r["path"] for r in api.requests} >= {"/v1/audio/transcriptions", "/v1/chat/completions",
                                                  "/v1/audio/speech"}
    assert all(r["authorized"] for r in api.requests)  # the key was really sent, to every endpoint
    assert (workdir / "cache").is_dir() and (workdir / "results" / "talk" / "report.zip").is_file()
    assert files_with_key(workdir) == []  # results, logs, benchmarks, .snakemake metadata, cache, report
    assert API_KEY not in done.stdout and API_KEY not in report.stdout


@pytest.mark.parametrize("backend", ["openai", "elevenlabs"])
def test_a_rejected_key_echoed_by_the_server_is_redacted(api, tmp_path, backend):
    """The fake echoes a rejected key in its 401 message; the user sees the message with the key hidden."""
    workdir = make_workdir(tmp_path / "wf", [(DATA / "english.mp4", "talk.mp4")])
    (workdir / "media" / "talk.script.tsv").write_text("id\tstart\tend\ttext\n0001\t1.0\t3.0\tHello there.\n",
                                                       encoding="utf-8")
    api.configure(key="the-server-wants-another-key")
    done = run_snakemake(workdir, "results/talk/dubbed.mp4", "--config", f"tts_backend={backend}",
                         "synth_mode=async", env=api_env(api, DUBBING_LOG_LEVEL="DEBUG"), check=False)
    assert done.returncode != 0
    echoed = "Incorrect API key provided: ***." if backend == "openai" else "Invalid API key: ***"
    assert echoed in done.stdout  # the server's own message, with the key hidden
    assert API_KEY not in done.stdout
    assert files_with_key(workdir) == []


def test_every_registered_backend_key_is_redacted(monkeypatch):
    from dubbing import backends, secrets

    registered = backends.key_names()
    assert registered and set(registered) <= set(secrets.key_names())  # a new provider's key is in keys.py
    for name in registered:
        monkeypatch.setenv(name, f"{name.lower()}-secret-value-123")
        assert secrets.redact(f"sent with {name.lower()}-secret-value-123 attached") == "sent with *** attached"
