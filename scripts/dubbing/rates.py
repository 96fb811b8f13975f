"""How long a voice takes to say a line, predicted before anything is sent (issue 22: pay once per line).

A cloud voice is paid per character, so a line that must be spoken faster should be asked at that
rate in its *first* request, not voiced at its natural rate, measured and asked again. The speed it
needs comes from its slot and its natural length (``placement.pace``), and its natural length is
predicted here from its text: ``INTERCEPT + SECONDS_PER_CHAR * characters``, per backend.

The prediction is a fixed function of the text and the voice's backend, never of what the cache
happens to hold, so the same script always asks the same rates: a rerun with nothing changed sends
nothing and runs nothing. What the prediction gets wrong the fit corrects from the measured audio,
re-voicing only a line that came out too slow by more than a rate step (``fit.py``).

The numbers: speech runs at about 14-17 characters a second in English for the cloud voices and
Piper (FACTS: Piper en_US-joe-medium 0.059 s per character after trimming; the cloud voices' ``speed``
1.0 about the same); the cloud voices add a short lead-in and tail (0.2-0.3 s).
"""

from .script import clean_text

# (seconds before any character, seconds per character) of a voice at speed 1.0.
PRIORS = {
    "openai": (0.25, 0.062),
    "elevenlabs": (0.25, 0.062),
}


# Free voices are measured, not predicted, before they speak; the plan still estimates their length.
ESTIMATES = {**PRIORS, "piper": (0.0, 0.059)}


def predicts(backend):
    """Whether lines of this backend get their rate before the first request (the paid ones)."""
    return backend in PRIORS


def natural_seconds(text, backend):
    """The predicted length of ``text`` said by ``backend``'s voice at its natural rate."""
    intercept, per_char = ESTIMATES.get(backend, PRIORS["openai"])
    return intercept + per_char * len(clean_text(text))


def first_rates(segments, slots, settings, max_speedup):
    """The rate each line's first request asks for: the pace (``placement.pace``) its predicted natural
    length needs in its slot, on the voice's rate grid (``fit.voice_rate``); 1.0 for voices that are not
    predicted (Piper: free and measured instead)."""
    from . import backends, fit, placement

    if not predicts(settings.backend) or max_speedup <= 1.0 or not segments:
        return [1.0] * len(segments)
    natural = [natural_seconds(seg.text, settings.backend) for seg in segments]
    paced = placement.pace(placement.lines_for(slots), natural, max_speedup)
    max_voice = backends.info("tts", settings.backend).max_speed / settings.speed
    return [fit.voice_rate(rate, max_speedup, max_voice) for rate in paced]
