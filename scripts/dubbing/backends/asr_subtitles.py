"""Transcript from the video's own subtitles (media/<video>.srt or .vtt)."""

from ..subtitles import read_cues


def transcribe(audio_path, subtitles_path, settings):
    return read_cues(subtitles_path)
