"""ElevenLabs speech (``/v1/text-to-speech/{voice_id}``): raw PCM, neighbours' text for prosody."""

from pathlib import Path
from urllib.parse import quote

from .. import keys, retry, secrets
from ..cloud_audio import pcm_to_wav
from ..errors import DubbingError
from . import http_audio

PROVIDER = "ElevenLabs"
RATE = 24000
DEFAULT_BASE_URL = "https://api.elevenlabs.io"
NO_SDK_RETRIES = {"max_retries": 0}  # one retry loop: ours


def _client_kwargs(settings):
    key = secrets.get(keys.ELEVENLABS)
    if not key:
        raise DubbingError(keys.ELEVENLABS, "not set; export it or put it in .env (see README, 'Cloud backends')")
    kwargs = {"api_key": key, "timeout": settings.timeout}
    base_url = secrets.get("ELEVENLABS_BASE_URL")
    if base_url:
        kwargs["base_url"] = base_url
    return kwargs


def request_args(settings, text, previous_text, next_text):
    args = {
        "voice_id": settings.voice,
        "text": text,
        "model_id": settings.model,
        "output_format": f"pcm_{RATE}",
        "request_options": NO_SDK_RETRIES,
    }
    if settings.speed != 1.0:
        args["voice_settings"] = {"speed": settings.speed}  # the voice's own rate (0.7-1.2)
    if previous_text:
        args["previous_text"] = previous_text
    if next_text:
        args["next_text"] = next_text
    return args


class Synthesizer:
    """Per-segment jobs: one request per process over the lean HTTP path (see http_audio)."""

    def __init__(self, settings):
        self.settings = settings
        kwargs = _client_kwargs(settings)
        self.key, self.base_url = kwargs["api_key"], kwargs.get("base_url", DEFAULT_BASE_URL).rstrip("/")

    def request_once(self, text, wav_path, previous_text=None, next_text=None, settings=None):
        settings = settings or self.settings
        wav_path = Path(wav_path)
        download = wav_path.with_name(wav_path.name + ".part")
        args = request_args(settings, text, previous_text, next_text)
        body = {name: args[name] for name in ("text", "model_id", "voice_settings", "previous_text", "next_text")
                if name in args}
        try:
            http_audio.post_audio(f"{self.base_url}/v1/text-to-speech/{quote(args['voice_id'], safe='')}", download,
                                  headers={"xi-api-key": self.key}, json_body=body,
                                  params={"output_format": args["output_format"]}, timeout=settings.timeout)
            pcm_to_wav(download, wav_path, RATE, text, settings.speed)
        finally:
            download.unlink(missing_ok=True)

    def synthesize(self, text, wav_path, previous_text=None, next_text=None, where="", settings=None):
        retry.call(lambda: self.request_once(text, wav_path, previous_text, next_text, settings), provider=PROVIDER,
                   where=where, max_retries=self.settings.max_retries)


class AsyncSynthesizer:
    """One request per call from an event loop; the caller owns retries and limits (async batch)."""

    def __init__(self, settings):
        from elevenlabs.client import AsyncElevenLabs

        self.settings = settings
        self.client = AsyncElevenLabs(**_client_kwargs(settings))

    async def request_once(self, text, wav_path, previous_text=None, next_text=None, settings=None):
        settings = settings or self.settings  # a line's own voice (per-speaker voices)
        wav_path = Path(wav_path)
        download = wav_path.with_name(wav_path.name + ".part")
        try:
            args = request_args(settings, text, previous_text, next_text)
            if "voice_settings" in args:
                from elevenlabs import VoiceSettings

                args["voice_settings"] = VoiceSettings(**args["voice_settings"])
            with open(download, "wb") as out:
                async for chunk in self.client.text_to_speech.convert(**args):
                    out.write(chunk)
            pcm_to_wav(download, wav_path, RATE, text, settings.speed)
        finally:
            download.unlink(missing_ok=True)

    async def aclose(self):
        pass
