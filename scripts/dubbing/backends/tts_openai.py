"""OpenAI speech (``/v1/audio/speech``), lossless: raw 24 kHz PCM (or WAV) streamed to a temp file."""

from pathlib import Path

from .. import retry
from ..cloud_audio import pcm_to_wav, repair_wav
from . import effective_instructions, http_audio, openai_client

PROVIDER = openai_client.PROVIDER
RATE = 24000  # OpenAI's pcm is 24 kHz 16-bit mono


def request_args(settings, text):
    args = {
        "model": settings.model,
        "voice": settings.voice,
        "input": text,
        "response_format": settings.response_format,
        "speed": settings.speed,
    }
    instructions = effective_instructions(settings)
    if instructions:
        args["instructions"] = instructions
    return args


def _accept(download, wav_path, settings, text):
    """Turn the downloaded body into ``wav_path`` after checking it is complete and plausible."""
    if settings.response_format == "pcm":
        pcm_to_wav(download, wav_path, RATE, text, settings.speed)
    else:
        repair_wav(download, text, settings.speed)
        download.replace(wav_path)


class Synthesizer:
    """Per-segment jobs: one request per process over the lean HTTP path (see http_audio)."""

    def __init__(self, settings):
        self.settings = settings
        self.key = openai_client.api_key()
        self.url = openai_client.base_url().rstrip("/") + "/audio/speech"

    def request_once(self, text, wav_path, previous_text=None, next_text=None, settings=None):
        settings = settings or self.settings
        wav_path = Path(wav_path)
        download = wav_path.with_name(wav_path.name + ".part")
        try:
            http_audio.post_audio(self.url, download, headers={"Authorization": f"Bearer {self.key}"},
                                  json_body=request_args(settings, text), timeout=settings.timeout)
            _accept(download, wav_path, settings, text)
        finally:
            download.unlink(missing_ok=True)

    def synthesize(self, text, wav_path, previous_text=None, next_text=None, where="", settings=None):
        retry.call(lambda: self.request_once(text, wav_path, settings=settings), provider=PROVIDER, where=where,
                   max_retries=self.settings.max_retries)


class AsyncSynthesizer:
    """One request per call from an event loop; the caller owns retries and limits (async batch)."""

    def __init__(self, settings):
        self.settings = settings
        self.client = openai_client.async_client(settings)

    async def request_once(self, text, wav_path, previous_text=None, next_text=None, settings=None):
        settings = settings or self.settings  # a line's own voice (per-speaker voices)
        wav_path = Path(wav_path)
        download = wav_path.with_name(wav_path.name + ".part")
        try:
            async with self.client.audio.speech.with_streaming_response.create(
                **request_args(settings, text)
            ) as response:
                await response.stream_to_file(download)
            _accept(download, wav_path, settings, text)
        finally:
            download.unlink(missing_ok=True)

    async def aclose(self):
        await self.client.close()
