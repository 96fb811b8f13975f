"""A foreign-language video dubbed into English offline: no key, no config (tests/data/foreign, see its README).

The real French recording is recognized by the multilingual Whisper base (language detected), each
line translated into English by Whisper's translate task from its own audio, voiced by Piper and
placed in sync. Configurations that cannot give a dub in the target language stop before any
work with one line naming the fix; text the offline voice cannot pronounce stops before synthesis.
"""

import csv
import json
import re
import subprocess

import pytest
from conftest import DATA, MEDIA, make_workdir, run_snakemake

from dubbing import stages
from dubbing.backends import Settings
from dubbing.errors import DubbingError

FRENCH = DATA / "foreign" / "fr_asterisk_demo.flac"


def french_video(tmp_path, seconds):
    video = tmp_path / "fr.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=160x120:r=10",
                    "-t", str(seconds), "-i", str(FRENCH), "-map", "0:v", "-map", "1:a", "-shortest", "-c:v",
                    "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "128k", str(video)], check=True)
    return video


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.e2e
def test_a_french_video_becomes_an_english_dub_offline_with_no_config(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(french_video(tmp_path, 30), "fr.mp4")])
    run_snakemake(workdir, "results/fr/dubbed.mp4")
    results = workdir / "results" / "fr"
    transcript = json.loads((results / "transcript.json").read_text(encoding="utf-8"))
    assert transcript["language"] == "fr" and transcript["language_probability"] > 0.9
    assert transcript["model"] == "base"
    script = read_tsv(results / "script.tsv")
    assert 3 <= len(script) <= 8
    french = " ".join(row["source_text"] for row in script).lower()
    english = " ".join(row["text"] for row in script).lower()
    # The speaker congratulates the listener on installing the project and its configuration files.
    assert "félicitations" in french and "configuration" in french
    assert re.search(r"\bcongratulations\b", english) and re.search(r"\binstalled\b", english), english
    assert re.search(r"\bfiles\b", english) and not re.search(r"\b(vous|avez|fichiers)\b", english), english
    # Each English line keeps its French line's times (Whisper translated it from that span of audio).
    transcript_times = [(seg["start"], seg["end"]) for seg in transcript["segments"]]
    assert [(float(row["start"]), float(row["end"])) for row in script] == transcript_times
    # The English dub is in sync: no two voices at once, every line found where it was placed.
    summary = json.loads((results / "sync_summary.json").read_text())
    assert summary["overlaps"] == 0 and summary["missing"] == 0, summary
    assert "translate_backend whisper" in (workdir / "logs" / "fr" / "translate.log").read_text()

    # Same input, same output: recognized and translated again from scratch, byte for byte the same.
    before = (results / "transcript.json").read_bytes(), (results / "script.tsv").read_bytes()
    run_snakemake(workdir, "results/fr/script.tsv", "--forcerun", "transcribe")
    assert ((results / "transcript.json").read_bytes(), (results / "script.tsv").read_bytes()) == before


def test_english_speech_is_recognized_by_the_english_model(tmp_path):
    # auto: the language is detected first; English goes to tiny.en (fewer errors on real English).
    from dubbing.audio import extract_audio
    from dubbing.backends.asr_whisper import transcribe

    wav = tmp_path / "jfk.wav"
    extract_audio(DATA / "realspeech" / "jfk.flac", wav, 2)
    heard = transcribe(wav, None, Settings.resolve("asr", backend="faster-whisper"))
    assert (heard.language, heard.model) == ("en", "tiny.en") and heard.language_probability > 0.9
    assert "ask not what your country can do for you" in " ".join(cue.text for cue in heard.cues).lower()


def write_transcript(path, language):
    path.write_text(json.dumps({"backend": "faster-whisper", "language": language, "segments": [
        {"start": 0.5, "end": 2.0, "text": "Bonjour à tous.", "speaker": ""}]}), encoding="utf-8")


def test_a_target_no_offline_translator_reaches_names_the_backend_that_can(tmp_path):
    write_transcript(tmp_path / "transcript.json", "fr")
    settings = Settings.resolve("translate", backend="auto", target_language="de")
    with pytest.raises(DubbingError) as error:
        stages.translate(tmp_path / "transcript.json", None, tmp_path / "script.tsv", settings)
    message = str(error.value)
    assert "\n" not in message and "English only" in message and "translate_backend: openai" in message
    assert not (tmp_path / "script.tsv").exists()


def test_keeping_foreign_words_unasked_is_refused(tmp_path):
    write_transcript(tmp_path / "transcript.json", "fr")
    settings = Settings.resolve("translate", backend="none", target_language="en")
    with pytest.raises(DubbingError, match=r"transcript.json: the speech is French \(fr\) .* translate_backend auto"):
        stages.translate(tmp_path / "transcript.json", None, tmp_path / "script.tsv", settings)
    # Said to be French and dubbed in French: nothing to translate, the words are kept.
    settings = Settings.resolve("translate", backend="auto", target_language="French")
    stages.translate(tmp_path / "transcript.json", None, tmp_path / "script.tsv", settings)
    assert read_tsv(tmp_path / "script.tsv")[0]["text"] == "Bonjour à tous."


@pytest.mark.parametrize("config, expected", [
    (["target_language=de"], "target_language de: the Piper voice en_US-joe-medium speaks English (en)"),
    (["translate_backend=whisper", "target_language=es", "tts_backend=openai"],
     "target_language es: translate_backend whisper translates into English only"),
])
def test_a_dub_the_configuration_cannot_make_stops_before_anything_runs(tmp_path, config, expected):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "demo.mp4")])
    done = run_snakemake(workdir, "results/demo/dubbed.mp4", "--config", *config, check=False)
    assert done.returncode != 0 and expected in done.stdout, done.stdout[-2000:]
    assert not (workdir / "results").exists()


def test_text_the_offline_voice_cannot_pronounce_stops_before_synthesis(tmp_path):
    workdir = make_workdir(tmp_path / "wf", [(MEDIA / "demo.mp4", "demo.mp4")])
    script = workdir / "media" / "demo.script.tsv"
    script.write_text("id\tstart\tend\ttext\n0001\t0.5\t2.0\tHello there.\n\n0002\t2.5\t4.0\tПривет, как дела?\n",
                      encoding="utf-8")
    done = run_snakemake(workdir, "results/demo/dubbed.mp4", check=False)
    assert done.returncode != 0
    assert ("media/demo.script.tsv: line 4 (id 0002): Cyrillic letters (Привет) that the Piper voice "
            "en_US-joe-medium (English (en)) cannot pronounce") in done.stdout, done.stdout[-3000:]
    assert not list((workdir / "results" / "demo").glob("tts/*.wav"))
