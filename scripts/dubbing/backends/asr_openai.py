"""OpenAI transcription (``/v1/audio/transcriptions``): whisper-1 segments, or who said what with a
diarizing model (``gpt-4o-transcribe-diarize``: any model whose name has "diarize").

The audio is sent as compressed mono speech (Opus, 16 kHz, 32 kbit/s: about 14 MB per hour), in
chunks of ``chunk_seconds`` cut at the quietest moment near each boundary so no word is split, each
under the 25 MB upload limit; segment times are re-offset by their chunk's start.

Speakers (diarizing models): ``response_format="diarized_json"`` with ``chunking_strategy="auto"``
(required over 30 s), no prompt and no timestamp granularities (the model takes neither), chunks of
at most 1,400 s (the most it takes). The API labels the speakers of each request on its own (A, B,
... per chunk), so to keep one person one label over the whole video, after each chunk a reference
clip of every speaker first heard in it (their longest clean segment, 2.5-8 s; when none is that
long, several of their segments joined) is cut from the source audio and sent with every later chunk
as ``known_speaker_names[]`` / ``known_speaker_references[]`` (16 kHz WAV data URLs). The transcript's
labels are A, B, ... in order of first appearance in the video; the names sent are ``speaker_A``, ...,
which the API's own per-request letters cannot be mistaken for. A speaker with under 2.5 s of clean
speech in a chunk gets a reference from a later chunk where they say more; until then they come back
under a new label. The API takes at most 4 known speakers: with more, each chunk carries the 4 heard
most recently, and a speaker left out who speaks in that chunk comes back under a new label too (the
same person then has two labels; name them in ``voices`` alike, or edit the script).
"""

import base64
import io
import logging
import tempfile
import wave
from pathlib import Path

import numpy as np

from .. import languages, retry
from ..audio import FFMPEG, decode_mono, frame_levels, run_tool, snap_to_speech
from ..errors import DubbingError
from ..subtitles import Cue
from . import Transcript, openai_client

log = logging.getLogger("dubbing")

UPLOAD_LIMIT = 25 * 1024 * 1024
ANALYSIS_RATE = 16000
SEARCH = 10.0  # seconds either side of a chunk boundary to look for a pause
PAUSE = 0.3  # seconds of quiet wanted around a cut
DIARIZE_MAX_SECONDS = 1400.0  # the longest audio a diarizing request may carry
MAX_KNOWN_SPEAKERS = 4  # known speakers one request may name
REFERENCE_SECONDS = (2.5, 8.0)  # a reference clip's length: the API takes 2-10 s; margin for its decoder
NAME_PREFIX = "speaker_"  # known speakers' names: never one of the API's own letters


def diarizing(model):
    """Whether ``model`` labels speakers (``gpt-4o-transcribe-diarize``)."""
    return "diarize" in (model or "")


def chunk_bounds(levels, frame, duration, chunk_seconds):
    """[(start, end)] covering ``duration`` in chunks of about ``chunk_seconds``, each cut in the middle of
    the quietest pause near its target (within a quarter chunk, at most SEARCH s)."""
    search = min(SEARCH, chunk_seconds / 4)
    # A frame's "noise" is the loudest level within PAUSE s around it: the minimum is inside a real pause.
    half = int(PAUSE / 2 / frame)
    padded = np.pad(levels, half, mode="edge") if levels.size else levels
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1) if levels.size else levels
    noise = windows.max(axis=1) if levels.size else levels
    bounds, start = [], 0.0
    while duration - start > chunk_seconds:
        target = start + chunk_seconds
        first = int(max(start + 1.0, target - search) / frame)
        last = int(min(duration, target + search) / frame)
        window = noise[first:last]
        if window.size:
            quietest = np.flatnonzero(window == window.min()) + first
            cut = round(float(quietest[np.argmin(np.abs(quietest - target / frame))]) * frame, 3)
        else:
            cut = target
        bounds.append((start, cut))
        start = cut
    bounds.append((start, duration))
    return bounds


def encode_chunk(source, start, end, dest):
    cmd = FFMPEG + ["-ss", f"{start:.3f}", "-t", f"{end - start:.3f}", "-i", str(source), "-vn", "-ac", "1",
                    "-ar", str(ANALYSIS_RATE), "-c:a", "libopus", "-b:a", "32k", "-application", "voip",
                    "-f", "ogg", str(dest)]
    run_tool(cmd, source, "compressing audio for upload")
    if dest.stat().st_size >= UPLOAD_LIMIT:
        raise DubbingError(source, f"a {end - start:.0f} s chunk is over 25 MB compressed; lower asr_chunk_seconds")


def speaker_label(index):
    """A, B, ..., Z, AA, AB, ...: the ``index``-th speaker's label (0-based)."""
    label = ""
    index += 1
    while index:
        index, letter = divmod(index - 1, 26)
        label = chr(ord("A") + letter) + label
    return label


def wav_data_url(samples, rate):
    """A ``data:audio/wav;base64,...`` URL of int16 mono ``samples``."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def reference_span(own, others, shortest=REFERENCE_SECONDS[0], longest=REFERENCE_SECONDS[1]):
    """[(start, end)] of one speaker's clean speech for a reference clip, or [] when there is too little.

    ``own`` and ``others`` are (start, end) segments of this speaker and of everyone else; a segment
    overlapping another speaker's is not clean. The longest clean segment when it is long enough (its
    first ``longest`` s), else the longest ones joined, in time order, until ``shortest`` s.
    """
    clean = [(s, e) for s, e in own if e > s and not any(s < other_end and other_start < e
                                                          for other_start, other_end in others)]
    clean.sort(key=lambda span: (span[0] - span[1], span[0]))  # longest first, then earliest
    if not clean:
        return []
    start, end = clean[0]
    if end - start >= shortest:
        return [(start, min(end, start + longest))]
    chosen, total = [], 0.0
    for start, end in clean:
        chosen.append((start, end))
        total += end - start
        if total >= shortest:
            return sorted(chosen)
    return []


class Speakers:
    """The video's speakers across chunks: one label each, in order of first appearance, and a reference
    clip of each to name them to the API in later chunks."""

    def __init__(self, samples, rate):
        self.samples, self.rate = samples, rate
        self.references = {}  # label -> data URL
        self.last_heard = {}  # label -> end of their latest segment (s)
        self.count = 0

    def known(self):
        """(names, references) to send with the next chunk: at most 4, those heard most recently."""
        labels = sorted(self.references, key=lambda label: (-self.last_heard[label], label))
        labels = sorted(labels[:MAX_KNOWN_SPEAKERS])
        if len(self.references) > MAX_KNOWN_SPEAKERS:
            log.info("%d speakers so far; the API takes %d references: sending %s", len(self.references),
                     MAX_KNOWN_SPEAKERS, ", ".join(labels))
        return [NAME_PREFIX + label for label in labels], [self.references[label] for label in labels]

    def label(self, segments, names):
        """The video's labels for one chunk's ``(start, end, api_speaker)`` segments (video times, in order);
        ``names`` are the known speakers' names sent with it."""
        mapping = {name: name[len(NAME_PREFIX):] for name in names}
        labels = []
        for _, _, speaker in segments:
            if speaker not in mapping:  # not a known speaker: someone new to the video
                mapping[speaker] = speaker_label(self.count)
                self.count += 1
            labels.append(mapping[speaker])
        for (_, end, _), label in zip(segments, labels):
            self.last_heard[label] = max(end, self.last_heard.get(label, 0.0))
        for label in dict.fromkeys(labels):
            if label not in self.references:
                self._add_reference(label, segments, labels)
        return labels

    def _add_reference(self, label, segments, labels):
        own = [(s, e) for (s, e, _), who in zip(segments, labels) if who == label]
        others = [(s, e) for (s, e, _), who in zip(segments, labels) if who != label]
        spans = reference_span(own, others)
        if not spans:
            log.info("speaker %s: under %.1f s of clean speech in this chunk; no reference yet", label,
                     REFERENCE_SECONDS[0])
            return
        clip = np.concatenate([self.samples[int(s * self.rate):int(e * self.rate)] for s, e in spans])
        self.references[label] = wav_data_url(clip, self.rate)
        log.info("speaker %s: reference of %.1f s from %s", label, clip.size / self.rate,
                 ", ".join(f"{s:.1f}-{e:.1f} s" for s, e in spans))


def chunk_segments(result, start, end):
    """``(start, end, text, api_speaker)`` of a chunk's segments with words, in video time and time order."""
    said = [(round(start + seg.start, 3), round(min(end, start + seg.end), 3), (seg.text or "").strip(),
             getattr(seg, "speaker", "") or "") for seg in result.segments or []]
    return sorted((seg for seg in said if seg[2]), key=lambda seg: seg[:2])


def transcribe(audio_path, subtitles_path, settings):
    client = openai_client.client(settings)
    samples = decode_mono(audio_path, ANALYSIS_RATE)
    duration = samples.size / ANALYSIS_RATE
    diarize = diarizing(settings.model)
    chunk_seconds = min(settings.chunk_seconds, DIARIZE_MAX_SECONDS) if diarize else settings.chunk_seconds
    bounds = chunk_bounds(frame_levels(samples, ANALYSIS_RATE), 0.01, duration, chunk_seconds)
    language = languages.code(settings.source_language)
    speakers = Speakers(samples, ANALYSIS_RATE)
    cues, heard = [], ""
    with tempfile.TemporaryDirectory(prefix="dub-asr-") as tmp:
        for index, (start, end) in enumerate(bounds):
            chunk = Path(tmp) / f"chunk{index:04d}.ogg"
            encode_chunk(audio_path, start, end, chunk)
            names, references = speakers.known() if diarize else ([], [])
            if diarize:
                form = {"response_format": "diarized_json", "chunking_strategy": "auto"}
                if names:
                    form.update(known_speaker_names=names, known_speaker_references=references)
            else:
                form = {"response_format": "verbose_json", "timestamp_granularities": ["segment"]}
            if language:
                form["language"] = language

            def request(chunk=chunk, form=form):
                with open(chunk, "rb") as handle:
                    return client.audio.transcriptions.create(file=handle, model=settings.model, **form)

            result = retry.call(request, provider=openai_client.PROVIDER, where=f"{audio_path} [{start:.0f}-{end:.0f} s]",
                                max_retries=settings.max_retries)
            heard = heard or languages.code(getattr(result, "language", "") or "")
            said = chunk_segments(result, start, end)
            if diarize:
                labels = speakers.label([(s, e, who) for s, e, _, who in said], names)
                log.info("chunk %d (%.0f-%.0f s): known speakers sent: %s; heard: %s", index + 1, start, end,
                         ", ".join(name[len(NAME_PREFIX):] for name in names) or "none",
                         ", ".join(dict.fromkeys(labels)) or "no one")
            else:
                labels = [""] * len(said)
            cues.extend(Cue(s, e, text, label) for (s, e, text, _), label in zip(said, labels))
    return Transcript(snap_to_speech(cues, samples, ANALYSIS_RATE), language=language or heard, model=settings.model)
