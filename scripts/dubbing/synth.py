"""Synthesis of a video's segments, through the shared cache: one segment per job, or all at once.

Both modes write the same files: ``tts/<id>.wav`` (the raw speech) and ``tts/<id>.json`` (which
cache key made it and where it came from), so switching modes re-synthesizes nothing and either
mode can tell which segments are stale. This module is imported by every per-segment job, so it
imports nothing heavy; SDKs load only when a request must really be sent.
"""

import asyncio
import dataclasses
import json
import logging
import math
import sys
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from . import backends, retry
from .cache import SpeechCache, cache_key
from .errors import DubbingError
from .files import scratch_file, write_text_atomic
from .script import read_script, split_for_speech

log = logging.getLogger("dubbing")

RATE_MARGIN = 1.01  # stay 1 % under the requests-per-minute cap


@dataclass
class Job:
    """One segment to synthesize."""

    id: str
    text: str
    wav: Path
    record: Path
    key: str
    previous_text: str | None = None
    next_text: str | None = None
    where: str = ""
    settings: object = None  # the backend settings with this line's speaker's voice
    parts: list = field(default_factory=list)  # the text cut to the backend's request limit (usually one part)


def context_for(manifest, settings):
    """{id: (previous text, next text)} when the backend wants neighbours' text, else {}."""
    if not manifest or not backends.info("tts", settings.backend).uses_context:
        return {}
    segments = read_script(manifest)
    return {
        seg.id: (segments[i - 1].text if i else None, segments[i + 1].text if i + 1 < len(segments) else None)
        for i, seg in enumerate(segments)
    }


def voice_settings(settings, speaker, voices):
    """``settings`` with the voice of ``speaker`` (config ``voices``: speaker -> voice, "default")."""
    voice = (voices or {}).get(speaker) or (voices or {}).get("default")
    return dataclasses.replace(settings, voice=voice) if voice else settings


def line_settings(settings, speaker, voices, rate=1.0):
    """The settings a line is voiced with: its speaker's voice, ``rate`` times the configured speed."""
    settings = voice_settings(settings, speaker, voices)
    if rate != 1.0:
        settings = dataclasses.replace(settings, speed=round(settings.speed * rate, 4))
    return settings


def line_key(settings, speaker, voices, text, rate=1.0):
    """The cache key of a line's speech (what ``make_job`` will ask the cache and the backend for)."""
    return cache_key(line_settings(settings, speaker, voices, rate), text)


def make_job(segment_json, wav, record, settings, context, voices=None, rate=1.0, text=None):
    """The job for one segment; ``rate`` speeds the voice up (it multiplies the configured speed, so it
    is part of the cache key); ``text`` replaces the segment's own (a shortened translation)."""
    segment = json.loads(Path(segment_json).read_text(encoding="utf-8"))
    if text is not None:
        segment["text"] = text
    previous_text, next_text = context.get(segment["id"], (None, None))
    settings = line_settings(settings, segment.get("speaker", ""), voices, rate)
    parts = split_for_speech(segment["text"], backends.info("tts", settings.backend).max_chars)
    return Job(segment["id"], segment["text"], Path(wav), Path(record), cache_key(settings, segment["text"]),
               previous_text, next_text, where=f"{segment_json} (segment {segment['id']})", settings=settings,
               parts=parts)


def requests_for(job, tmp):
    """What to send for ``job``, as (text, wav path, previous text, next text) per request.

    Usually one request writing ``tmp``. A line longer than the backend's request limit goes in
    parts (cut at sentence ends), each with its neighbouring parts as context, written next to
    ``tmp`` and joined into it by ``join_parts``.
    """
    if len(job.parts) <= 1:
        return [(job.text, tmp, job.previous_text, job.next_text)]
    last = len(job.parts) - 1
    return [(text, tmp.with_name(f"{tmp.name}.part{i}.wav"), job.previous_text if i == 0 else job.parts[i - 1],
             job.next_text if i == last else job.parts[i + 1]) for i, text in enumerate(job.parts)]


def join_parts(requests, tmp):
    """Concatenate the parts' WAVs into ``tmp`` (one part: already there) and delete them."""
    paths = [path for _, path, _, _ in requests if path != tmp]
    if not paths:
        return
    try:
        with wave.open(str(tmp), "wb") as out:
            for i, path in enumerate(paths):
                with wave.open(str(path), "rb") as part:
                    if i == 0:
                        out.setparams(part.getparams())
                    elif part.getparams()[:3] != out.getparams()[:3]:
                        raise DubbingError(path, "parts of one line came back in different audio formats")
                    out.writeframes(part.readframes(part.getnframes()))
    finally:
        discard_parts(requests, tmp)


def discard_parts(requests, tmp):
    for _, path, _, _ in requests:
        if path != tmp:
            path.unlink(missing_ok=True)


def made_by(settings):
    """Where newly made speech came from, as tts/<id>.json and synth.tsv record it: api or offline (or cache)."""
    return "api" if backends.info("tts", settings.backend).key else "offline"


def is_current(job):
    """The segment's audio exists and was made from exactly this text and voice settings."""
    try:
        return job.wav.is_file() and json.loads(job.record.read_text(encoding="utf-8"))["key"] == job.key
    except (FileNotFoundError, ValueError, KeyError):
        return False


def _check_audio(path, job, backend):
    with wave.open(str(path), "rb") as wav:
        frames, rate = wav.getnframes(), wav.getframerate()
    if frames == 0:
        raise DubbingError(job.where, f"{backend} returned no audio")
    return frames / rate


def _finish(job, cache, settings, source, seconds=None):
    """Place the cached audio at tts/<id>.wav and record where it came from.

    The record first, the audio last: downstream rules ask only for the WAV, so a job killed in
    between leaves its WAV missing and is rerun. (The other order failed in `make soak`: Snakemake
    did not rerun a killed job whose unrequested record was missing, despite its incomplete markers.)
    """
    write_text_atomic(job.record, json.dumps({"id": job.id, "key": job.key, "source": source,
                                              "backend": settings.backend, "seconds": seconds}) + "\n")
    cache.copy_to(job.key, job.wav)


def _store(job, cache, settings, tmp):
    seconds = _check_audio(tmp, job, settings.backend)
    cache.put(job.key, tmp, {"text": job.text, "backend": settings.backend, "model": settings.model,
                             "voice": settings.voice, "seconds": round(seconds, 3)})
    return round(seconds, 3)


def _speak(synthesizer, job, tmp):
    """The job's speech into ``tmp`` with a synchronous synthesizer (in parts if the line is long)."""
    requests = requests_for(job, tmp)
    try:
        for text, path, previous_text, next_text in requests:
            synthesizer.synthesize(text, path, previous_text, next_text, where=job.where, settings=job.settings)
    except BaseException:
        discard_parts(requests, tmp)
        raise
    join_parts(requests, tmp)


def synthesize_one(segment_json, wav, record, settings, cache_dir, manifest=None, voices=None):
    """Per-segment mode: the cache if it has this line, else one request (with retries)."""
    cache = SpeechCache(cache_dir)
    job = make_job(segment_json, wav, record, settings, context_for(manifest, settings), voices)
    settings = job.settings
    with cache.lock(job.key):
        if cache.get(job.key):
            _finish(job, cache, settings, "cache")
            log.info("segment %s: from the cache (%s)", job.id, job.key[:12])
            return "cache"
        synthesizer = backends.load("tts", settings.backend).Synthesizer(settings)
        with scratch_file(job.wav, ".wav") as tmp:
            _speak(synthesizer, job, tmp)
            seconds = _store(job, cache, settings, tmp)
    source = made_by(settings)
    _finish(job, cache, settings, source, seconds)
    log.info("segment %s: synthesized, %.2f s", job.id, seconds)
    return source


class AdaptiveLimit:
    """How many requests may be in flight: AIMD on the server's rate-limit answers.

    A 429 ``rate_limit_exceeded`` halves the limit (once per burst: 429s for requests that were
    already in flight when it was lowered do not lower it again); each success adds 1/limit, so
    the limit grows by about one per round of requests, back up to ``ceiling``.
    """

    def __init__(self, ceiling):
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.in_flight = 0
        self._changed = asyncio.Condition()
        self._epoch = 0  # bumped on each decrease
        self.decreases = 0

    @property
    def allowed(self):
        return max(1, math.floor(self.limit))

    async def acquire(self):
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.allowed)
            self.in_flight += 1
            return self._epoch

    async def release(self, epoch, outcome):
        async with self._changed:
            self.in_flight -= 1
            before = self.allowed
            if outcome == "rate_limited" and epoch == self._epoch and self.limit > 1:
                self.limit = max(1.0, self.limit / 2)
                self._epoch += 1
                self.decreases += 1
            elif outcome == "ok" and self.limit < self.ceiling:
                self.limit = min(float(self.ceiling), self.limit + 1 / self.limit)
            if self.allowed != before:
                log.info("concurrency %d -> %d (%s)", before, self.allowed,
                         "rate limited" if outcome == "rate_limited" else "recovering")
            self._changed.notify_all()


def _wait_after(last_request, period):
    """Seconds to wait so that this job's first request keeps ``period`` after the last one any job
    sent (jobs that send many requests take the whole `api` pool, so they run one after another and
    the spacing of requests_per_minute holds across them too)."""
    try:
        last = float(last_request.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return 0.0
    return min(period, max(0.0, last + period - time.time()))


@dataclass
class BatchStats:
    total: int = 0
    kept: int = 0
    cached: int = 0
    sent: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    last_sent: float = 0.0  # wall-clock time of the last request started
    failed: dict = field(default_factory=dict)


class _Progress:
    """A live tqdm bar on stderr: segments done / total, rate, ETA, retries, concurrency."""

    def __init__(self, total, stats, limit):
        from tqdm import tqdm

        self.stats, self.limit = stats, limit
        self.bar = tqdm(total=total, unit="seg", desc="synthesizing", file=sys.stderr, mininterval=0.5,
                        dynamic_ncols=True, disable=total == 0)

    def update(self, done=0):
        self.bar.set_postfix(retries=self.stats.retries, in_flight=f"{self.limit.in_flight}/{self.limit.allowed}",
                             refresh=False)
        self.bar.update(done)

    def close(self):
        self.bar.close()


async def _run_cloud(jobs, settings, cache, stats, max_concurrent, requests_per_minute):
    from aiolimiter import AsyncLimiter

    synthesizer = backends.load("tts", settings.backend).AsyncSynthesizer(settings)
    # Requests are spaced evenly (a bucket of one), not let out in a burst of a minute's worth:
    # providers count over sliding windows shorter than a minute, and a burst earns 429s.
    period = 60.0 / requests_per_minute * RATE_MARGIN if requests_per_minute else 0.0
    rate = AsyncLimiter(1, period) if period else None
    last_request = cache.root.parent / "last_request"  # shared by every job using this cache
    if period:
        await asyncio.sleep(_wait_after(last_request, period))
    limit = AdaptiveLimit(max_concurrent)
    progress = _Progress(len(jobs), stats, limit)
    provider = getattr(backends.load("tts", settings.backend), "PROVIDER", settings.backend)

    stop = asyncio.Event()  # set by a permanent error (quota, key): nothing more is sent

    async def one(job):
        async def attempt(text, path, previous_text, next_text):
            epoch = await limit.acquire()
            outcome = "error"
            try:
                if stop.is_set():
                    raise asyncio.CancelledError
                if rate:
                    await rate.acquire()
                stats.requests += 1
                stats.last_sent = time.time()
                sent = time.monotonic()
                log.debug("segment %s: request sent (%d characters, %d in flight)", job.id, len(text),
                          limit.in_flight)
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

        try:
            with scratch_file(job.wav, ".wav") as tmp:
                requests = requests_for(job, tmp)
                try:
                    for request in requests:
                        await retry.acall(lambda: attempt(*request), provider=provider, where=job.where,
                                          max_retries=settings.max_retries, on_retry=counted)
                except BaseException:
                    discard_parts(requests, tmp)
                    raise
                join_parts(requests, tmp)
                seconds = _store(job, cache, job.settings, tmp)
            _finish(job, cache, job.settings, "api", seconds)
            stats.sent += 1
        except retry.GaveUp as err:
            stats.failed[job.id] = err.problem
        finally:
            progress.update(1)

    try:
        tasks = [asyncio.ensure_future(one(job)) for job in jobs]
        try:
            await asyncio.gather(*tasks)
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


def _run_local(jobs, settings, cache, stats):
    """Offline backends: one voice loaded once, segments one after another in this process."""
    if not jobs:
        return
    backend = backends.load("tts", settings.backend)
    voices = {}  # one loaded voice per distinct voice, each loaded once
    progress = _Progress(len(jobs), stats, AdaptiveLimit(1))
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
                _speak(voices[job.settings.voice], job, tmp)
                speaking += time.monotonic() - mark
                seconds = _store(job, cache, job.settings, tmp)
            _finish(job, cache, job.settings, "offline", seconds)
            stats.sent += 1
            progress.update(1)
    finally:
        progress.close()
    log.info("offline synthesis: %.2f s in all, %.2f s synthesizing, %.2f s loading %d voice(s)",
             time.monotonic() - started, speaking, loading, len(voices))


def voice_jobs(jobs, settings, cache, max_concurrent=5, requests_per_minute=0):
    """Make every job's WAV current: kept if it already is, from the cache if it has the key, else
    synthesized (one request per distinct key, longest first, within the limits). Returns BatchStats.

    The one place that decides what is current, cached or to send, for the batch and for re-voicing
    lines at a faster rate (fit).
    """
    stats = BatchStats(total=len(jobs))
    to_send, seen = [], {}
    for job in jobs:
        if is_current(job):
            stats.kept += 1
        elif cache.get(job.key):
            _finish(job, cache, job.settings, "cache")
            stats.cached += 1
        elif job.key in seen:
            seen[job.key].append(job)  # the same line twice in this video: one request
        else:
            seen[job.key] = [job]
            to_send.append(job)
    to_send.sort(key=lambda job: len(job.text), reverse=True)  # longest first: the tail is short
    log.info("%d segments: %d up to date, %d from the cache, %d to synthesize", stats.total, stats.kept,
             stats.cached, len(to_send))
    if to_send and backends.info("tts", settings.backend).key:
        asyncio.run(_run_cloud(to_send, settings, cache, stats, max_concurrent, requests_per_minute))
    elif to_send:
        _run_local(to_send, settings, cache, stats)
    for first in to_send:
        for twin in seen[first.key][1:]:
            if cache.get(twin.key):
                _finish(twin, cache, twin.settings, "cache")
                stats.cached += 1
    return stats


def failure(stats, where):
    """The DubbingError for the jobs that failed (None if none did)."""
    if not stats.failed:
        return None
    listed = "; ".join(f"segment {seg_id}: {problem}" for seg_id, problem in sorted(stats.failed.items()))
    return DubbingError(where, f"{len(stats.failed)} segment(s) failed (the others are kept; rerun to retry "
                               f"only these): {listed}")


def synthesize_batch(segment_jsons, tts_dir, report, settings, cache_dir, manifest=None, max_concurrent=5,
                     requests_per_minute=0, voices=None):
    """Async mode: every stale segment of a video in one process, longest first, within the limits."""
    started = time.monotonic()
    cache = SpeechCache(cache_dir)
    context = context_for(manifest, settings)
    tts_dir = Path(tts_dir)
    jobs = [make_job(path, tts_dir / f"{Path(path).stem}.wav", tts_dir / f"{Path(path).stem}.json", settings, context,
                     voices) for path in segment_jsons]
    stats = voice_jobs(jobs, settings, cache, max_concurrent, requests_per_minute)
    elapsed = time.monotonic() - started
    summary = (f"{stats.total} segments in {elapsed:.1f} s: {stats.sent} synthesized, {stats.cached} from the cache, "
               f"{stats.kept} already up to date; {stats.requests} requests, {stats.retries} retries, "
               f"{stats.rate_limited} rate-limited")
    log.info("%s", summary)
    print(summary, file=sys.stderr)
    error = failure(stats, tts_dir)
    if error:
        raise error
    write_text_atomic(report, json.dumps({"segments": stats.total, "synthesized": stats.sent, "cached": stats.cached,
                                          "kept": stats.kept, "requests": stats.requests, "retries": stats.retries,
                                          "rate_limited": stats.rate_limited, "seconds": round(elapsed, 2)},
                                         indent=1) + "\n")


def write_index(wavs, dest):
    """results/<video>/synth.tsv: per segment, its audio length and whether it came from the API or the cache."""
    rows = ["id\tseconds\tsource\tkey"]
    for wav in wavs:
        record = json.loads(Path(wav).with_suffix(".json").read_text(encoding="utf-8"))
        with wave.open(str(wav), "rb") as audio:
            seconds = audio.getnframes() / audio.getframerate()
        rows.append(f"{record['id']}\t{seconds:.3f}\t{record['source']}\t{record['key']}")
    write_text_atomic(dest, "\n".join(rows) + "\n")
