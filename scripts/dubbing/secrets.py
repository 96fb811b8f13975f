"""API keys and endpoints: from the environment or a ``.env`` file, never from config or params.

Keys reach a backend only through :func:`get`, at the moment it builds its client; they are never
part of ``Settings`` (which Snakemake stores as params in ``.snakemake/metadata``), and
:func:`redact` scrubs them from any text that is logged or raised.
"""

import os
import re
from pathlib import Path

from . import keys

ENV_FILE = ".env"
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def _env_file_values(path=ENV_FILE):
    values = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return values
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match:
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            else:
                value = value.split(" #", 1)[0].strip()
            values[match.group(1)] = value
    return values


def get(name):
    """The value of ``name`` from the environment, else from ``.env``; None if unset or empty."""
    value = os.environ.get(name) or _env_file_values().get(name)
    return value or None


def key_names():
    """Every environment variable a backend reads its key from (``keys.ALL``)."""
    return sorted(keys.ALL)


def redact(text):
    """``text`` with every known key replaced by ``***``."""
    text = str(text)
    for name in key_names():
        value = get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text
