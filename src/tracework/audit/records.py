"""Reads the audits share: the submissions chosen, linked survey answers, survey settings.

Survey answers are used only for workers who consented to link them (``consent_link``) and
were not erased; a worker's newest response counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, select

from tracework.core.errors import ConfigError, InputError
from tracework.core.project import Project
from tracework.core.store.schema import answers, batches, responses, submissions, workers

__all__ = [
    "STATUS_CHOICES",
    "SurveySettings",
    "linked_answers",
    "parse_minutes",
    "status_values",
    "submissions_query",
    "survey_settings",
]

STATUS_CHOICES = ("approved", "submitted", "rejected", "all")


def status_values(status: str) -> list[str] | None:
    """Stored statuses for a choice; None for all."""
    if status not in STATUS_CHOICES:
        raise InputError(f"unknown status {status!r}; choose one of {', '.join(STATUS_CHOICES)}",
                         field="--status")
    return None if status == "all" else [status.capitalize()]


def submissions_query(columns: list[Any], *, batch_keys: Collection[str] = (),
                      platform: str | None = None, status: str = "all") -> Select[Any]:
    """Submissions joined to their batch, filtered by batch (id or key), platform, status."""
    query = select(*columns).select_from(
        submissions.join(batches, submissions.c.batch_id == batches.c.id))
    if batch_keys:
        keys = [str(b) for b in batch_keys]
        ids = [int(b) for b in keys if b.isdigit()]
        query = query.where(batches.c.batch_key.in_(keys) | batches.c.id.in_(ids))
    if platform:
        query = query.where(submissions.c.platform == platform)
    wanted = status_values(status)
    if wanted is not None:
        query = query.where(submissions.c.status.in_(wanted))
    return query


@dataclass(frozen=True)
class SurveySettings:
    """The ``[survey]`` table of tracework.toml."""

    search_time_question: str | None
    search_time_unit: str                      # "task" (minutes per task) or "hour"
    search_minutes: dict[str, float]           # explicit choice -> minutes, overrides parsing
    attributes: dict[str, str]                 # alias -> question id


def survey_settings(project: Project) -> SurveySettings:
    raw = project.config.get("survey", {})
    if not isinstance(raw, dict):
        raise ConfigError("tracework.toml: [survey] must be a table")
    question = raw.get("search_time_question") or None
    unit = str(raw.get("search_time_per", "task"))
    if unit not in ("task", "hour"):
        raise ConfigError(f"tracework.toml [survey] search_time_per: {unit!r} is not 'task' or "
                          "'hour'")
    minutes = raw.get("search_time_minutes", {})
    attributes = raw.get("attributes", {})
    if not isinstance(minutes, dict) or not isinstance(attributes, dict):
        raise ConfigError("tracework.toml: [survey.search_time_minutes] and [survey.attributes] "
                          "must be tables")
    try:
        parsed = {str(k): float(v) for k, v in minutes.items()}
    except (TypeError, ValueError):
        raise ConfigError("tracework.toml [survey.search_time_minutes]: every value must be a "
                          "number of minutes") from None
    return SurveySettings(str(question) if question else None, unit, parsed,
                          {str(k): str(v) for k, v in attributes.items()})


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def parse_minutes(choice: str) -> tuple[float, bool] | None:
    """Minutes stated by a choice like "5–10 min" (midpoint 7.5), "More than 30 minutes" (30,
    a lower bound), "Less than 10 minutes" (5), "1h–2 hours" (90). Returns (minutes, whether
    it is only a lower bound), or None when no number is found."""
    text = choice.strip().lower()
    numbers = [float(n.replace(",", ".")) for n in _NUMBER.findall(text)]
    if not numbers:
        return None
    scale = 60.0 if re.search(r"\d\s*(h\b|hour|hr)", text) or "hour" in text else 1.0
    values = [n * scale for n in numbers]
    if re.search(r"more than|over|at least|\+", text):
        return max(values), True
    if re.search(r"less than|under|up to", text):
        return max(values) / 2.0, False
    if len(values) >= 2:
        return (values[0] + values[1]) / 2.0, False
    return values[0], False


def linked_answers(conn: Connection, question: str) -> dict[str, Any]:
    """Each consenting worker's answer to ``question`` (decoded), from their newest response.

    Workers without a response, without that question, or who did not consent to linking are
    absent.
    """
    rows = conn.execute(
        select(responses.c.id, responses.c.worker)
        .join(workers, workers.c.pseudonym == responses.c.worker)
        .where(and_(workers.c.consent_link.is_(True), workers.c.erased.is_(False)))
        .order_by(responses.c.worker, responses.c.end_time, responses.c.id)).all()
    newest = {r.worker: r.id for r in rows}
    if not newest:
        return {}
    by_response = {rid: worker for worker, rid in newest.items()}
    found: dict[str, Any] = {}
    for a in conn.execute(select(answers.c.response_id, answers.c.value)
                          .where(answers.c.response_id.in_(list(by_response)))
                          .where(answers.c.question == question)):
        if a.value is not None:
            found[by_response[a.response_id]] = json.loads(a.value)
    return found


def newest_response_ids(conn: Connection) -> dict[str, int]:
    """Each consenting worker's newest response id (for --explain)."""
    rows = conn.execute(
        select(responses.c.id, responses.c.worker)
        .join(workers, workers.c.pseudonym == responses.c.worker)
        .where(and_(workers.c.consent_link.is_(True), workers.c.erased.is_(False)))
        .order_by(responses.c.worker, responses.c.end_time, responses.c.id)).all()
    return {r.worker: int(r.id) for r in rows}
