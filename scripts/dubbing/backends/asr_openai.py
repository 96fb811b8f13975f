"""OpenAI transcription (``/v1/audio/transcriptions``, whisper-1, verbose_json segments).

The audio is sent as compressed mono speech (Opus, 16 kHz, 32 kbit/s: about 14 MB per hour), in
chunks of ``chunk_seconds`` cut at the quietest moment near each boundary so no word is split, each
under the 25 MB upload limit; segment times are re-offset by their chunk's start.
"""

import tempfile
from pathlib import Path

import numpy as np

from .. import languages, retry
from ..audio import FFMPEG, decode_mono, frame_levels, run_tool, snap_to_speech
from ..errors import DubbingError
from ..subtitles import Cue
from . import Transcript, openai_client

UPLOAD_LIMIT = 25 * 1024 * 1024
ANALYSIS_RATE = 16000
SEARCH = 10.0  # seconds either side of a chunk boundary to look for a pause
PAUSE = 0.3  # seconds of quiet wanted around a cut


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


def transcribe(audio_path, subtitles_path, settings):
    client = openai_client.client(settings)
    samples = decode_mono(audio_path, ANALYSIS_RATE)
    duration = samples.size / ANALYSIS_RATE
    bounds = chunk_bounds(frame_levels(samples, ANALYSIS_RATE), 0.01, duration, settings.chunk_seconds)
    language = languages.code(settings.source_language)
    cues, heard = [], ""
    with tempfile.TemporaryDirectory(prefix="dub-asr-") as tmp:
        for index, (start, end) in enumerate(bounds):
            chunk = Path(tmp) / f"chunk{index:04d}.ogg"
            encode_chunk(audio_path, start, end, chunk)

            def request(chunk=chunk):
                with open(chunk, "rb") as handle:
                    return client.audio.transcriptions.create(
                        file=handle, model=settings.model, response_format="verbose_json",
                        timestamp_granularities=["segment"],
                        **({"language": language} if language else {}),
                    )

            result = retry.call(request, provider=openai_client.PROVIDER, where=f"{audio_path} [{start:.0f}-{end:.0f} s]",
                                max_retries=settings.max_retries)
            heard = heard or languages.code(getattr(result, "language", "") or "")
            for seg in result.segments or []:
                text = (seg.text or "").strip()
                if text:
                    cues.append(Cue(round(start + seg.start, 3), round(min(end, start + seg.end), 3), text))
    return Transcript(snap_to_speech(cues, samples, ANALYSIS_RATE), language=language or heard, model=settings.model)


