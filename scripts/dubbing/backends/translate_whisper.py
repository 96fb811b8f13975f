"""Offline translation into English with Whisper's translate task, line by line on each line's own audio.

Whisper translates speech (not text) from any of its 99 languages into English only. Each line of
the transcript is translated from its own span of the source audio (plus a little margin), so the
English line keeps the line's times, its id and its speaker, and the dub's timing work is unchanged.
The model is the bundled multilingual Whisper base (``translate_model`` may name another folder); it
is seeded like the recognizer, so the same audio gives the same English every run.
"""

import dataclasses
import logging
import re

from .. import languages, models
from ..audio import decode_mono
from ..errors import DubbingError
from ..script import clean_text, segments_from_cues
from . import asr_whisper

log = logging.getLogger("dubbing")

MARGIN = 0.15  # seconds of audio kept either side of a line, so its first and last sounds are whole
OPTIONS = {
    "task": "translate",
    "beam_size": 5,
    # One line, one short clip: no timestamps needed, no earlier text to condition on (each line is
    # translated on its own, so one bad line cannot derail the next), no voice-activity cutting.
    "without_timestamps": True,
    "condition_on_previous_text": False,
}

# Whisper base sometimes answers a short line in its own language instead of English ("Gracias por su
# atención..." back for that very line); then it is asked again greedily, then sampling (seeded).
RETRIES = ({"beam_size": 1}, {"beam_size": 1, "temperature": 0.6})
COPIED = 0.6  # an answer whose words are mostly the source line's words was not translated


def untranslated(text, source):
    """Whether ``text`` is (mostly) the source line's own words, i.e. Whisper did not translate it
    (three words at least: a short answer like "Asterisk." or "OK." is the same in both languages)."""
    words = re.findall(r"[^\W\d_]+", text.lower())  # words of letters: numbers and names read alike in both
    heard = set(re.findall(r"[^\W\d_]+", source.lower()))
    return len(words) >= 3 and sum(word in heard for word in words) >= COPIED * len(words)


def translate_clip(model, clip, language, source):
    """The English of one line's audio: asked again when the answer is the source line itself."""
    text = ""
    for retry in ({},) + RETRIES:
        pieces, _info = model.transcribe(clip, language=language, **(OPTIONS | retry))
        text = clean_text(" ".join(piece.text for piece in pieces))
        if not untranslated(text, source):
            return text, True
    return text, False


def check_target(settings):
    if not languages.same(settings.target_language, "en"):
        raise DubbingError(f"target_language: {settings.target_language}",
                           "offline translation (Whisper) goes into English only; to dub into "
                           f"{languages.name(settings.target_language)} set translate_backend: openai "
                           "(needs OPENAI_API_KEY)")


def translate(cues, settings, audio_path):
    check_target(settings)
    segments = segments_from_cues(cues)
    samples = decode_mono(audio_path, asr_whisper.RATE)
    name = settings.model or models.MULTILINGUAL
    model = asr_whisper.load(models.whisper_dir(name))
    if not model.model.is_multilingual:
        raise DubbingError(f"translate_model: {name}", "is an English-only model; Whisper translates with a "
                                                       "multilingual one (base, or a local folder)")
    language = languages.code(settings.source_language)
    if not language:
        language, probability = asr_whisper.detect_language(model, samples)
        log.info("language %s, probability %.2f (detected by Whisper %s)", languages.name(language), probability, name)
    if language == "en":
        log.info("the speech is already English: nothing to translate")
        return segments
    log.info("translating %d lines from %s into English with Whisper %s, each from its own audio",
             len(segments), languages.name(language), name)
    rate = asr_whisper.RATE
    translated = []
    for seg in segments:
        first = max(0, int((seg.start - MARGIN) * rate))
        clip = samples[first : int((seg.end + MARGIN) * rate)].astype("float32") / 32768.0
        text, translated_ok = translate_clip(model, clip, language, seg.source_text)
        if text and not translated_ok:
            log.warning("line %s (%.2f-%.2f s): Whisper answered %r, the line's own words, not English; edit its "
                        "text in media/<video>.script.tsv (see README, 'Editing the script')", seg.id, seg.start,
                        seg.end, text)
        if not text:
            log.warning("line %s (%.2f-%.2f s, %r): Whisper heard nothing to translate; the line is left out "
                        "of the dub", seg.id, seg.start, seg.end, seg.source_text)
            continue
        translated.append(dataclasses.replace(seg, text=text))
    if not translated:
        raise DubbingError(audio_path, "Whisper translated none of the lines")
    return translated

