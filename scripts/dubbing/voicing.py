"""One voicing: what every caller of synthesis shares (issue 22).

The per-segment job, the async batch, the fit's faster re-voicing, shorten's new wordings and the
plan all make jobs (``jobs.make_job``), sort them into current / cached / to send, and (all but the
plan) send what is left. They do it through one ``Voicing``, which carries the backend settings, the
shared cache, the neighbours' text a backend is sent as context, the speakers' voices and the limits
(``Limits``: the one carrier of ``max_concurrent`` and ``requests_per_minute``), so the plan and the
run sort the same way by construction. The runners themselves (one request, the async event loop,
an offline voice loaded once) are in ``synth.py``. Imported by every per-segment job: nothing heavy.
"""

from dataclasses import dataclass, field
from pathlib import Path

from . import backends
from .cache import SpeechCache
from .errors import DubbingError
from .jobs import context_for, is_current, make_job


@dataclass(frozen=True)
class Limits:
    """How much may be sent at once: requests in flight (the `api` slots a job holds) and per minute."""

    max_concurrent: int = 5
    requests_per_minute: float = 0


@dataclass
class Triage:
    """Jobs sorted by what making them costs: nothing (current), a copy (cached), a request (to_send).

    ``twins``: key -> the further jobs with the same key as one in ``to_send`` (the same line twice in a
    video: one request, then a copy)."""

    current: list = field(default_factory=list)
    cached: list = field(default_factory=list)
    to_send: list = field(default_factory=list)
    twins: dict = field(default_factory=dict)

    @property
    def copies(self):
        return len(self.cached) + sum(len(more) for more in self.twins.values())


class Voicing:
    """The settings, cache, context, voices and limits of one video's synthesis."""

    def __init__(self, settings, cache_dir, *, voices=None, manifest=None, limits=Limits(), ahead=None):
        self.settings = settings
        self.cache = SpeechCache(cache_dir)
        self.voices = voices
        self.context = context_for(manifest, settings)
        self.limits = limits
        self.ahead = ahead  # an ahead.Ahead: lines voiced faster in the same pass when their first voicing is slow

    @property
    def paid(self):
        """Whether this backend sends requests (a key) rather than speaking offline."""
        return bool(backends.info("tts", self.settings.backend).key)

    def job(self, segment_json, out_dir, rate=None, text=None):
        """The job voicing one segment into ``out_dir/<id>.wav`` (its record beside it; None: the cache only)."""
        seg_id = Path(segment_json).stem
        wav, record = (Path(out_dir) / f"{seg_id}.wav", Path(out_dir) / f"{seg_id}.json") if out_dir else (None, None)
        return make_job(segment_json, wav, record, self.settings, self.context, self.voices, rate=rate, text=text)

    def again(self, job):
        """The job voicing ``job``'s line faster into the cache, now, when its first voicing (``job.speech``
        seconds, measured by ``jobs.store``) is slower than the fit will keep (``ahead.py``); None otherwise or
        when the cache has it."""
        if self.ahead is None or job.segment_json is None or job.speech is None:
            return None
        rate = self.ahead.heard(job.id, job.speech)
        if rate is None:
            return None
        faster = self.job(job.segment_json, None, rate=rate)
        return None if self.cache.get(faster.key) else faster

    def triage(self, jobs):
        """Sort ``jobs`` without making anything; ``to_send`` longest first (the tail of a batch is short)."""
        out, seen = Triage(), set()
        for job in jobs:
            if is_current(job):
                out.current.append(job)
            elif self.cache.get(job.key):
                out.cached.append(job)
            elif job.key in seen:
                out.twins[job.key].append(job)
            else:
                seen.add(job.key)
                out.twins[job.key] = []
                out.to_send.append(job)
        out.to_send.sort(key=lambda job: len(job.text), reverse=True)
        out.twins = {key: more for key, more in out.twins.items() if more}
        return out

    def run(self, jobs):
        """Make every job's WAV current (kept, copied from the cache, or sent within the limits): BatchStats."""
        from .synth import voice_jobs

        return voice_jobs(jobs, self)


def failure(stats, where):
    """The DubbingError for the jobs that failed (None if none did)."""
    if not stats.failed:
        return None
    listed = "; ".join(f"segment {seg_id}: {problem}" for seg_id, problem in sorted(stats.failed.items()))
    return DubbingError(where, f"{len(stats.failed)} segment(s) failed (the others are kept; rerun to retry "
                               f"only these): {listed}")
