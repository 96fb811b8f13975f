"""Cloned voices (ElevenLabs instant voice cloning): each speaker dubbed in their own voice.

For every named speaker (not given a voice in config ``voices``) a sample of their own speech is cut
from the source: only their lines, none that overlaps another speaker's, the cleanest first (the
quietest surroundings: the least music or noise around the line, since nothing can separate a music
bed offline), up to ``SAMPLE_SECONDS``, each joined by a short pause, as a 24 kHz 16-bit WAV (tens
of kilobytes a second, so ElevenLabs hears enough). One clone is made per distinct sample
(``POST /v1/voices/add``) and recorded in ``<cache_dir>/voices/<key>.json``, the key being the hash
of the sample's bytes and the server: a rerun, an edit elsewhere, another setting or another video
with the same sample creates nothing new. ``tools/clones.py`` (``make clones``, ``make
clones-delete``) lists the clones this project made and deletes them from the account.

Cloning someone's voice needs their consent (README, "Cloned voices").
"""

import io
import json
import logging
import time
import wave
from pathlib import Path

import numpy as np

from . import retry, secrets
from .cache import text_key
from .errors import DubbingError
from .files import atomic_output

log = logging.getLogger("dubbing")

PROVIDER = "ElevenLabs"
DEFAULT_BASE_URL = "https://api.elevenlabs.io"
RATE = 24000
SAMPLE_SECONDS = 90.0  # ElevenLabs advises one to two minutes of clean speech for an instant clone
MIN_SECONDS = 3.0  # below this a clone would not sound like the speaker: the speaker keeps a stock voice
PAUSE_SECONDS = 0.3  # between the lines joined into a sample
AROUND = 0.4  # seconds either side of a line where its background is measured
SEPARATION = 0.2  # a line this close to another speaker's is not used (voices may overlap there)


def _connection():
    key = secrets.get("ELEVENLABS_API_KEY")
    if not key:
        raise DubbingError("ELEVENLABS_API_KEY", "not set; export it or put it in .env (see README, 'Cloud backends')")
    return key, (secrets.get("ELEVENLABS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def _rms(samples):
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


def sample_for(segments, speaker, samples, rate=RATE):
    """(int16 samples, seconds, lines used) of ``speaker``'s own speech from mono ``samples`` at ``rate``."""
    others = [seg for seg in segments if seg.speaker != speaker]
    own = [seg for seg in segments if seg.speaker == speaker
           and not any(o.start < seg.end + SEPARATION and seg.start < o.end + SEPARATION for o in others)]

    def background(seg):
        before = samples[max(0, int((seg.start - AROUND) * rate)): int(seg.start * rate)]
        after = samples[int(seg.end * rate): int((seg.end + AROUND) * rate)]
        return _rms(np.concatenate([before, after]))

    chosen, total = [], 0.0
    for seg in sorted(own, key=lambda seg: (background(seg), seg.start)):
        if total >= SAMPLE_SECONDS:
            break
        chosen.append(seg)
        total += seg.end - seg.start
    pause = np.zeros(int(PAUSE_SECONDS * rate), dtype=np.int16)
    pieces = []
    for seg in sorted(chosen, key=lambda seg: seg.start):
        pieces += [samples[int(seg.start * rate): int(seg.end * rate)], pause]
    joined = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
    return joined, joined.size / rate, [seg.id for seg in sorted(chosen, key=lambda seg: seg.start)]


def wav_bytes(samples, rate=RATE):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


class CloneRecords:
    """The clones this project made: ``<cache_dir>/voices/<key>.json`` (voice id, name, where it came from)."""

    def __init__(self, cache_dir):
        self.root = Path(cache_dir) / "voices"

    def get(self, key):
        try:
            return json.loads((self.root / f"{key}.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def put(self, key, record):
        with atomic_output(self.root / f"{key}.json", ".json") as tmp:
            tmp.write_text(json.dumps(record, ensure_ascii=False, sort_keys=True, indent=1) + "\n", encoding="utf-8")

    def all(self):
        return sorted((json.loads(path.read_text(encoding="utf-8")) | {"key": path.stem}
                       for path in self.root.glob("*.json")), key=lambda record: record.get("created", 0))

    def remove(self, key):
        (self.root / f"{key}.json").unlink(missing_ok=True)


def _request(method, url, key, timeout, **kwargs):
    import httpx

    from .backends.http_audio import ApiStatusError

    with httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0)) as client:
        response = client.request(method, url, headers={"xi-api-key": key}, **kwargs)
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = response.text[:500]
        raise ApiStatusError(response, body)
    return response.json()


def create(sample, name, description, *, timeout, max_retries, where):
    """A new instant clone from ``sample`` (WAV bytes): its voice id."""
    key, base_url = _connection()
    answer = retry.call(
        lambda: _request("POST", f"{base_url}/v1/voices/add", key, timeout,
                         data={"name": name, "description": description, "remove_background_noise": "false"},
                         files=[("files", ("sample.wav", sample, "audio/wav"))]),
        provider=PROVIDER, where=where, max_retries=max_retries)
    if not isinstance(answer, dict) or not answer.get("voice_id"):
        raise DubbingError(where, f"ElevenLabs answered without a voice_id: {str(answer)[:200]}")
    return answer["voice_id"]


def delete(voice_id, *, timeout=60.0, max_retries=3):
    """Delete a clone from the account; False if the account no longer had it."""
    from .backends.http_audio import ApiStatusError

    key, base_url = _connection()

    def attempt():
        try:
            return _request("DELETE", f"{base_url}/v1/voices/{voice_id}", key, timeout)
        except ApiStatusError as error:
            if error.status_code == 404:
                return None
            raise

    return retry.call(attempt, provider=PROVIDER, where=f"voice {voice_id}", max_retries=max_retries) is not None


def clone_speakers(segments, samples, *, video, cache_dir, configured, timeout, max_retries, where):
    """{speaker: voice id} for every named speaker not configured in ``voices``: cached, else cloned now."""
    _key, base_url = _connection()
    records = CloneRecords(cache_dir)
    clones = {}
    for speaker in sorted({seg.speaker for seg in segments} - {""} - set(configured or {})):
        sample, seconds, used = sample_for(segments, speaker, samples)
        if seconds < MIN_SECONDS:
            log.warning("speaker %s: only %.1f s of their own speech (lines not overlapping others), too little to "
                        "clone; they keep a stock voice", speaker, seconds)
            continue
        data = wav_bytes(sample)
        key = text_key(kind="elevenlabs-instant-clone", server=base_url, sample=_sha(data))
        record = records.get(key)
        if record:
            log.info("speaker %s: clone %s from the cache (%s)", speaker, record["voice_id"], record["name"])
        else:
            name = f"dub {video} {speaker} {key[:8]}"
            voice_id = create(data, name, f"Cloned by the dubbing pipeline from {video}, speaker {speaker}",
                              timeout=timeout, max_retries=max_retries, where=f"{where} (speaker {speaker})")
            record = {"voice_id": voice_id, "name": name, "speaker": speaker, "video": video, "server": base_url,
                      "sample_seconds": round(seconds, 2), "sample_bytes": len(data), "lines": used,
                      "created": time.time()}
            records.put(key, record)
            log.info("speaker %s: cloned as %s from %.1f s of their speech (%d lines, %d bytes)", speaker, voice_id,
                     seconds, len(used), len(data))
        clones[speaker] = record["voice_id"]
    return clones


def _sha(data):
    import hashlib

    return hashlib.sha256(data).hexdigest()
