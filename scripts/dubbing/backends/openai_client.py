"""Building OpenAI clients from the environment (key and base URL never come from config)."""

from .. import keys, secrets
from ..errors import DubbingError

PROVIDER = "OpenAI"


DEFAULT_BASE_URL = "https://api.openai.com/v1"


def api_key():
    key = secrets.get(keys.OPENAI)
    if not key:
        raise DubbingError(keys.OPENAI, "not set; export it or put it in .env (see README, 'Cloud backends')")
    return key


def base_url():
    return secrets.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL


def client_kwargs(settings):
    import openai

    return {"api_key": api_key(), "base_url": base_url(), "max_retries": 0,
            "timeout": openai.Timeout(settings.timeout, connect=10.0)}


def client(settings):
    import openai

    return openai.OpenAI(**client_kwargs(settings))


def async_client(settings):
    import openai

    return openai.AsyncOpenAI(**client_kwargs(settings))
