"""Several target languages in one run: one transcript, a dub per language, one video with every dub."""

import json
import subprocess

import numpy as np
import pytest
from conftest import DATA, MEDIA, REPO, api_env, decode, frame_rms, jobs_run, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e
CLOUD = ["asr_backend=openai", "translate_backend=openai", "tts_backend=openai"]
LINES = ["Hello everyone.", "Water boils at one hundred degrees."]


def tracks(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,channels:stream_tags="
                          "language,handler_name,title:stream_disposition=default", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["streams"]


def requests_by_path(api):
    counts = {}
    for request in api.requests:
        counts[request["path"]] = counts.get(request["path"], 0) + 1
    return counts


def translations(api):
    """The target language of each translation request."""
    chats = [r for r in api.requests if r["path"] == "/v1/chat/completions"]
    return sorted(json.loads(r["json"]["messages"][-1]["content"])["target_language"] for r in chats)


def spoken(api):
    return sorted(r["json"]["input"] for r in api.requests if r["path"] == "/v1/audio/speech")


def talk(tmp_path):
    return make_workdir(tmp_path / "wf", [(DATA / "english.mp4", "talk.mp4")])


def test_three_languages_from_one_transcript_in_one_video(api, tmp_path):
    workdir = talk(tmp_path)
    api.configure(transcript_lines=LINES, translation_format="{target}: {text}")
    env = api_env(api)
    run_snakemake(workdir, "--config", "target_language=[es,de,fr]", *CLOUD, env=env)  # the default target
    counts = requests_by_path(api)
    assert counts["/v1/audio/transcriptions"] == 1  # the speech is heard once, for every language
    assert translations(api) == ["de", "es", "fr"]  # one translation per language
    assert spoken(api) == sorted(f"{lang}: {line}" for line in LINES for lang in ("es", "de", "fr"))

    results = workdir / "results" / "talk"
    streams = tracks(results / "dubbed.mp4")
    audio = [(s["tags"]["language"], s["tags"]["handler_name"], s["disposition"]["default"])
             for s in streams if s["codec_type"] == "audio"]
    assert audio == [("spa", "Español (dub)", 1), ("ger", "Deutsch (dub)", 0), ("fre", "Français (dub)", 0),
                     ("eng", "English (original)", 0)]
    subtitles = [(s["tags"]["language"], s["codec_name"]) for s in streams if s["codec_type"] == "subtitle"]
    assert subtitles == [("spa", "mov_text"), ("ger", "mov_text"), ("fre", "mov_text")]
    # Each track is its language's own mix, and the original is the source.
    for index, lang in enumerate(("es", "de", "fr")):
        track = decode(results / "dubbed.mp4", 16000, f"a:{index}")
        mix = decode(results / f"dub-{lang}" / "mix.flac", 16000)
        n = min(track.size, mix.size)
        assert np.corrcoef(track[:n], mix[:n])[0, 1] > 0.98, lang
        summary = json.loads((results / f"dub-{lang}" / "sync_summary.json").read_text())
        assert summary["segments"] == len(LINES) and summary["missing"] == 0 and summary["overlaps"] == 0
        assert summary["violations"] == [], lang
        srt = (results / lang / f"talk.{lang}.srt").read_text(encoding="utf-8")
        assert all(f"{lang}: {line}" in srt for line in LINES)
        assert (results / lang / f"talk.{lang}.m4a").is_file() and (results / lang / f"talk.{lang}.vtt").is_file()
    original = decode(workdir / "media" / "talk.mp4", 16000)
    kept = decode(results / "dubbed.mp4", 16000, "a:3")
    n = min(original.size, kept.size)
    assert np.corrcoef(original[:n], kept[:n])[0, 1] > 0.99

    # Nothing changed: nothing runs, nothing is sent.
    before = len(api.requests)
    done = run_snakemake(workdir, "--config", "target_language=[es,de,fr]", *CLOUD, env=env)
    assert len(api.requests) == before and not jobs_run(done.stdout), done.stdout[-2000:]

    # A fourth language: only its translation and its lines are sent; the others' jobs do not run again.
    done = run_snakemake(workdir, "--config", "target_language=[es,de,fr,it]", *CLOUD, env=env)
    new = api.requests[before:]
    assert [r["path"] for r in new].count("/v1/audio/transcriptions") == 0
    assert [json.loads(r["json"]["messages"][-1]["content"])["target_language"] for r in new
            if r["path"] == "/v1/chat/completions"] == ["it"]
    assert sorted(r["json"]["input"] for r in new if r["path"] == "/v1/audio/speech") == \
        sorted(f"it: {line}" for line in LINES)
    ran = jobs_run(done.stdout)
    assert ran["translate"] == 1 and ran["mux"] == 1 and ran["segments"] == 1, ran
    audio = [s["tags"]["handler_name"] for s in tracks(results / "dubbed.mp4") if s["codec_type"] == "audio"]
    assert audio == ["Español (dub)", "Deutsch (dub)", "Français (dub)", "Italiano (dub)", "English (original)"]

    # A language taken away: nothing is sent and only the video is made again, without it.
    before = len(api.requests)
    done = run_snakemake(workdir, "--config", "target_language=[es,fr,it]", "default_track=fr", *CLOUD, env=env)
    ran = {rule: count for rule, count in jobs_run(done.stdout).items() if rule != "all"}
    assert len(api.requests) == before and ran == {"mux": 1}, ran
    audio = [(s["tags"]["handler_name"], s["disposition"]["default"]) for s in tracks(results / "dubbed.mp4")
             if s["codec_type"] == "audio"]
    assert audio == [("Español (dub)", 0), ("Français (dub)", 1), ("Italiano (dub)", 0), ("English (original)", 0)]


def test_the_languages_are_translated_side_by_side_and_voiced_in_turn(api, tmp_path):
    # A translation holds one request slot per batch it sends (two lines: one batch), so the languages are
    # translated side by side (it held 4 of the 5 slots, so one at a time); each language's speech is one batch holding the request pool (synth_mode auto
    # with several languages), so the languages are voiced one after another and a language's fit, mix and
    # report run on the cores while the next one is voiced.
    workdir = talk(tmp_path)
    # 4 s a request: far longer than the gap between two jobs started together (0.02 s measured here)
    api.configure(transcript_lines=LINES, translation_format="{target}: {text}", latency=4.0)
    run_snakemake(workdir, "--config", "target_language=[es,de,fr]", *CLOUD, env=api_env(api))
    chats = [r for r in api.requests if r["path"] == "/v1/chat/completions"]
    assert len(chats) == 3
    first, second = sorted(chats, key=lambda r: r["t"])[:2]
    assert second["t"] < first["t"] + first["duration"]  # in flight at once (the tests run with --cores 2)
    speech = sorted((r["t"], r["json"]["input"].split(":")[0]) for r in api.requests if r["path"] == "/v1/audio/speech")
    order = [lang for _, lang in speech]
    assert sorted(order) == sorted(["es", "de", "fr"] * len(LINES))
    assert [lang for n, lang in enumerate(order) if n == 0 or order[n - 1] != lang] == list(dict.fromkeys(order))
    logs = workdir / "logs" / "talk"
    assert all((logs / f"dub-{lang}" / "synth_async.log").is_file() for lang in ("es", "de", "fr"))


def test_matroska_on_request_and_each_language_its_own_script(api, tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4")])
    rows = (MEDIA / "demo.script.tsv").read_text(encoding="utf-8").splitlines()[:3]
    for lang, word in (("es", "Hola"), ("de", "Hallo")):
        lines = [rows[0]] + [row.rsplit("\t", 1)[0] + f"\t{word} {n}" for n, row in enumerate(rows[1:])]
        (workdir / "media" / f"lesson.{lang}.script.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_snakemake(workdir, "results/lesson/dubbed.mkv", "--config", "target_language=es,de", "tts_backend=openai",
                  env=api_env(api))
    assert spoken(api) == ["Hallo 0", "Hallo 1", "Hola 0", "Hola 1"]  # each language's own script, no translation
    assert translations(api) == []
    streams = tracks(workdir / "results" / "lesson" / "dubbed.mkv")
    audio = [(s["tags"].get("language", "und"), s["tags"]["title"], s["disposition"]["default"])
             for s in streams if s["codec_type"] == "audio"]
    assert audio == [("spa", "Español (dub)", 1), ("ger", "Deutsch (dub)", 0), ("und", "Original sound", 0)]
    assert [(s["tags"]["language"], s["codec_name"]) for s in streams if s["codec_type"] == "subtitle"] == \
        [("spa", "subrip"), ("ger", "subrip")]
    # make takes the languages too: the packages of both, from what is made (nothing sent).
    before = len(api.requests)
    config = workdir / "config" / "config.yaml"
    config.write_text(config.read_text().replace("\ntts_backend: piper\n", "\ntts_backend: openai\n"))
    done = subprocess.run(["make", f"VENV={REPO / '.venv'}", "CORES=2", "package", "VIDEO=media/lesson.mp4",
                           "LANGUAGES=es,de"], cwd=workdir,
                          capture_output=True, text=True, env=api_env(api), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "package: results/lesson/es/" in done.stdout and "package: results/lesson/de/" in done.stdout
    assert (workdir / "results" / "lesson" / "de" / "lesson.de.vtt").is_file() and len(api.requests) == before


@pytest.mark.parametrize("config, expected", [
    (["target_language=[es,de]", "source_language=en", "tts_backend=openai"],
     "translate_backend auto translates offline into English only (or keeps the speech in English (en)); "
     "Spanish (es), German (de) need a cloud translator"),
    (["target_language=[es,Spanish]", "tts_backend=openai"], "target_language names Spanish (es) twice (es and Spanish)"),
    (["target_language=[es,de]", "default_track=fr", "tts_backend=openai"], "default_track 'fr' is not one of the target languages (es, de)"),
    (["source_track=2"], "source_track 2: the video has 1 audio track(s), counted from 0 (0-0)"),
])
def test_languages_that_cannot_be_reached_stop_before_anything_runs(tmp_path, config, expected):
    workdir = talk(tmp_path)
    done = run_snakemake(workdir, "results/talk/dubbed.mp4", "--config", *config, check=False)
    assert done.returncode != 0 and expected in done.stdout, done.stdout[-3000:]
    assert not (workdir / "results" / "talk" / "transcript.json").exists()


def test_one_script_for_several_languages_is_refused_by_name(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "lesson.mp4"),
                                             (MEDIA / "demo.script.tsv", "lesson.script.tsv")])
    done = run_snakemake(workdir, "-n", "results/lesson/dubbed.mp4", "--config", "target_language=[es,de]",
                         "tts_backend=openai", check=False)
    assert done.returncode != 0
    assert "media/lesson.script.tsv: with several target languages each has its own script, " \
           "media/lesson.<lang>.script.tsv" in done.stdout


def test_the_dubbed_track_is_chosen_and_every_source_track_kept(tmp_path):
    """source_track picks the track that is dubbed (here the second: Spanish speech after a tone)."""
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.script.tsv", "lesson.script.tsv")])
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=160x120:r=10",
                    "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000", "-i", str(MEDIA / "demo.mp4"),
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-t", "29", "-c:v", "libx264", "-preset", "ultrafast",
                    "-c:a", "aac", "-metadata:s:a:0", "language=eng", str(workdir / "media" / "lesson.mkv")],
                   check=True)
    run_snakemake(workdir, "results/lesson/dubbed.mp4", "--config", "source_track=1", "source_language=es")
    probe = json.loads((workdir / "results" / "lesson" / "audio" / "probe.json").read_text())
    assert probe["audio_track"] == 1 and probe["audio_tracks"] == 2
    source = frame_rms(decode(workdir / "results" / "lesson" / "audio" / "source.wav", 16000), 16000, 0.05)
    speech = frame_rms(decode(workdir / "media" / "lesson.mkv", 16000, "a:1"), 16000, 0.05)
    n = min(source.size, speech.size)
    assert np.corrcoef(source[:n], speech[:n])[0, 1] > 0.99  # the speech was dubbed, not the tone
    audio = [(s["tags"]["language"], s["tags"]["handler_name"]) for s in tracks(workdir / "results" / "lesson" /
                                                                               "dubbed.mp4")
             if s["codec_type"] == "audio"]
    assert audio == [("eng", "English (dub)"), ("eng", "English (original 1)"), ("spa", "Español (original 2)")]
