"""Voicing ahead of the fit, in the same pass (issue 22: one pass).

A paid voice's first request already asks the rate the line is predicted to need (``rates.py``). When
the voice turns out slower than predicted, the fit would voice the line again, faster, but only after
every first voicing is done (it is a later job), so synthesis would take two rounds. Instead, as soon
as a line's first voicing is measured, ``Ahead.heard`` paces it among its neighbours (NEIGHBOURS on
each side: what the batch has measured so far, predicted lengths elsewhere) the way the fit will, and
when the fit would want it faster by more than ``fit.FIRST_TOLERANCE`` the same job voices it at that
rate straight away, under the same limits, into the cache only. The fit stays the judge: it paces the
whole video with every measured length and finds that voicing in the cache (no request, no `api`
slots), or, if its final pace asks another rate step, asks that one.

Only paid voices (rates.predicts); a per-segment job sees its own measurement and its neighbours'
predicted lengths, the async batch every measurement made so far.
"""

import dataclasses
import json
from pathlib import Path

from . import backends, fitting, placement
from .rates import Heard, natural_seconds, predicts

NEIGHBOURS = 8  # lines on each side that the local pace looks at (the pace's passes reach little further)


class Ahead:
    """The video's slots and predicted lengths, to tell which first voicings the fit will want faster."""

    def __init__(self, segment_dir, slot_dir, ids, settings, max_speedup, cache_dir=None, only=None):
        """``ids``: the video's lines in time order; ``only``: the id of the one line a per-segment job voices
        (only its neighbourhood is read)."""
        self.segment_dir, self.slot_dir = Path(segment_dir), Path(slot_dir)
        self.ids = list(ids)
        self.index = {seg_id: i for i, seg_id in enumerate(self.ids)}
        self.settings, self.max_speedup = settings, max_speedup
        info = backends.info("tts", settings.backend)
        self.max_voice = info.max_speed / settings.speed
        wanted = range(len(self.ids))
        if only is not None:
            at = self.index[only]
            wanted = range(max(0, at - NEIGHBOURS - 1), min(len(self.ids), at + NEIGHBOURS + 2))
        heard, factors = Heard(cache_dir) if cache_dir else None, {}
        self.slot, self.natural, self.first = {}, {}, {}
        for i in wanted:
            seg_id = self.ids[i]
            segment = json.loads((self.segment_dir / f"{seg_id}.json").read_text(encoding="utf-8"))
            slot = json.loads((self.slot_dir / f"{seg_id}.json").read_text(encoding="utf-8"))
            voice = segment.get("voice") or settings.voice
            if voice not in factors:
                factors[voice] = heard.factor(dataclasses.replace(settings, voice=voice)) if heard else 1.0
            self.slot[i] = fitting.Slot(seg_id, slot["start"], slot["end"], slot["window_end"])
            self.natural[i] = natural_seconds(segment["text"], settings.backend, factors[voice]) / settings.speed
            self.first[i] = segment.get("rate", 1.0)

    def heard(self, seg_id, speech_seconds):
        """The rate to voice ``seg_id`` at now, its first voicing (at its first rate) having ``speech_seconds``
        of speech; None when the fit will keep that voicing."""
        from .fit import FIRST_TOLERANCE, voice_rate

        i = self.index.get(seg_id)
        if i is None or i not in self.first or not predicts(self.settings.backend) or self.max_speedup <= 1.0:
            return None
        first = self.first[i]
        self.natural[i] = speech_seconds * first
        near = [k for k in range(i - NEIGHBOURS, i + NEIGHBOURS + 1) if k in self.slot]
        lines = placement.lines_for([self.slot[k] for k in near])
        wanted = placement.pace(lines, [self.natural[k] for k in near], self.max_speedup)[near.index(i)]
        if wanted <= first * (1 + FIRST_TOLERANCE):
            return None
        again = voice_rate(wanted, self.max_speedup, self.max_voice)
        return again if again > first else None

    def still_slow(self, voicing, tts_dir):
        """Once every first voicing of the video is made (``tts_dir``): the jobs the fit would still send, by the
        fit's own reckoning over the whole video (``fit.pending``), for the batch to send before it ends."""
        from .fit import pending

        tts_dir = Path(tts_dir)
        return pending([tts_dir / f"{seg_id}.wav" for seg_id in self.ids],
                       [self.slot_dir / f"{seg_id}.json" for seg_id in self.ids],
                       [self.segment_dir / f"{seg_id}.json" for seg_id in self.ids], voicing,
                       max_speedup=self.max_speedup)
