"""Building OpenAI clients from the environment (key and base URL never come from config)."""

from .. import secrets
from ..errors import DubbingError

PROVIDER = "OpenAI"


def client_kwargs(settings):
    key = secrets.get("OPENAI_API_KEY")
    if not key:
        raise DubbingError("OPENAI_API_KEY", "not set; export it or put it in .env (see README, 'Cloud backends')")
    import openai

    kwargs = {"api_key": key, "max_retries": 0, "timeout": openai.Timeout(settings.timeout, connect=10.0)}
    base_url = secrets.get("OPENAI_BASE_URL")
    if base_url:
        kwargs["base_url"] = base_url
    return kwargs


def client(settings):
    import openai

    return openai.OpenAI(**client_kwargs(settings))


def async_client(settings):
    import openai

    return openai.AsyncOpenAI(**client_kwargs(settings))
