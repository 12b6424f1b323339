"""CSV files that spreadsheets cannot turn against their readers.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or NUL can be
evaluated as a formula when the file is opened in a spreadsheet; such text cells are prefixed
with a single quote. Numbers (``-3``, ``+1.5``) are left as numbers. Files are written
atomically, with ``\\r\\n`` line ends (a lone ``\\r`` in a cell then stays readable).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tracework.core.files import write_atomic

__all__ = ["FORMULA_STARTS", "neutralise", "write_csv", "csv_text"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: Any) -> str:
    """The text to write for one cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.match(text):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return buf.getvalue()


def write_csv(path: Path | str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a neutralised CSV atomically; returns the path."""
    target = Path(path)
    write_atomic(target, csv_text(header, rows))
    return target
