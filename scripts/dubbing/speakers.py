"""Speakers: who says each line when the recording tells, and the voice each speaker gets.

* **Channels.** A dual-channel interview (each person on their own microphone and channel, common for
  podcasts and remote interviews) names its speakers itself: a line belongs to the channel that is
  clearly louder over it. The recording is taken to be one speaker per channel only when most lines
  have a clearly louder channel and both channels have lines of their own; a stereo mix with the
  voice in the middle, or one speaker panned to a side, stays one speaker. A mono recording is never
  split: telling voices apart in one channel needs a diarizer, and there is none offline here.
* **Voices.** Speakers named in config ``voices`` get that voice; when ``voices`` has no ``default``,
  every other speaker gets a voice of their own from the backend's set (or ``voice_pool``). The first
  time a speaker is heard, the voice is chosen deterministically (the label's hash points at a voice;
  else the next one nobody has) and remembered beside the cache (``VoiceMemory``); from then on the
  speaker ("Diane") keeps it in every video, whoever else speaks, as long as it is in the pool. Two
  speakers share a voice only when the pool runs out. A video with a single speaker keeps the
  configured voice (``tts_voice``), unless that speaker was given a voice in an earlier video.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from .errors import DubbingError
from .files import write_text_atomic
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


# Two channels are two people's microphones when they hardly resemble each other (a centred voice or a
# stereo music mix correlates far above this) and each carries a fair share of the sound.
DISTINCT_CORRELATION = 0.3
DISTINCT_SHARE_DB = 20.0  # the quieter channel is at most this much below the louder one overall


def distinct_channels(stereo):
    """Whether a stereo recording is one person per channel (a dual-channel interview or call), so each
    channel is recognized on its own: two people talking at once are both heard, and no line mixes them.
    ``stereo`` is int16 samples shaped (n, 2)."""
    if stereo is None or stereo.ndim != 2 or stereo.shape[1] != 2 or stereo.shape[0] < ANALYSIS_RATE:
        return False
    samples = stereo.astype(np.float64)
    power = (samples * samples).mean(axis=0) + 1e-9
    if abs(10 * np.log10(power[0] / power[1])) > DISTINCT_SHARE_DB:
        return False
    left, right = samples[:, 0] - samples[:, 0].mean(), samples[:, 1] - samples[:, 1].mean()
    correlation = float(np.dot(left, right) / np.sqrt(np.dot(left, left) * np.dot(right, right) + 1e-9))
    return abs(correlation) < DISTINCT_CORRELATION


def _preference(label, size):
    return int.from_bytes(hashlib.sha256(label.encode("utf-8")).digest()[:8], "big") % size


def assign_voices(speakers, configured, pool, default_voice, fixed=None, remembered=None):
    """{speaker: (voice, how)} for every named speaker; how is configured, clone, remembered, automatic or default.

    ``configured`` is config ``voices`` (a ``default`` there voices every unnamed speaker),
    ``fixed`` voices decided elsewhere (clones), ``pool`` the voices to choose the others from,
    ``remembered`` {speaker: voice} given to speakers in earlier videos (``VoiceMemory``): a speaker
    keeps that voice whoever else speaks, and a new speaker gets a voice nobody has yet, when one is left.
    """
    configured, fixed, remembered = configured or {}, fixed or {}, remembered or {}
    chosen = {}
    for speaker in sorted(set(speakers) - {""}):
        if speaker in configured:
            chosen[speaker] = (configured[speaker], "configured")
        elif speaker in fixed:
            chosen[speaker] = (fixed[speaker], "clone")
        elif "default" in configured:
            chosen[speaker] = (configured["default"], "configured")
    others = sorted(set(speakers) - {""} - set(chosen))
    pool = list(dict.fromkeys(pool)) or [default_voice]
    if len(set(speakers) - {""}) == 1 and others and remembered.get(others[0]) not in pool:
        return {others[0]: (default_voice, "default")}  # one voice in the whole video: the configured one
    taken = {voice for voice, _how in chosen.values()}
    for speaker in others:  # remembered voices first, so a newcomer never takes one
        voice = remembered.get(speaker)
        if voice in pool and voice not in taken:
            chosen[speaker] = (voice, "remembered")
            taken.add(voice)
    given = set(remembered.values())
    for speaker in (s for s in others if s not in chosen):
        first = _preference(speaker, len(pool))
        order = pool[first:] + pool[:first]
        voice = next((v for v in order if v not in taken and v not in given),
                     next((v for v in order if v not in taken), order[0]))
        chosen[speaker] = (voice, "automatic")
        taken.add(voice)
    return chosen


class VoiceMemory:
    """The automatic voice each speaker was given, per TTS backend, kept beside the cache
    (``<cache_dir>/speaker_voices.json``) so a named speaker sounds the same in every later video.

    Read and updated under a lock: two videos' segments jobs may choose voices at the same time.
    ``tools/speaker_voices.py`` (``make voices``) lists, forgets and reassigns them.
    """

    def __init__(self, cache_dir):
        self.path = Path(cache_dir) / "speaker_voices.json"

    def _read(self):
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as err:
            raise DubbingError(self.path, f"not valid JSON ({err}); fix or delete it (speakers get new voices)") \
                from None

    def all(self):
        return self._read()

    @contextlib.contextmanager
    def editing(self):
        """Yield the whole table ({backend: {speaker: voice}}) to change; written back when the block ends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                table = self._read()
                before = json.dumps(table, sort_keys=True)
                yield table
                if json.dumps(table, sort_keys=True) != before:
                    write_text_atomic(self.path, json.dumps(table, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def assign(self, backend, speakers, configured, pool, default_voice, fixed=None):
        """``assign_voices`` with this memory: remembered voices reused, new automatic ones remembered."""
        with self.editing() as table:
            known = table.setdefault(backend, {})
            chosen = assign_voices(speakers, configured, pool, default_voice, fixed, known)
            for speaker, (voice, how) in chosen.items():
                if how == "automatic" and speaker not in known:
                    known[speaker] = voice
            if not known:
                del table[backend]
        return chosen


def describe(chosen):
    """'A: nova (automatic), B: onyx (automatic)' for the log."""
    return ", ".join(f"{speaker}: {voice} ({how})" for speaker, (voice, how) in sorted(chosen.items()))
