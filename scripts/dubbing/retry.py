"""One retry loop for every cloud call: what is worth retrying, how long to wait, when to stop.

The SDKs' own retries are switched off (``max_retries=0``) so there is exactly one loop. A
temporary failure (429 rate limit, 408/409/5xx, connection reset, timeout, truncated or
implausible audio) is retried with exponential backoff and jitter, honouring ``retry-after-ms``
/ ``retry-after``. A permanent one (quota or billing, bad key, bad request) stops at once with a
message that says what to do.
"""

import asyncio
import logging
import random
import time
from dataclasses import dataclass

from .errors import DubbingError
from .secrets import redact

log = logging.getLogger("dubbing")

BASE_DELAY = 0.5
MAX_DELAY = 8.0
QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active", "access_terminated",
               "quota_exceeded", "payment_required"}
RETRYABLE_STATUS = {408, 409, 429}


class TransientError(Exception):
    """A failure worth retrying that no SDK raises for us (e.g. audio that arrived incomplete)."""


@dataclass
class Verdict:
    retry: bool
    reason: str  # short, for logs: "429 rate_limit_exceeded", "connection dropped", ...
    wait: float | None = None  # seconds the server asked us to wait
    rate_limited: bool = False  # a 429 that means "slow down" (the adaptive limiter listens to this)


def _headers_wait(headers):
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def _error_code(body):
    """The provider's error code from an OpenAI (``error.code``/``type``) or ElevenLabs (``detail.status``) body."""
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("error"), dict):
        body = body["error"]
    elif isinstance(body.get("detail"), dict):
        return str(body["detail"].get("status") or body["detail"].get("code") or "")
    return str(body.get("code") or body.get("type") or "")


def _error_message(body, fallback):
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body.get("detail")
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return fallback


def _is_http_error(exc, names):
    """True if ``exc`` derives from a class called one of ``names`` in an HTTP stack: the SDKs ship
    different copies of httpx (openai uses ``httpx2``), so the classes are matched by name and module."""
    return any(
        cls.__name__ in names and cls.__module__.split(".")[0] in ("httpx", "httpx2", "openai", "httpcore")
        for cls in type(exc).__mro__
    )


def classify(exc):
    """A :class:`Verdict` for ``exc`` (any SDK's or httpx's exception), or None if it is a bug."""
    if isinstance(exc, TransientError):
        return Verdict(True, str(exc))
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status is None and _is_http_error(exc, ("HTTPStatusError",)):
        status = response.status_code
    if status is not None:
        body = getattr(exc, "body", None)
        code = _error_code(body)
        headers = getattr(response, "headers", None) or getattr(exc, "headers", None)
        reason = f"{status} {code}".strip()
        if code in QUOTA_CODES:
            return Verdict(False, reason)
        if status == 429 or status in RETRYABLE_STATUS or status >= 500:
            limited = status == 429 and code in ("rate_limit_exceeded", "too_many_concurrent_requests", "")
            return Verdict(True, reason, _headers_wait(headers), rate_limited=limited)
        return Verdict(False, reason)
    name = type(exc).__name__
    if isinstance(exc, (TimeoutError, ConnectionError)) or _is_http_error(
        exc, ("TransportError", "APIConnectionError", "APITimeoutError")
    ):
        return Verdict(True, f"connection problem ({name}: {redact(exc)})"[:200])
    return None


def fatal_message(provider, exc, verdict):
    """What the user should do about a permanent failure."""
    body = getattr(exc, "body", None)
    detail = redact(_error_message(body, str(exc)))[:300]
    status = verdict.reason.split()[0]
    code = verdict.reason.split()[-1]
    if code in QUOTA_CODES:
        return (f"{provider} refused the request: {code} — the account is out of credit or over its spending "
                f"limit; add credit or raise the limit, then rerun (finished segments are kept)")
    if status in ("401", "403"):
        return (f"{provider} rejected the API key ({verdict.reason}: {detail}); check "
                f"{'ELEVENLABS_API_KEY' if provider == 'ElevenLabs' else 'OPENAI_API_KEY'} in the environment or .env")
    return f"{provider} rejected the request ({verdict.reason}): {detail}"


def backoff(attempt, hint=None, rng=random):
    """Seconds to wait before retry number ``attempt`` (0-based): the server's hint if it gave one,
    else exponential with jitter."""
    if hint is not None:
        return min(hint, 60.0) + rng.uniform(0, 0.1)
    ceiling = min(MAX_DELAY, BASE_DELAY * 2**attempt)
    return rng.uniform(ceiling / 2, ceiling)


class GaveUp(DubbingError):
    pass


def _judge(exc, provider, where, attempt, max_retries):
    verdict = classify(exc)
    if verdict is None:
        raise exc
    if not verdict.retry:
        raise DubbingError(where, fatal_message(provider, exc, verdict)) from None
    if attempt >= max_retries:
        raise GaveUp(where, f"{provider} still failing after {max_retries} retries: {verdict.reason}") from None
    return verdict


def call(fn, *, provider, where, max_retries, on_retry=None):
    """Run ``fn()`` with retries; ``where`` names the file/segment in errors."""
    for attempt in range(max_retries + 1):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below; unknown exceptions re-raise
            verdict = _judge(exc, provider, where, attempt, max_retries)
            delay = backoff(attempt, verdict.wait)
            log.warning("%s: %s; retry %d/%d in %.1f s", where, verdict.reason, attempt + 1, max_retries, delay)
            if on_retry:
                on_retry(verdict)
            time.sleep(delay)
    raise AssertionError("unreachable")


async def acall(fn, *, provider, where, max_retries, on_retry=None):
    """Async :func:`call`: ``fn`` is a coroutine function."""
    for attempt in range(max_retries + 1):
        try:
            return await fn()
        except Exception as exc:  # noqa: BLE001
            verdict = _judge(exc, provider, where, attempt, max_retries)
            delay = backoff(attempt, verdict.wait)
            log.info("%s: %s; retry %d/%d in %.1f s", where, verdict.reason, attempt + 1, max_retries, delay)
            if on_retry:
                on_retry(verdict)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
