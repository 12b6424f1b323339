"""Worker ids as people type them into surveys, made comparable with the platform's own.

Workers copy their id into a survey field by hand: with surrounding spaces or tabs, in lower
case, or as a whole pasted link (``https://worker.mturk.com/...?workerId=A1B2...``).
:func:`normalise_worker_id` turns such a value into the form the platform writes, so that it
links; the typed value itself is the caller's to keep (in the vault: it is a raw id too).

Platforms whose ids are case-insensitive (MTurk: ``A`` and 12–20 upper-case letters and digits;
Prolific: 24 hexadecimal digits) are case-folded to the platform's own case. Other platforms'
ids are only trimmed.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

__all__ = ["ID_SHAPES", "normalise_worker_id"]

_MTURK_ID = re.compile(r"A[A-Z0-9]{11,20}")
_PROLIFIC_ID = re.compile(r"[0-9a-f]{24}")
_URL_KEYS = ("workerid", "worker_id", "prolific_pid", "participant_id", "pid")
_SPACE = re.compile(r"\s+")

#: What a platform's worker ids look like, as a pattern to find them inside text (compile it
#: case-insensitively: workers type them in any case). Platforms not listed have no shape.
ID_SHAPES: dict[str, str] = {
    "mturk": "A[A-Z0-9]{11,20}",
    "prolific": "[0-9A-F]{24}",
}


def _from_url(text: str) -> str | None:
    if "://" not in text and not text.lower().startswith("www."):
        return None
    try:
        parts = urlsplit(text if "://" in text else "https://" + text)
        query = parse_qsl(parts.query, keep_blank_values=False) + parse_qsl(
            parts.fragment, keep_blank_values=False)
    except ValueError:
        return None
    for key, value in query:
        if key.lower() in _URL_KEYS and value.strip():
            return value
    return None


def normalise_worker_id(platform: str, typed: str) -> str:
    """The id a worker meant, for matching: trimmed, taken out of a pasted link, and in the
    platform's case when its ids are case-insensitive. Empty when nothing is left."""
    text = typed.strip()
    text = _from_url(text) or text
    text = _SPACE.sub("", text) if platform in ("mturk", "prolific") else text.strip()
    if platform == "mturk":
        upper = text.upper()
        if _MTURK_ID.fullmatch(upper):
            return upper
        found = _MTURK_ID.search(upper)
        # A pasted sentence or link whose one id-shaped word is the id.
        if found is not None and len(_MTURK_ID.findall(upper)) == 1 and not text.isalnum():
            return found.group(0)
        return upper
    if platform == "prolific":
        lower = text.lower()
        return lower if _PROLIFIC_ID.fullmatch(lower) else text
    return text
