"""How long a voice takes to say a line, predicted before anything is sent (issue 22: pay once per line).

A cloud voice is paid per character, so a line that must be spoken faster should be asked at that
rate in its *first* request, not voiced at its natural rate, measured and asked again. The speed it
needs comes from its slot and its natural length (``placement.pace``), and its natural length is
predicted here from its text: ``(INTERCEPT + SECONDS_PER_CHAR * characters) * factor``, per backend,
where ``factor`` is how much slower (or faster) than the prior this very voice has been heard to speak.

Learning (``Heard``): every line a paid voice says is logged in the shared cache
(``<cache_dir>/rates/<backend>-<voice id>.tsv``: characters and seconds of speech at speed 1.0), and
once a voice has said HEARD_MIN lines its factor is the median of its last HEARD_LAST lines against
the prior, rounded to FACTOR_STEP (so it settles instead of drifting). A voice never heard gets the
prior. What the prediction still gets wrong the fit corrects from the measured audio, re-voicing only
a line that came out too slow by more than FIRST_TOLERANCE (``fit.py``).

Learning must not make a rerun pay again: the segments checkpoint keeps a line's earlier rate while its
text, voice and slot are unchanged, and otherwise prefers a voicing the cache already holds near the
predicted rate (``stages.split_script``), so only new or edited lines are asked at the learned rate.

The priors: speech runs at about 14-17 characters a second in English for the cloud voices and Piper
(FACTS: Piper en_US-joe-medium 0.059 s per character after trimming; the cloud voices' ``speed`` 1.0
about the same); the cloud voices add a short lead-in and tail (0.2-0.3 s).
"""

import hashlib
import json
import math
import statistics
from pathlib import Path

from .files import append_row
from .script import clean_text

# (seconds before any character, seconds per character) of a voice at speed 1.0.
PRIORS = {
    "openai": (0.25, 0.062),
    "elevenlabs": (0.25, 0.062),
}

# Free voices are measured, not predicted, before they speak; the plan still estimates their length.
ESTIMATES = {**PRIORS, "piper": (0.0, 0.059)}

HEARD_MIN = 5  # lines a voice must have said before its own pace replaces the prior
HEARD_LAST = 200  # the most recent lines that count (a provider may change a voice)
FACTOR_STEP = 0.05  # the learned factor moves in these steps: a few more lines do not change every prediction
FACTOR_RANGE = (0.5, 2.0)


def predicts(backend):
    """Whether lines of this backend get their rate before the first request (the paid ones)."""
    return backend in PRIORS


def natural_seconds(text, backend, factor=1.0):
    """The predicted length of ``text`` said by ``backend``'s voice at speed 1.0 (``factor``: the voice's own
    pace against the prior, ``Heard.factor``)."""
    intercept, per_char = ESTIMATES.get(backend, PRIORS["openai"])
    return (intercept + per_char * len(clean_text(text))) * factor


class Heard:
    """The paid voices' own pace, learned from the lines they said (any video, any run) in the shared cache."""

    def __init__(self, cache_dir):
        self.root = Path(cache_dir) / "rates"

    def path(self, settings):
        identity = json.dumps([settings.backend, settings.model or "", settings.voice or ""]).encode("utf-8")
        return self.root / f"{settings.backend}-{hashlib.sha256(identity).hexdigest()[:16]}.tsv"

    def record(self, settings, text, seconds):
        """Log that ``settings``' voice said ``text`` in ``seconds`` of speech (silence trimmed) at its speed."""
        if not predicts(settings.backend) or seconds <= 0:
            return
        # One short append per line, whole with concurrent jobs; the order does not matter to the median.
        append_row(self.path(settings), f"{len(clean_text(text))}\t{seconds * float(settings.speed):.3f}\n")

    def factor(self, settings):
        """How much longer than the prior this voice speaks (1.0 until it has said HEARD_MIN lines)."""
        if not predicts(settings.backend):
            return 1.0
        try:
            rows = self.path(settings).read_text(encoding="ascii").splitlines()[-HEARD_LAST:]
        except FileNotFoundError:
            return 1.0
        intercept, per_char = PRIORS[settings.backend]
        ratios = []
        for row in rows:
            try:
                chars, seconds = row.split("\t")
                ratios.append(float(seconds) / (intercept + per_char * int(chars)))
            except ValueError:
                continue  # a row cut by a crash mid-write
        if len(ratios) < HEARD_MIN:
            return 1.0
        stepped = round(statistics.median(ratios) / FACTOR_STEP) * FACTOR_STEP
        return round(min(max(stepped, FACTOR_RANGE[0]), FACTOR_RANGE[1]), 4)


def first_rates(segments, slots, settings, max_speedup, voices=None, heard=None):
    """The rate each line's first request asks for: the pace (``placement.pace``) its predicted natural
    length needs in its slot, on the voice's rate grid (``fit.voice_rate``); 1.0 for voices that are not
    predicted (Piper: free and measured instead). ``voices``: each line's voice (default: the settings');
    ``heard``: a ``Heard`` to learn each voice's pace from."""
    import dataclasses

    from . import backends, fit, placement

    if not predicts(settings.backend) or max_speedup <= 1.0 or not segments:
        return [1.0] * len(segments)
    voices = voices or [settings.voice] * len(segments)
    factors = {voice: heard.factor(dataclasses.replace(settings, voice=voice)) if heard else 1.0
               for voice in set(voices)}
    natural = [natural_seconds(seg.text, settings.backend, factors[voice]) / settings.speed
               for seg, voice in zip(segments, voices)]
    paced = placement.pace(placement.lines_for(slots), natural, max_speedup)
    max_voice = backends.info("tts", settings.backend).max_speed / settings.speed
    return [fit.voice_rate(rate, max_speedup, max_voice) for rate in paced]


def near_held(rate, held, tolerance, step):
    """Of the rates ``held`` (voicings of a line the cache already has), the one to use instead of asking
    ``rate`` anew: ``rate`` itself, else the nearest that is at most ``tolerance`` too slow (the fit would
    keep it) or one ``step`` faster; None when none is near."""
    near = [h for h in held if rate / (1 + tolerance) <= h <= rate + step + 1e-9]
    return min(near, key=lambda h: (abs(h - rate), h)) if near else None


def settle(rate, key_at, previous=None, held=None, max_rate=float("inf")):
    """The rate a line is really asked for, given the ``rate`` predicted now, so that what the voice learns
    never makes a rerun pay again.

    ``key_at(r)``: the line's cache key at rate r. ``previous``: (key, rate) of the line's record from the
    last run when its slot is unchanged: kept when the key still matches at that rate (same text, voice,
    model) and the rate is within ``max_rate``. ``held(key)``: whether the cache has that voicing; a held
    rate near the prediction (``near_held``) is used instead of a new request.
    """
    from .fit import FIRST_TOLERANCE, RATE_STEP

    if previous and previous[1] <= max_rate + 1e-9 and key_at(previous[1]) == previous[0]:
        return previous[1]
    if held is None or held(key_at(rate)):
        return rate
    low = math.ceil(round(rate / (1 + FIRST_TOLERANCE) / RATE_STEP, 6)) * RATE_STEP
    grid = [round(low + i * RATE_STEP, 4) for i in range(int(round((rate + RATE_STEP - low) / RATE_STEP)) + 1)]
    candidates = [r for r in grid if 1.0 <= r <= max_rate + 1e-9 and r != rate]
    if rate != 1.0 and 1.0 not in candidates and rate / (1 + FIRST_TOLERANCE) <= 1.0:
        candidates.append(1.0)
    found = near_held(rate, [r for r in candidates if held(key_at(r))], FIRST_TOLERANCE, RATE_STEP)
    return found if found is not None else rate
