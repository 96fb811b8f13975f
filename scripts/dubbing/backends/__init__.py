"""The backend seams: one small interface per capability, one module per provider.

* ASR (transcribe):  ``transcribe(audio_path, subtitles_path, settings) -> Transcript`` (or a bare
  ``list[Cue]`` when the backend cannot tell the language)
* translation:       ``translate(cues, settings, audio_path) -> list[Segment]`` (text filled in; the
  audio is the source's, for translators that listen: Whisper's translate task); those with
  ``shortens`` also ``shorten(lines, settings) -> {id: text}`` (a line rewritten for a time budget)
* TTS (synthesize):  ``Synthesizer(settings).synthesize(text, wav_path, previous_text, next_text, where, settings)``
  writes one WAV (``settings`` may carry another speed or voice); cloud providers also have
  ``AsyncSynthesizer.request_once(text, wav_path, previous_text, next_text, settings)``, awaited, with
  the caller's retry loop around it.

Providers are looked up by their config name here and imported only when used, so a job never
pays for an SDK it does not call. Adding a provider is one new module, one line below, its key's
variable in ``dubbing.keys`` (redacted everywhere) and its name in config/schema.yaml's enum.
"""

import dataclasses
import importlib
from dataclasses import dataclass

from .. import keys


@dataclass(frozen=True)
class Transcript:
    """What a recognizer heard: the timed lines and, when it can tell, the language ("" = unknown)."""

    cues: list
    language: str = ""
    language_probability: float | None = None  # when detected, not given
    model: str = ""
    # Text heard but not made into lines: [{"start", "end", "text", "reason"}] (e.g. invented over music).
    dropped: list = dataclasses.field(default_factory=list)
    # [start, end] of every word made into a line, where the recognizer times words (faster-whisper): where
    # the original speaks even when the voice-activity detector, under loud music, does not hear it.
    words: list = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class Backend:
    module: str
    max_chars: int | None = None  # longest text one request may carry (TTS)
    default_model: str = ""
    default_voice: str = ""
    key: str = ""  # environment variable holding the API key ("" = offline)
    uses_context: bool = False  # TTS: wants the neighbouring lines' text (prosody)
    instruction_models: tuple = ()  # TTS: model-name prefixes that accept delivery instructions
    max_speed: float = 1.0  # TTS: the fastest speaking rate the voice itself can take (1.0 = none)
    shortens: bool = False  # translation: can rewrite a line shorter for a time budget (``shorten``)
    voices: tuple = ()  # TTS: the voices speakers are given automatically, one each (``speakers.assign_voices``)


ASR = {
    "subtitles": Backend("asr_subtitles"),
    "faster-whisper": Backend("asr_whisper", default_model="auto"),
    "openai": Backend("asr_openai", default_model="whisper-1", key=keys.OPENAI),
}
TRANSLATE = {
    "auto": Backend("translate_auto"),
    "none": Backend("translate_none"),
    "whisper": Backend("translate_whisper", default_model="base"),
    "openai": Backend("translate_openai", default_model="gpt-4o-mini", key=keys.OPENAI, shortens=True),
}
TTS = {
    "piper": Backend("tts_piper", max_chars=10_000, default_voice="en_US-joe-medium", max_speed=2.0,
                     voices=("en_US-joe-medium",)),
    "openai": Backend("tts_openai", max_chars=4_096, default_model="gpt-4o-mini-tts", default_voice="alloy",
                      key=keys.OPENAI, instruction_models=("gpt-4o",), max_speed=4.0,
                      # the voices every OpenAI speech model has (ballad, verse, marin, cedar: gpt-4o-mini-tts only)
                      voices=("alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer")),
    "elevenlabs": Backend("tts_elevenlabs", max_chars=10_000, default_model="eleven_multilingual_v2",
                          default_voice="21m00Tcm4TlvDq8ikWAM", key=keys.ELEVENLABS, uses_context=True,
                          max_speed=1.2,
                          # ElevenLabs' premade voices: Rachel, Adam, Antoni, Bella, Domi, Elli, Josh, Arnold, Sam
                          voices=("21m00Tcm4TlvDq8ikWAM", "pNInz6obpgDQGcFmaJgB", "ErXwobaYiN019PkySvjV",
                                  "EXAVITQu4vr4xnSDxMaL", "AZnzlk1XvdvUeBnXmlld", "MF3mGyEYCl7XYWbV9V6O",
                                  "TxGEqnHWrfWFTfGW9XjX", "VR6AewLTigWG4xSOukaG", "yoZ06aMxZJJ28mfd3POQ")),
}
_KINDS = {"asr": ASR, "translate": TRANSLATE, "tts": TTS}


@dataclass(frozen=True)
class Settings:
    """What a backend needs from config; secrets are never part of it (they come from the environment)."""

    backend: str
    model: str = ""
    voice: str = ""
    speed: float = 1.0
    instructions: str = ""
    response_format: str = "pcm"
    source_language: str = ""
    target_language: str = ""
    max_retries: int = 6
    timeout: float = 60.0
    batch_size: int = 20
    chunk_seconds: float = 600.0
    max_concurrent: int = 1  # requests in flight: the `api` slots the job holds (set at run time, not in params)

    def holding(self, slots):
        """These settings for a job holding ``slots`` of the `api` pool (its requests in flight)."""
        return dataclasses.replace(self, max_concurrent=max(1, int(slots)))

    @classmethod
    def resolve(cls, kind, **values):
        """Settings with the backend's default model and voice filled in where config left them empty."""
        known = {field.name for field in dataclasses.fields(cls)}
        settings = cls(**{name: value for name, value in values.items() if name in known})
        backend = info(kind, settings.backend)
        return dataclasses.replace(
            settings, model=settings.model or backend.default_model, voice=settings.voice or backend.default_voice
        )


def key_names():
    """The environment variables holding the registered backends' API keys."""
    return sorted({backend.key for kind in _KINDS.values() for backend in kind.values() if backend.key})


def effective_instructions(settings):
    """The TTS instructions that will really be sent ("" for models that do not accept them)."""
    models = info("tts", settings.backend).instruction_models
    return settings.instructions if models and settings.model.startswith(models) else ""


def info(kind, name):
    try:
        return _KINDS[kind][name]
    except KeyError:
        known = ", ".join(sorted(_KINDS[kind]))
        raise ValueError(f"unknown {kind} backend {name!r} (known: {known})") from None


def load(kind, name):
    """The provider module for ``name``, imported now."""
    return importlib.import_module(f"{__name__}.{info(kind, name).module}")
