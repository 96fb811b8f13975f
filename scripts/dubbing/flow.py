"""Flow control for the batches that send many requests at once: how many may be in flight, how
often they may start, and the live progress bar."""

import asyncio
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .files import write_text_atomic

log = logging.getLogger("dubbing")

RATE_MARGIN = 1.01  # stay 1 % under the requests-per-minute cap


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
        self._urgent = 0  # urgent acquirers waiting
        self.decreases = 0

    @property
    def allowed(self):
        return max(1, math.floor(self.limit))

    async def acquire(self, urgent=False):
        """A slot; ``urgent`` ones (a line voiced again faster: on the critical path) go before the others."""
        async with self._changed:
            self._urgent += urgent
            try:
                await self._changed.wait_for(lambda: self.in_flight < self.allowed and (urgent or not self._urgent))
            finally:
                self._urgent -= urgent
                if urgent:
                    self._changed.notify_all()
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


def wait_after(last_request, period):
    """Seconds to wait so that this job's first request keeps ``period`` after the last one any job
    sent (jobs that send many requests take the whole `api` pool, so they run one after another and
    the spacing of requests_per_minute holds across them too)."""
    try:
        last = float(last_request.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return 0.0
    return min(period, max(0.0, last + period - time.time()))


def space_request(last_request, period):
    """Wait until ``period`` seconds after the last request any job sent (``last_request`` holds its time),
    then record this one: ``requests_per_minute`` across per-segment jobs, which run in separate processes.
    A lock beside the file makes the read, the wait and the write one step, so two jobs never send together."""
    import fcntl

    last_request = Path(last_request)
    last_request.parent.mkdir(parents=True, exist_ok=True)
    with open(last_request.with_suffix(".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            time.sleep(wait_after(last_request, period))
            write_text_atomic(last_request, f"{time.time():.3f}\n")
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class BatchStats:
    total: int = 0
    kept: int = 0
    cached: int = 0
    sent: int = 0
    ahead: int = 0  # lines voiced faster in the same pass for the fit (ahead.py)
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    last_sent: float = 0.0  # wall-clock time of the last request started
    failed: dict = field(default_factory=dict)


class Progress:
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

