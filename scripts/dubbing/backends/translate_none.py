"""No translation: the dub speaks the transcript as it is (e.g. re-voicing, or a script edited by hand)."""

from ..script import segments_from_cues


def translate(cues, settings, audio_path=None):
    return segments_from_cues(cues)
