"""translate_backend auto (the default): no key, no config; decided from the language the recognizer heard.

* the speech is already in ``target_language``: no translation (``none``);
* the target is English: Whisper's translate task, offline (``whisper``);
* any other target: stop with one line naming the backend that can (``openai``). Whisper
  translates into English only, and there is no other offline translator here.
* the language is unknown (subtitles or a recognizer that does not tell, and no ``source_language``):
  no translation, said in the log.
"""

import logging

from .. import languages
from . import load

log = logging.getLogger("dubbing")


def choose(settings):
    """The translate backend auto means for this transcript."""
    language, target = settings.source_language, settings.target_language
    if not languages.code(language):
        log.info("translate auto: the transcript's language is unknown (set source_language to translate); "
                 "the dub speaks the transcript's words")
        return "none"
    if languages.same(language, target):
        return "none"
    if languages.same(target, "en"):
        return "whisper"
    from .translate_whisper import check_target

    check_target(settings)  # raises: names the backend that can
    return "none"


def translate(cues, settings, audio_path=None):
    backend = choose(settings)
    log.info("translate auto: %s speech, target %s -> translate_backend %s", languages.name(settings.source_language),
             languages.name(settings.target_language), backend)
    return load("translate", backend).translate(cues, settings, audio_path)
