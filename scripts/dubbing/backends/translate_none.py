"""No translation: the dub speaks the transcript as it is (e.g. re-voicing, or a script edited by hand)."""

from ..script import Segment, clean_text, make_id


def translate(cues, settings):
    return [
        Segment(id=make_id(i), start=cue.start, end=cue.end, text=clean_text(cue.text), speaker=cue.speaker,
                source_text=clean_text(cue.text))
        for i, cue in enumerate(cues)
    ]
