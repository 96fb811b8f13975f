"""Offline speech recognition with faster-whisper: the language detected, then the model chosen for it.

``asr_model: auto`` (the default) picks by language, from measurements on the real English
recordings in tests/data/realspeech (word error rate against their human references, docs/BENCHMARKS.md):
English goes to ``tiny.en`` (fewer errors there than Whisper base, and 4x faster); any other
language to the multilingual ``base`` (``dubbing.models``). The language is ``source_language`` when
set, else detected by Whisper base on up to four 30 s windows of speech (voice activity filtered).

The same audio gives the same lines, run after run: Whisper decodes greedily/beam at temperature 0
and, where that output fails its checks (repetitive, improbable), falls back to *sampling* at higher
temperatures. Only that fallback recovers the words of noisy speech, so it stays on, with its
random generator seeded: CTranslate2 seeds each worker thread's generator from the global seed when
the thread first samples, and every call here builds a new model (new worker threads), so
``set_random_seed`` before building it makes the samples, and the transcript, the same each run.
The thread count is fixed too, so the arithmetic does not depend on the machine's core count.

Lines are rebuilt from the words' timestamps by ``dubbing.lines`` (sentence-like, voiceable, no
hallucinated repeats), cut at the pauses Silero VAD (``dubbing.vad``) hears, then tightened to the speech
they cover. Segments heard over no speech are left out, and listed in the transcript with the reason.
"""

import logging

from .. import languages, models, vad, voiceprint
from ..audio import decode_mono, snap_to_speech
from ..errors import DubbingError
from ..lines import PAUSE_SNAP_SECONDS, Dropped, Word, build_lines_accounted, text_of
from . import Transcript

log = logging.getLogger("dubbing")

# The sampling fallback's seed: any fixed value makes runs repeatable.
SEED = 0
RATE = 16000  # Whisper's input rate
# Language detection: windows of 30 s of speech looked at, and the probability that ends it early.
DETECT_WINDOWS = 4
DETECT_THRESHOLD = 0.5
# The multilingual model decodes greedily (fallback temperatures still seeded): measured on the real
# French, Spanish and Italian recordings (docs/BENCHMARKS.md), beam 1 gave the same word error rate
# as beam 5 (0.26/0.40/0.22 against 0.35/0.38/0.22) in a third to two thirds of the time.
MULTILINGUAL_OPTIONS = {"beam_size": 1}
# Whisper's own "this was silence" rule (its no_speech_threshold and logprob_threshold defaults).
NO_SPEECH_PROB = 0.6
LOGPROB_FLOOR = -1.0
# Left-out pieces named one by one in the log (all are in transcript.json).
SHOWN = 5
# CPU threads for decoding, the transcribe rule's ``threads``; fixed so results do not vary with the machine.
CPU_THREADS = 2
DECODE_OPTIONS = {
    "beam_size": 5,
    # Word timestamps: Whisper's segment times are coarse (a first segment often "starts" at 0.0),
    # while a dub must start when the speech does; lines are also cut at the words' pauses.
    "word_timestamps": True,
    # The default fallback temperatures (0.0, 0.2, ... 1.0), seeded above: temperature 0 alone
    # repeats itself but gives up on noisy speech (and with VAD it looped "see you in the next
    # video" at the end of the phone call). Measured on real and noisy speech: vad_filter and
    # condition_on_previous_text=False lost words (WER 0.51 -> 0.54-0.64 on a 95 s noisy mix; VAD
    # also lost "fox" in tests/data/english.mp4), so both stay at faster-whisper's defaults.
}


def load(folder):
    """A Whisper model on the CPU, seeded (see above), with a fixed thread count."""
    import ctranslate2
    from faster_whisper import WhisperModel

    ctranslate2.set_random_seed(SEED)  # before the model exists: its worker threads seed from it
    return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=CPU_THREADS)


def detect_language(model, samples):
    """(code, probability) of the language spoken in ``samples`` (16 kHz mono int16)."""
    language, probability, _all = model.detect_language(
        samples.astype("float32") / 32768.0, vad_filter=True, language_detection_segments=DETECT_WINDOWS,
        language_detection_threshold=DETECT_THRESHOLD)
    return language, probability


def choose(settings, samples, where):
    """(loaded model, model name, language code, detection probability or None) for this audio."""
    language = languages.code(settings.source_language)
    if settings.source_language not in ("", "auto") and not language:
        raise DubbingError(f"source_language: {settings.source_language}", "not a language Whisper knows "
                                                                           "(give a code such as fr, or a name)")
    name = settings.model or "auto"
    probability = None
    if name == "auto":
        if not language:
            model = load(models.whisper_dir(models.MULTILINGUAL))
            language, probability = detect_language(model, samples)
            log.info("%s: language %s, probability %.2f (detected by Whisper base)", where,
                     languages.name(language), probability)
            if language != "en":
                return model, models.MULTILINGUAL, language, probability
        name = models.ENGLISH_ONLY if language == "en" else models.MULTILINGUAL
    model = load(models.whisper_dir(name))
    if not model.model.is_multilingual:
        if language and language != "en":
            raise DubbingError(f"asr_model: {name}", f"understands English only, but source_language is "
                                                     f"{languages.name(language)}; use asr_model auto or base")
        language = "en"
    elif not language:
        language, probability = detect_language(model, samples)
        log.info("%s: language %s, probability %.2f (detected by %s)", where, languages.name(language),
                 probability, name)
    return model, name, language, probability


def recognize(audio_path, settings, samples=None):
    """What Whisper heard, before any line is built: {"language", "language_probability", "model",
    "segments": [{"start", "end", "no_speech_prob", "avg_logprob", "compression_ratio",
    "words": [Word, ...]}]}. tools/record_words.py stores this for the tests (the words depend on the CPU)."""
    samples = decode_mono(audio_path, RATE) if samples is None else samples
    model, name, language, probability = choose(settings, samples, audio_path)
    log.info("transcribing %s speech with Whisper %s", languages.name(language), name)
    # The file, not ``samples``: faster-whisper decodes it itself (PyAV), as the measured results were made.
    options = DECODE_OPTIONS | (MULTILINGUAL_OPTIONS if model.model.is_multilingual else {})
    segments, _info = model.transcribe(str(audio_path), language=language, **options)
    heard = [{"start": segment.start, "end": segment.end, "no_speech_prob": segment.no_speech_prob,
              "avg_logprob": segment.avg_logprob, "compression_ratio": segment.compression_ratio,
              "words": [Word(word.start, word.end, word.word, word.probability) for word in (segment.words or [])]}
             for segment in segments]
    return {"language": language, "language_probability": probability, "model": name, "segments": heard}


def heard_words(segments, speech):
    """(words, dropped): the words of the segments Whisper really heard, and those of the segments it
    likely invented over music, noise or silence, with the reason.

    A segment is invented when the voice-activity detector heard no speech over it, or when Whisper
    itself rates it as probably not speech (``no_speech_prob``) and its words improbable
    (``avg_logprob``), Whisper's own silence rule, which faster-whisper applies only without word
    timestamps. A music clip's "Thank you." over 8 s has no_speech_prob 0.84.
    """
    words, dropped = [], []
    for segment in segments:
        said = segment["words"]
        if not said:
            continue
        start, end = said[0].start, said[-1].end
        reason = ""
        if speech is not None and not any(a < end + PAUSE_SNAP_SECONDS and b > start - PAUSE_SNAP_SECONDS
                                          for a, b in speech):
            reason = "no speech heard there (voice activity detector)"
        elif segment["no_speech_prob"] > NO_SPEECH_PROB and segment["avg_logprob"] < LOGPROB_FLOOR:
            reason = (f"the recognizer rates it as not speech (no_speech_prob {segment['no_speech_prob']:.2f}, "
                      f"avg_logprob {segment['avg_logprob']:.2f})")
        if reason:
            dropped.append(Dropped(round(float(start), 3), round(float(end), 3), text_of(said), reason))
        else:
            words.extend(said)
    return words, dropped


def with_speakers(words, samples, speech, where):
    """The words, each with who says it where the recording holds several voices (dubbing.voiceprint), so
    that no line joins two people, even when the recognizer gives no punctuation and they leave no pause."""
    labels = voiceprint.word_speakers(samples, speech, words)
    if labels is None:
        return words
    changes = sum(a != b for a, b in zip(labels, labels[1:]))
    log.info("%s: %d voices told apart, %d changes of speaker between words", where, max(labels) + 1, changes)
    return [word._replace(speaker=label) for word, label in zip(words, labels)]


def transcribe(audio_path, subtitles_path, settings):
    samples = decode_mono(audio_path, RATE)
    heard = recognize(audio_path, settings, samples)
    speech = vad.speech(vad.probabilities(samples))
    words, dropped = heard_words(heard["segments"], speech)
    words = with_speakers(words, samples, speech, audio_path)
    lines, invented = build_lines_accounted(words, speech)
    cues = snap_to_speech(lines, samples, RATE)
    left_out = dropped + invented
    for item in left_out[:SHOWN]:
        log.warning("%s: %.2f-%.2f s %r not dubbed: %s", audio_path, item.start, item.end, item.text, item.reason)
    if len(left_out) > SHOWN:
        log.warning("%s: %d more pieces not dubbed (transcript.json lists them)", audio_path, len(left_out) - SHOWN)
    return Transcript(cues, language=heard["language"], language_probability=heard["language_probability"],
                      model=heard["model"], dropped=[item._asdict() for item in dropped + invented],
                      words=[[round(float(w.start), 3), round(float(w.end), 3)] for w in words])
