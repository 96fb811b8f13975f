"""Running one rule's step: log to the rule's log file, turn known errors into one clear line."""

import logging
import os
import resource
import sys
import time
import traceback

from .errors import DubbingError
from .secrets import redact

log = logging.getLogger("dubbing")


class RedactSecrets(logging.Filter):
    """Scrub API keys from every log record, whatever library wrote it."""

    def filter(self, record):
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def setup_logging(log_path=None):
    """INFO and up to ``log_path`` (if given), warnings and up to stderr; keys redacted everywhere."""
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    handlers = [console]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    for handler in handlers:
        handler.addFilter(RedactSecrets())
    level = os.environ.get("DUBBING_LOG_LEVEL", "INFO").upper()  # make debug-synth-async sets DEBUG
    logging.basicConfig(level=getattr(logging, level, logging.INFO), format="%(asctime)s %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "elevenlabs", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_step(snakemake, func):
    """Call ``func(snakemake)`` with logging sent to the rule's log file.

    A :class:`DubbingError` becomes a single ``ERROR <file>: <problem>`` line on stderr and in
    the log, and a non-zero exit; anything else is a bug and keeps its (redacted) traceback.
    """
    setup_logging(snakemake.log[0] if snakemake.log else None)
    started = time.monotonic()
    try:
        func(snakemake)
    except DubbingError as err:
        log.error("%s", err)
        sys.exit(1)
    except Exception:  # noqa: BLE001 - a bug: show where, without any key in it
        log.error("unexpected error (a bug; please report it):\n%s", traceback.format_exc())
        sys.exit(1)
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    # Exact CPU (with every finished child) and peaks: `make bench-scale` reads this line. Our own
    # peak is VmHWM, not ru_maxrss, which Linux carries over fork and exec (every job would show
    # the Snakemake process's size); the children's ru_maxrss (KiB) is an upper bound for the same reason.
    log.info("done in %.2f s (cpu %.2f s, peak rss %.0f MB, largest child %.0f MB)", time.monotonic() - started, cpu,
             _own_peak_mb(own), children.ru_maxrss / 1024)


def _own_peak_mb(usage):
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return usage.ru_maxrss / 1024
