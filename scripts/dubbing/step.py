"""Running one rule's step: log to the rule's log file, turn known errors into one clear line."""

import logging
import sys
import time

from .errors import DubbingError

log = logging.getLogger("dubbing")


def run_step(snakemake, func):
    """Call ``func(snakemake)`` with logging sent to the rule's log file.

    A :class:`DubbingError` becomes a single ``ERROR <file>: <problem>`` line on stderr and in
    the log, and a non-zero exit; anything else keeps its traceback (it is a bug).
    """
    handlers = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w", encoding="utf-8"))
    handlers[0].setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )
    started = time.monotonic()
    try:
        func(snakemake)
    except DubbingError as err:
        log.error("%s", err)
        sys.exit(1)
    log.info("done in %.2f s", time.monotonic() - started)
