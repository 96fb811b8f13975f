"""Every tab-separated table the project writes or reads: one format, exact round trip.

A table is a header line of column names, then one line per row, fields separated by a tab, lines
ending in a newline, UTF-8. Nothing is quoted or escaped: a field is exactly the text between two tabs,
so ``He said "hi"`` and ``C:\\path`` come back byte for byte, and a user can edit any table in a text
editor or a spreadsheet and read it back. The one thing a field cannot hold is a tab or a line break;
writing one is refused (``ValueError`` naming the column), and the script's text is cleaned of them
before it gets here (``script.clean_text``).

Numbers are written with three decimals (milliseconds, the precision every time here has).
"""

from pathlib import Path

from .errors import DubbingError
from .files import write_text_atomic


def _field(value, column):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        raise ValueError(f"column {column}: a tab or line break cannot be written in a table field: {text!r}")
    return text


def format_table(columns, rows):
    """The table's text: ``rows`` are dicts (missing keys are empty fields) or sequences in column order."""
    lines = ["\t".join(columns)]
    for row in rows:
        values = [row.get(column) for column in columns] if isinstance(row, dict) else list(row)
        lines.append("\t".join(_field(value, column) for value, column in zip(values, columns)))
    return "\n".join(lines) + "\n"


def write_table(path, columns, rows):
    """Write the table atomically (a reader never sees half of it)."""
    write_text_atomic(path, format_table(columns, rows))


def parse_table(text, path="<table>"):
    """The rows of a table's text as dicts of strings; a row with another number of fields than the header
    is refused naming the file and line."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    if not lines or not lines[0]:
        raise DubbingError(path, "the table is empty (expected a header line)")
    columns = lines[0].split("\t")
    rows = []
    for number, line in enumerate(lines[1:], 2):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise DubbingError(path, f"line {number}: {len(fields)} fields, the header has {len(columns)} "
                                     "(a tab inside a field?)")
        rows.append(dict(zip(columns, fields)))
    return rows


def read_table(path):
    return parse_table(Path(path).read_text(encoding="utf-8"), path)
