"""The synthesis job model and cache protocol, shared by both synthesis modes, the fit and shorten.

A job is one line to voice: its text, its speaker's voice settings (and speed), and the cache key
they make. ``tts/<id>.json`` (or ``paced/<id>.json``, ``shortened/<id>.json``) records the key each
WAV was made from, so a job is *current* when that key equals today's, in either mode. Audio goes
into the shared cache first and is copied out (``finish``), record before WAV (see ARCHITECTURE,
"Surviving kill -9"). Lines longer than one request may carry go in parts (``requests_for``,
``join_parts``). Imported by every per-segment job: nothing heavy here.
"""

import contextlib
import dataclasses
import json
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from . import backends
from .cache import cache_key
from .errors import DubbingError
from .files import append_row, write_text_atomic
from .script import read_script, split_for_speech


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
    segment_json: Path | None = None  # the segment it voices (None: not from a segment file)
    speech: float | None = None  # seconds of speech (silence trimmed) once a paid voice made it (``store``)


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


def make_job(segment_json, wav, record, settings, context, voices=None, rate=None, text=None):
    """The job for one segment (``wav`` and ``record`` None: for the cache only); ``rate`` speeds the voice up
    (it multiplies the configured speed, so it is part of the cache key; by default the rate the segments
    checkpoint predicted the line needs, ``rates.py``); ``text`` replaces the segment's own (a shortened
    translation)."""
    segment = json.loads(Path(segment_json).read_text(encoding="utf-8"))
    if rate is None:
        rate = segment.get("rate", 1.0)
    if text is not None:
        segment["text"] = text
    previous_text, next_text = context.get(segment["id"], (None, None))
    if segment.get("voice"):  # the voice the segments checkpoint chose for this line's speaker
        settings = line_settings(dataclasses.replace(settings, voice=segment["voice"]), "", None, rate)
    else:
        settings = line_settings(settings, segment.get("speaker", ""), voices, rate)
    parts = split_for_speech(segment["text"], backends.info("tts", settings.backend).max_chars)
    return Job(segment["id"], segment["text"], wav and Path(wav), record and Path(record),
               cache_key(settings, segment["text"]), previous_text, next_text,
               where=f"{segment_json} (segment {segment['id']})", settings=settings, parts=parts,
               segment_json=Path(segment_json))


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
    if job.wav is None:  # made for the cache only: never "current"
        return False
    try:
        return job.wav.is_file() and json.loads(job.record.read_text(encoding="utf-8"))["key"] == job.key
    except (FileNotFoundError, ValueError, KeyError):
        return False


def check_audio(path, job, backend):
    with wave.open(str(path), "rb") as wav:
        frames, rate = wav.getnframes(), wav.getframerate()
    if frames == 0:
        raise DubbingError(job.where, f"{backend} returned no audio")
    return frames / rate


def finish(job, cache, settings, source, seconds=None):
    """Place the cached audio at tts/<id>.wav and record where it came from.

    The record first, the audio last: downstream rules ask only for the WAV, so a job killed in
    between leaves its WAV missing and is rerun. (The other order failed in `make soak`: Snakemake
    did not rerun a killed job whose unrequested record was missing, despite its incomplete markers.)
    """
    write_text_atomic(job.record, json.dumps({"id": job.id, "key": job.key, "source": source,
                                              "backend": settings.backend, "seconds": seconds}) + "\n")
    cache.copy_to(job.key, job.wav)


def store(job, cache, settings, tmp):
    """Put newly made speech into the cache; a paid voice's speech is measured once (``job.speech``), for the
    next predictions (rates.py) and for voicing it faster at once if it is too slow (ahead.py)."""
    from . import rates

    seconds = check_audio(tmp, job, settings.backend)
    cache.put(job.key, tmp, {"text": job.text, "backend": settings.backend, "model": settings.model,
                             "voice": settings.voice, "speed": settings.speed, "seconds": round(seconds, 3)})
    if rates.predicts(settings.backend):
        from .audio import speech_seconds  # numpy: only once speech was made

        job.speech = speech_seconds(tmp)
        rates.Heard(cache.root.parent).record(settings, job.text, job.speech)
    log_sent(job, settings)
    return round(seconds, 3)


SENT = "sent.tsv"  # results/<video>/sent.tsv: what was paid for, one row per line voiced by a paid backend


def log_sent(job, settings):
    """Append to the video's ``sent.tsv``: when, which line, how many requests and characters (what the
    end of a run sets against the plan, ``plan.sent_since``). One short O_APPEND write: safe with many jobs."""
    if job.segment_json is None or not backends.info("tts", settings.backend).key:
        return
    append_row(job.segment_json.parent.parent / SENT,
               f"{time.time():.3f}\t{job.id}\t{max(1, len(job.parts))}\t{len(job.text)}\n")


@contextlib.contextmanager
def parts_into(job, tmp):
    """Yield the requests for ``job`` (see ``requests_for``); when the block has sent them all, their parts
    are joined into ``tmp``; if it fails, the parts are deleted. The one parts protocol of both modes."""
    requests = requests_for(job, tmp)
    try:
        yield requests
    except BaseException:
        discard_parts(requests, tmp)
        raise
    join_parts(requests, tmp)


def speak(synthesizer, job, tmp):
    """The job's speech into ``tmp`` with a synchronous synthesizer (in parts if the line is long)."""
    with parts_into(job, tmp) as requests:
        for text, path, previous_text, next_text in requests:
            synthesizer.synthesize(text, path, previous_text, next_text, where=job.where, settings=job.settings)

