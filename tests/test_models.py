"""The bundled Whisper models: the multilingual base made whole once, checked, shared; names resolved or refused."""

import os
import subprocess
import sys

import pytest

from dubbing import languages, models
from dubbing.errors import DubbingError

SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "scripts")


def test_base_is_joined_once_checked_and_reused(tmp_path):
    folder = models.base_dir(tmp_path)
    assert folder.name == "whisper-base-" + models.BASE_SHA256[:12]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    assert models.sha256(folder / "model.bin") == models.BASE_SHA256
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no temporary folder left
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert models.base_dir(tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp  # not joined again


def test_a_join_that_does_not_match_the_pinned_hash_leaves_nothing(tmp_path):
    with pytest.raises(DubbingError, match="SHA-256 .* not 0000"):
        models.base_dir(tmp_path, expected="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_two_jobs_joining_at_once_share_one_folder(tmp_path):
    code = f"import sys; sys.path.insert(0, {SCRIPTS!r}); from dubbing import models; print(models.base_dir({str(tmp_path)!r}))"
    jobs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [job.communicate()[0].strip() for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0]
    assert outputs[0] == outputs[1]
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(outputs[0])]
    assert models.sha256(os.path.join(outputs[0], "model.bin")) == models.BASE_SHA256


def test_the_models_folder_is_per_machine_and_can_be_moved(monkeypatch, tmp_path):
    monkeypatch.delenv("DUBBING_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert models.models_root() == tmp_path / "dubbing-models"
    monkeypatch.setenv("DUBBING_MODELS_DIR", str(tmp_path / "elsewhere"))
    assert models.models_root() == tmp_path / "elsewhere"


def test_model_names_resolve_or_are_refused_with_the_fix(tmp_path):
    assert (models.whisper_dir("tiny.en") / "model.bin").is_file()
    with pytest.raises(DubbingError, match="asr_model: small: not bundled.*set asr_model to its folder"):
        models.whisper_dir("small")
    (tmp_path / "model.bin").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    # Without its tokenizer faster-whisper would download one: refused, named.
    with pytest.raises(DubbingError, match=f"{tmp_path}: .*no tokenizer.json"):
        models.whisper_dir(str(tmp_path))


@pytest.mark.parametrize("spelling, code", [("fr", "fr"), ("French", "fr"), ("en_US", "en"), ("pt-BR", "pt"),
                                            ("", ""), ("klingon", "")])
def test_languages_are_compared_by_their_primary_code(spelling, code):
    assert languages.code(spelling) == code


def test_letters_of_another_writing_system_are_found():
    assert languages.foreign_letters("Hello, Привет мир", "en") == list("Приветм")
    assert languages.foreign_letters("Привет, Bob", "ru") == []
    assert languages.foreign_letters("Ça va très bien, naïve café", "en") == []  # Latin with accents: readable
    assert languages.foreign_letters("東京 is big", "en") == ["東", "京"]
