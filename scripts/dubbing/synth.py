"""Synthesis runners: one line per job (per-segment mode), or many lines from one process (the
async batch, and the fit and shorten re-voicing lines), through the shared cache.

Both modes write the same files: ``tts/<id>.wav`` (the raw speech) and ``tts/<id>.json`` (which
cache key made it and where it came from), so switching modes re-synthesizes nothing and either
mode can tell which segments are stale (``jobs.is_current``). Every runner takes a ``Voicing``
(settings, cache, context, voices, limits; ``voicing.py``); the job model and cache protocol are in
``jobs.py``, the pacing of requests and progress in ``flow.py``. Imported by every per-segment job,
so it imports nothing heavy; SDKs load only when a request must really be sent.
"""

import asyncio
import json
import logging
import sys
import time
import wave
from pathlib import Path

from . import backends, retry
from .errors import DubbingError
from .files import scratch_file, write_text_atomic
from .flow import RATE_MARGIN, AdaptiveLimit, BatchStats, Progress, space_request, wait_after
from .jobs import finish, made_by, parts_into, speak, store
from .voicing import failure

log = logging.getLogger("dubbing")


def _send(job, voicing, synthesizer=None):
    """One line's speech into the cache (and ``job.wav``'s scratch, or the cache's own folder for a job made
    for the cache only) with one request, spaced after the last request any job sent when the limits set
    ``requests_per_minute``. Returns (seconds, the synthesizer, to reuse)."""
    settings, requests_per_minute = job.settings, voicing.limits.requests_per_minute
    synthesizer = synthesizer or backends.load("tts", settings.backend).Synthesizer(settings)
    if requests_per_minute and voicing.paid:
        space_request(voicing.cache.root.parent / "last_request", 60.0 / requests_per_minute * RATE_MARGIN)
    with scratch_file(job.wav or voicing.cache.scratch_near(job.key), ".wav") as tmp:
        speak(synthesizer, job, tmp)
        return store(job, voicing.cache, settings, tmp), synthesizer


def synthesize_one(segment_json, wav, voicing):
    """Per-segment mode: the cache if it has this line, else one request (with retries); if that voicing is
    slower than its time will need (``voicing.again``, ahead.py), a second one at that rate in this job."""
    cache = voicing.cache
    job = voicing.job(segment_json, Path(wav).parent)
    with cache.lock(job.key):
        if cache.get(job.key):
            finish(job, cache, job.settings, "cache")
            log.info("segment %s: from the cache (%s)", job.id, job.key[:12])
            return "cache"
        seconds, synthesizer = _send(job, voicing)
    source = made_by(job.settings)
    finish(job, cache, job.settings, source, seconds)
    log.info("segment %s: synthesized, %.2f s", job.id, seconds)
    faster = voicing.again(job)
    if faster is not None:
        with cache.lock(faster.key):
            if not cache.get(faster.key):
                _send(faster, voicing, synthesizer)
                log.info("segment %s: slower than its time needs; voiced at speed %s too, in this job (the fit "
                         "takes it from the cache)", job.id, faster.settings.speed)
    return source


async def _run_cloud(jobs, voicing, stats):
    from aiolimiter import AsyncLimiter

    settings, cache = voicing.settings, voicing.cache
    max_concurrent, requests_per_minute = voicing.limits.max_concurrent, voicing.limits.requests_per_minute

    synthesizer = backends.load("tts", settings.backend).AsyncSynthesizer(settings)
    # Requests are spaced evenly (a bucket of one), not let out in a burst of a minute's worth:
    # providers count over sliding windows shorter than a minute, and a burst earns 429s.
    period = 60.0 / requests_per_minute * RATE_MARGIN if requests_per_minute else 0.0
    rate = AsyncLimiter(1, period) if period else None
    last_request = cache.root.parent / "last_request"  # shared by every job using this cache
    if period:
        await asyncio.sleep(wait_after(last_request, period))
    limit = AdaptiveLimit(max_concurrent)
    progress = Progress(len(jobs), stats, limit)
    provider = getattr(backends.load("tts", settings.backend), "PROVIDER", settings.backend)

    stop = asyncio.Event()  # set by a permanent error (quota, key): nothing more is sent

    async def attempt(job, urgent, text, path, previous_text, next_text):
        epoch = await limit.acquire(urgent)
        outcome = "error"
        try:
            if stop.is_set():
                raise asyncio.CancelledError
            if rate:
                await rate.acquire()
            stats.requests += 1
            stats.last_sent = time.time()
            sent = time.monotonic()
            log.debug("segment %s: request sent (%d characters, %d in flight)", job.id, len(text), limit.in_flight)
            await synthesizer.request_once(text, path, previous_text, next_text, job.settings)
            log.debug("segment %s: audio received in %.2f s", job.id, time.monotonic() - sent)
            outcome = "ok"
        except Exception as exc:
            verdict = retry.classify(exc)
            outcome = "rate_limited" if verdict and verdict.rate_limited else "error"
            if verdict is None or not verdict.retry:
                stop.set()  # before the slot is released, so no waiting request slips out
            raise
        finally:
            await limit.release(epoch, outcome)

    def counted(verdict):
        stats.retries += 1
        stats.rate_limited += verdict.rate_limited
        progress.update()

    async def send(job, urgent=False):
        """The job's speech into the cache (its parts, each with retries); its seconds. ``urgent``: before the
        requests waiting (a line voiced again is on the critical path: its first voicing already took a turn)."""
        with scratch_file(job.wav or cache.scratch_near(job.key), ".wav") as tmp:
            with parts_into(job, tmp) as requests:
                for request in requests:
                    await retry.acall(lambda: attempt(job, urgent, *request), provider=provider, where=job.where,
                                      max_retries=settings.max_retries, on_retry=counted)
            return store(job, cache, job.settings, tmp)

    async def one(job):
        try:
            seconds = await send(job)
            finish(job, cache, job.settings, "api", seconds)
            stats.sent += 1
        except retry.GaveUp as err:
            stats.failed[job.id] = err.problem
            return
        finally:
            progress.update(1)
        # Slower than its time will need: voiced faster now, in this loop and under its limits, not in a
        # second round after every first voicing (ahead.py); the fit finds it in the cache.
        faster = voicing.again(job)
        if faster is not None:
            try:
                await send(faster, urgent=True)
                stats.ahead += 1
            except retry.GaveUp as err:
                log.warning("segment %s: voicing it faster ahead of the fit failed (the fit will ask again): %s",
                            job.id, err.problem)

    async def rest():
        """What the fit would still send, now that every first voicing is made (ahead.py): sent here."""
        if voicing.ahead is None or stats.failed or not jobs:
            return
        try:
            slow = voicing.ahead.still_slow(voicing, jobs[0].wav.parent)
        except (FileNotFoundError, DubbingError):  # a line not made yet (the same line twice): the fit decides
            return
        for faster in slow:
            log.info("segment %s: voiced at speed %s for the fit (the whole video's pace)", faster.id,
                     faster.settings.speed)
        outcomes = await asyncio.gather(*(send(faster, urgent=True) for faster in slow), return_exceptions=True)
        for faster, outcome in zip(slow, outcomes):
            if isinstance(outcome, retry.GaveUp):
                log.warning("segment %s: voicing it faster for the fit failed (the fit will ask again): %s",
                            faster.id, outcome.problem)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                stats.ahead += 1

    try:
        tasks = [asyncio.ensure_future(one(job)) for job in jobs]
        try:
            await asyncio.gather(*tasks)
            await rest()
        except DubbingError:
            for task in tasks:  # a permanent error (quota, key): stop everything at once
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    finally:
        progress.close()
        await synthesizer.aclose()
        if period and stats.last_sent:
            write_text_atomic(last_request, f"{stats.last_sent:.3f}\n")
    return limit


def _run_local(jobs, voicing, stats):
    """Offline backends: one voice loaded once, segments one after another in this process."""
    if not jobs:
        return
    cache = voicing.cache
    backend = backends.load("tts", voicing.settings.backend)
    voices = {}  # one loaded voice per distinct voice, each loaded once
    progress = Progress(len(jobs), stats, AdaptiveLimit(1))
    loading = speaking = 0.0  # seconds loading voices / synthesizing (`make bench-scale` compares them)
    started = time.monotonic()
    try:
        for job in jobs:
            if job.settings.voice not in voices:
                mark = time.monotonic()
                voices[job.settings.voice] = backend.Synthesizer(job.settings)
                loading += time.monotonic() - mark
            with scratch_file(job.wav, ".wav") as tmp:
                mark = time.monotonic()
                speak(voices[job.settings.voice], job, tmp)
                speaking += time.monotonic() - mark
                seconds = store(job, cache, job.settings, tmp)
            finish(job, cache, job.settings, "offline", seconds)
            stats.sent += 1
            progress.update(1)
    finally:
        progress.close()
    log.info("offline synthesis: %.2f s in all, %.2f s synthesizing, %.2f s loading %d voice(s)",
             time.monotonic() - started, speaking, loading, len(voices))


def voice_jobs(jobs, voicing):
    """Make every job's WAV current: kept if it already is, from the cache if it has the key, else
    synthesized (one request per distinct key, longest first, within the voicing's limits). Returns
    BatchStats. The sorting is ``Voicing.triage``, the one the plan counts with.
    """
    stats = BatchStats(total=len(jobs))
    triage = voicing.triage(jobs)
    stats.kept = len(triage.current)
    for job in triage.cached:
        finish(job, voicing.cache, job.settings, "cache")
    stats.cached = len(triage.cached)
    log.info("%d segments: %d up to date, %d from the cache, %d to synthesize", stats.total, stats.kept,
             stats.cached, len(triage.to_send))
    if triage.to_send and voicing.paid:
        asyncio.run(_run_cloud(triage.to_send, voicing, stats))
    elif triage.to_send:
        _run_local(triage.to_send, voicing, stats)
    for twins in triage.twins.values():
        for twin in twins:
            if voicing.cache.get(twin.key):
                finish(twin, voicing.cache, twin.settings, "cache")
                stats.cached += 1
    return stats


def synthesize_batch(segment_jsons, tts_dir, report, voicing):
    """Async mode: every stale segment of a video in one process, longest first, within the limits."""
    started = time.monotonic()
    tts_dir = Path(tts_dir)
    jobs = [voicing.job(path, tts_dir) for path in segment_jsons]
    stats = voicing.run(jobs)
    elapsed = time.monotonic() - started
    summary = (f"{stats.total} segments in {elapsed:.1f} s: {stats.sent} synthesized, {stats.cached} from the cache, "
               f"{stats.kept} already up to date; {stats.requests} requests, {stats.retries} retries, "
               f"{stats.rate_limited} rate-limited"
               + (f"; {stats.ahead} line(s) voiced faster in the same pass (too slow for their time)"
                  if stats.ahead else ""))
    log.info("%s", summary)
    print(summary, file=sys.stderr)
    error = failure(stats, tts_dir)
    if error:
        raise error
    write_text_atomic(report, json.dumps({"segments": stats.total, "synthesized": stats.sent, "cached": stats.cached,
                                          "kept": stats.kept, "requests": stats.requests, "ahead": stats.ahead,
                                          "retries": stats.retries, "rate_limited": stats.rate_limited,
                                          "seconds": round(elapsed, 2)}, indent=1) + "\n")


def write_index(wavs, dest):
    """results/<video>/synth.tsv: per segment, its audio length and whether it came from the API or the cache."""
    rows = ["id\tseconds\tsource\tkey"]
    for wav in wavs:
        record = json.loads(Path(wav).with_suffix(".json").read_text(encoding="utf-8"))
        with wave.open(str(wav), "rb") as audio:
            seconds = audio.getnframes() / audio.getframerate()
        rows.append(f"{record['id']}\t{seconds:.3f}\t{record['source']}\t{record['key']}")
    write_text_atomic(dest, "\n".join(rows) + "\n")
