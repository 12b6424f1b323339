"""How a survey response finds the worker whose submissions it belongs to.

By id: the worker id the respondent typed (or the platform passed in the link), normalised as
:func:`tracework.formats.workerids.normalise_worker_id` does, names a worker with submissions.
By code: a completion code in the survey (``MTurkCode``) equals an answer field of exactly one
worker's submissions (``Answer.surveycode``). A code found in several workers' submissions is
ambiguous and links nobody.

Some platforms pass their worker id into the survey link under a name of their own: a Prolific
study link carries ``PROLIFIC_PID`` (``{{%PROLIFIC_PID%}}``), so a survey of Prolific
participants links by that embedded field unless told otherwise (:data:`ID_FIELDS`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, select

from tracework.core.store.schema import submissions
from tracework.formats.mturk import ANSWER_PREFIX

__all__ = ["ID_FIELDS", "CodeIndex", "LinkBy", "Linked", "parse_link_by_code"]

LinkBy = Literal["id", "code", "none"]

#: The survey field a platform's own study links fill with the worker id.
ID_FIELDS = {"prolific": "PROLIFIC_PID"}


@dataclass(frozen=True)
class Linked:
    """The outcome for one response: the worker (pseudonym) and how, or why not."""

    worker: str | None
    by: LinkBy
    reason: str = ""


def parse_link_by_code(spec: str) -> tuple[str, str]:
    """``SURVEY_COLUMN=BATCH_ANSWER_FIELD`` → the two names (``Answer.`` prefix optional)."""
    survey, sep, answer = spec.partition("=")
    if not sep or not survey.strip() or not answer.strip():
        raise ValueError(f"{spec!r} is not SURVEY_COLUMN=BATCH_ANSWER_FIELD, e.g. "
                         "MTurkCode=Answer.surveycode")
    return survey.strip(), answer.strip().removeprefix(ANSWER_PREFIX)


def _code(value: object) -> str:
    return str(value).strip().casefold() if value is not None else ""


def _lookup(answer: Any, path: list[str]) -> object:
    node = answer
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, (str, int, float)) else None


@dataclass
class CodeIndex:
    """Completion codes of the stored submissions of a platform → the workers who typed them."""

    answer_field: str
    workers: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, conn: Connection, platform: str, answer_field: str) -> CodeIndex:
        index = cls(answer_field)
        path = answer_field.split(".")
        query = (select(submissions.c.worker, submissions.c.answer)
                 .where(submissions.c.platform == platform))
        for row in conn.execute(query):
            value = _lookup(json.loads(row.answer), path)
            if value is None and len(path) > 1:
                value = _lookup(json.loads(row.answer), [answer_field])
            code = _code(value)
            if code:
                index.workers.setdefault(code, set()).add(str(row.worker))
        return index

    def find(self, value: str) -> Linked:
        code = _code(value)
        if not code:
            return Linked(None, "none", "no id and no code")
        found = self.workers.get(code, set())
        if len(found) > 1:
            return Linked(None, "none", "ambiguous code (used by several workers)")
        if not found:
            return Linked(None, "none", "no match")
        return Linked(next(iter(found)), "code")
