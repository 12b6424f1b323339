"""Reason texts shown to workers: checked against the platform's limits before they are stored.

A reason travels to the worker through the platform's upload file (Mechanical Turk's
RequesterFeedback: at most 1024 characters). Control characters would break the file's rows
or hide text, and bidirectional-override characters can make a reason read differently from
what was stored, so both are refused; :func:`clean_reason` offers the fix (line breaks and
tabs become spaces, other such characters are dropped) when the caller asks for it. The length
is counted as the reason is written to a CSV: a reason starting with ``=``, ``+``, ``-`` or
``@`` gets a quote before it there (see :mod:`tracework.safecsv`), one more character.
"""

from __future__ import annotations

import re
import unicodedata

from tracework.core.errors import InputError
from tracework.core.safecsv import neutralise

__all__ = ["REASON_MAX_CHARS", "check_reason", "clean_reason", "reason_problem"]

REASON_MAX_CHARS = 1024

# C0 and C1 controls, DEL, and the bidi embedding/override/isolate characters.
_BAD = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMES = {"\x00": "NUL", "\t": "tab", "\n": "line feed", "\r": "carriage return",
          "\x07": "bell", "\x1b": "escape", "\x7f": "delete"}
_SPACES = re.compile(r"[\t\r\n\v\f]+")


def reason_problem(text: str) -> str | None:
    """Why ``text`` cannot be sent to a worker as a reason, or None when it can."""
    if not text.strip():
        return "the reason is empty"
    bad = _BAD.search(text)
    if bad is not None:
        char = bad.group()
        name = _NAMES.get(char) or unicodedata.name(char, "").lower() or "control"
        return (f"the reason contains a control character (U+{ord(char):04X} {name} at "
                f"character {bad.start() + 1})")
    written = len(neutralise(text))
    if written > REASON_MAX_CHARS:
        quoted = "" if written == len(text) else (
            " once written to the platform's file (a quote goes before a leading "
            f"{text[0]!r})")
        return (f"the reason is {written} characters long{quoted}; the platform accepts at "
                f"most {REASON_MAX_CHARS}")
    return None


def clean_reason(text: str) -> str:
    """Line breaks and tabs become single spaces, other control characters are dropped,
    surrounding space is trimmed. Length is not cut: a shortened reason can say something
    else, so that stays the reviewer's job."""
    return _BAD.sub("", _SPACES.sub(" ", text)).strip()


def check_reason(text: str, *, field: str = "reason", where: str | None = None) -> str:
    """``text`` if it can be sent to a worker; otherwise an :class:`InputError` saying why."""
    problem = reason_problem(text)
    if problem is not None:
        raise InputError(problem, file=where, field=field,
                         hint="Write the reason on one line without control characters, within "
                              f"{REASON_MAX_CHARS} characters (or pass --clean to turn line "
                              "breaks into spaces and drop control characters).")
    return text
