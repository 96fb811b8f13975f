"""The backend seams: one small interface per capability, one module per provider.

* ASR (transcribe):  ``transcribe(audio_path, subtitles_path, settings) -> list[Cue]``
* translation:       ``translate(cues, settings) -> list[Segment]``
* TTS (synthesize):  ``Synthesizer(settings)``; ``.synthesize(text, wav_path)`` writes one WAV

Providers are looked up by their config name here and imported only when used, so a job never
pays for an SDK it does not call. Adding a provider is one new module and one line below.
"""

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    module: str
    max_chars: int | None = None  # longest text one request may carry (TTS)


ASR = {
    "subtitles": Backend("asr_subtitles"),
    "faster-whisper": Backend("asr_whisper"),
}
TRANSLATE = {
    "none": Backend("translate_none"),
}
TTS = {
    "piper": Backend("tts_piper", max_chars=10_000),
}
_KINDS = {"asr": ASR, "translate": TRANSLATE, "tts": TTS}


@dataclass(frozen=True)
class Settings:
    """What a backend needs from config; secrets are never part of it (they come from the environment)."""

    backend: str
    model: str = ""
    voice: str = ""
    speed: float = 1.0
    source_language: str = ""
    target_language: str = ""


def info(kind, name):
    try:
        return _KINDS[kind][name]
    except KeyError:
        known = ", ".join(sorted(_KINDS[kind]))
        raise ValueError(f"unknown {kind} backend {name!r} (known: {known})") from None


def load(kind, name):
    """The provider module for ``name``, imported now."""
    return importlib.import_module(f"{__name__}.{info(kind, name).module}")
