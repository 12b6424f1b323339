"""A change-log entry in words: ``status Submitted → Rejected: fewer than 3 of 5 parts``.

The history tables of the staff pages print this sentence and keep the entry's raw JSON one
click away. Only the entry's own fields are read (as :func:`tracework.core.status.log` returns
them, private values opened or marked erased); nothing is looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["describe", "value_words"]

_LONG = 160


def value_words(value: Any) -> str:
    """One value as a reader would write it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        if value.get("erased") is True and len(value) == 1:
            return "(erased)"
        return ", ".join(f"{str(k).replace('_', ' ')} {value_words(v)}"
                         for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple)):
        return ", ".join(value_words(v) for v in value)
    return str(value)


def _short(text: str) -> str:
    return text if len(text) <= _LONG else text[:_LONG - 1] + "…"


def _new(entry: Mapping[str, Any]) -> dict[str, Any]:
    new = entry.get("new")
    return dict(new) if isinstance(new, Mapping) else {}


def _decide(entry: Mapping[str, Any]) -> str:
    new = _new(entry)
    verb = "decided again" if new.get("redecide") else "decided"
    words = f"{verb}: {new.get('decision', '?')}"
    if new.get("rule"):
        words += f" (rule {new['rule']})"
    if new.get("good_faith"):
        words += ", paid as done in good faith"
    return words


def _annotation(entry: Mapping[str, Any]) -> str:
    new = _new(entry)
    words = f"created: {new.get('category') or 'no category'} {new.get('kind', '')}".rstrip()
    if isinstance(new.get("area"), (int, float)):
        words += f", {value_words(float(new['area']))} px"
    if new.get("submission") is not None:
        words += f", in submission {new['submission']}"
    if new.get("taxonomy_version") is not None:
        words += f", taxonomy v{new['taxonomy_version']}"
    return words


def _submission(entry: Mapping[str, Any]) -> str:
    new = _new(entry)
    words = "imported"
    if new.get("batch") is not None:
        words += f" in batch {new['batch']}"
    if new.get("asset") is not None:
        words += f", on asset {new['asset']}"
    return words


def _contest(entry: Mapping[str, Any]) -> str:
    new = _new(entry)
    message = new.get("message")
    text = value_words(message) if message is not None else ""
    words = f"contested by the worker ({new.get('channel', 'portal')})"
    return f"{words}: “{text}”" if text else words


def _resolve(entry: Mapping[str, Any]) -> str:
    new = _new(entry)
    words = f"contest resolved: {new.get('outcome', '?')}"
    if new.get("payment"):
        words += f", paid by {new['payment']}"
    return words


def _reveal(entry: Mapping[str, Any]) -> str:
    return "revealed the worker's survey answers to the reviewer"


def _proposal(entry: Mapping[str, Any]) -> str:
    rule = str(entry.get("field", "")).removesuffix(".state")
    return (f"proposal of rule {rule}: {value_words(entry.get('old'))} → "
            f"{value_words(entry.get('new'))}")


def _propose(entry: Mapping[str, Any]) -> str:
    new = _new(entry)
    words = f"rule proposed: {new.get('decision', '?')}"
    return f"{words} ({new['evidence']})" if new.get("evidence") else words


def _note(entry: Mapping[str, Any]) -> str:
    new = _new(entry)
    kind = "replied to a fieldnote" if entry.get("action") == "note.reply" else "fieldnote added"
    text = value_words(new.get("text")) if new.get("text") is not None else ""
    words = f"{kind} ({new.get('concern', 'other')})"
    return f"{words}: “{text}”" if text else words


_BY_ACTION: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "review.decide": _decide,
    "review.contest": _contest,
    "review.resolve": _resolve,
    "review.reveal": _reveal,
    "review.proposal": _proposal,
    "review.propose": _propose,
    "annotation.create": _annotation,
    "submission.create": _submission,
    "note.add": _note,
    "note.reply": _note,
}

# Reasons the entry already says (or that only name the mechanism) are not repeated.
_QUIET_REASONS = {"review.contest", "review.propose"}


def describe(entry: Mapping[str, Any]) -> str:
    """What the entry changed, in one sentence, with its reason after a colon."""
    action = str(entry.get("action", ""))
    shaped = _BY_ACTION.get(action)
    field = str(entry.get("field") or "")
    if shaped is not None:
        words = shaped(entry)
    elif field and not isinstance(entry.get("new"), Mapping):
        words = (f"{field.replace('_', ' ')} {value_words(entry.get('old'))} → "
                 f"{value_words(entry.get('new'))}")
    else:
        noun, _, verb = action.partition(".")
        words = f"{noun} {verb.replace('_', ' ')}".strip()
        detail = value_words(entry.get("new")) if entry.get("new") is not None else ""
        if detail:
            words += f": {_short(detail)}"
    reason = str(entry.get("reason") or "")
    if reason and action not in _QUIET_REASONS and reason != entry.get("new"):
        words += f": {_short(reason)}"
    return words
