"""Speakers: who says each line when the recording tells, and the voice each speaker gets.

* **Channels.** A dual-channel interview (each person on their own microphone and channel, common for
  podcasts and remote interviews) names its speakers itself: a line belongs to the channel that is
  clearly louder over it. The recording is taken to be one speaker per channel only when most lines
  have a clearly louder channel and both channels have lines of their own; a stereo mix with the
  voice in the middle, or one speaker panned to a side, stays one speaker. A mono recording is never
  split: telling voices apart in one channel needs a diarizer, and there is none offline here.
* **Voices.** Speakers named in config ``voices`` get that voice; when ``voices`` has no ``default``,
  every other speaker gets a voice of their own from the backend's set (or ``voice_pool``), chosen
  deterministically: each label prefers the voice its hash points at, then the next free one in the
  pool, in label order. So the same labels always get the same voices, a named speaker ("Diane")
  keeps her voice in every video with others in it, and two speakers share a voice only when the
  pool runs out. A video with a single speaker keeps the configured voice (``tts_voice``).
"""

import hashlib
import logging

import numpy as np

from .subtitles import Cue

log = logging.getLogger("dubbing")

LEFT, RIGHT = "left", "right"
CHANNEL_DB = 6.0  # a channel this much louder over a line speaks it
CHANNEL_SHARE = 0.6  # ... for at least this share of lines, for the recording to be one speaker per channel
ANALYSIS_RATE = 8000  # loudness per channel needs no more


def channel_speakers(cues, stereo, rate=ANALYSIS_RATE):
    """``cues`` labelled left/right by the louder channel, or None when the channels are not one speaker each.

    ``stereo`` is int16 samples shaped (n, 2).
    """
    if stereo.ndim != 2 or stereo.shape[1] != 2 or not cues:
        return None
    labels, clear = [], 0
    for cue in cues:
        span = stereo[int(cue.start * rate): max(int(cue.end * rate), int(cue.start * rate) + 1)].astype(np.float64)
        power = (span * span).mean(axis=0) + 1e-9 if span.size else np.full(2, 1e-9)
        difference = 10 * np.log10(power[0] / power[1])
        clear += abs(difference) >= CHANNEL_DB
        labels.append(LEFT if difference >= 0 else RIGHT)
    if clear < CHANNEL_SHARE * len(cues) or len(set(labels)) < 2:
        return None
    return [Cue(cue.start, cue.end, cue.text, label) for cue, label in zip(cues, labels)]


def _preference(label, size):
    return int.from_bytes(hashlib.sha256(label.encode("utf-8")).digest()[:8], "big") % size


def assign_voices(speakers, configured, pool, default_voice, fixed=None):
    """{speaker: (voice, how)} for every named speaker; how is configured, clone, automatic or default.

    ``configured`` is config ``voices`` (a ``default`` there voices every unnamed speaker),
    ``fixed`` voices decided elsewhere (clones), ``pool`` the voices to choose the others from.
    """
    configured, fixed = configured or {}, fixed or {}
    chosen = {}
    for speaker in sorted(set(speakers) - {""}):
        if speaker in configured:
            chosen[speaker] = (configured[speaker], "configured")
        elif speaker in fixed:
            chosen[speaker] = (fixed[speaker], "clone")
        elif "default" in configured:
            chosen[speaker] = (configured["default"], "configured")
    others = sorted(set(speakers) - {""} - set(chosen))
    if len(set(speakers) - {""}) == 1 and others:  # one voice in the whole video: the configured one
        return {others[0]: (default_voice, "default")}
    pool = list(dict.fromkeys(pool)) or [default_voice]
    taken = {voice for voice, _how in chosen.values()}
    for speaker in others:
        first = _preference(speaker, len(pool))
        order = pool[first:] + pool[:first]
        voice = next((voice for voice in order if voice not in taken), order[0])
        chosen[speaker] = (voice, "automatic")
        taken.add(voice)
    return chosen


def describe(chosen):
    """'A: nova (automatic), B: onyx (automatic)' for the log."""
    return ", ".join(f"{speaker}: {voice} ({how})" for speaker, (voice, how) in sorted(chosen.items()))
