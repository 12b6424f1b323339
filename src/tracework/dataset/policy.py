"""What of a worker's survey answers may leave the project, and under which name.

Rules, the same for every document tracework computes:

- Per-worker answers leave only for workers who consented to publication (``publish``) and
  were not erased, and only for the questions named in ``[export.demographics]``.
- Free text (a city, the cost of a work set, a name) identifies people far more easily than a
  choice does. Free text is: a question the ingest found to be free text (Qualtrics'
  text-entry ImportId ``QID4_TEXT``, or answers shaped like free text; recorded per question
  in ``survey_questions``), a question listed in ``[export] free_text_questions``, the
  "other, please say" text of any question, and the credit-name column. Free text leaves per
  worker only when the project publishes it explicitly (``[export] publish_free_text`` names
  the questions, ``["Q4"]``, or is ``true`` for all of them) AND the worker consented to
  publication. It is never aggregated. The credit-name column never leaves with answers.
- Aggregates count only workers who consented to both linking and publication, and go
  through the audit room's small-cell suppression (k = the ``min_cell`` setting).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from tracework.core.errors import ConfigError
from tracework.core.project import Project
from tracework.core.store import chunks
from tracework.core.store.schema import answers, responses, workers
from tracework.core.store.tables_survey import survey_questions

__all__ = ["SurveyPolicy", "survey_policy", "published_demographics", "consenting_answers",
           "consenting", "latest_answers", "publishable_note"]


@dataclass(frozen=True)
class SurveyPolicy:
    """The project's rules for survey answers in exports (``[export]`` of tracework.toml)."""

    demographics: Mapping[str, str]          # documented name -> question id, e.g. gender -> Q2
    free_text: frozenset[str]                # question ids holding free text
    # True: all free text is published; a set: only these questions' free text.
    publish_free_text: bool | frozenset[str] = False
    labels: Mapping[str, str] = field(default_factory=dict)   # question id -> question text
    credit_column: str = ""
    detected: Mapping[str, str] = field(default_factory=dict)  # question id -> why free text

    def is_free_text(self, question: str) -> bool:
        return question in self.free_text or question.endswith("_other")

    def publishes(self, question: str) -> bool:
        """Whether a question's answers may leave per worker (with the worker's consent).
        ``Q9_other`` is the "other, please say" text of ``Q9``."""
        base = question.removesuffix("_other")
        if self.credit_column and base == self.credit_column:
            return False
        if not self.is_free_text(question):
            return True
        if isinstance(self.publish_free_text, bool):
            return self.publish_free_text
        return question in self.publish_free_text or base in self.publish_free_text

    def per_worker_fields(self) -> dict[str, str]:
        """Demographic fields that may be published per worker (free text only if enabled)."""
        return {name: q for name, q in self.demographics.items() if self.publishes(q)}

    def aggregate_fields(self) -> dict[str, str]:
        """Demographic fields that may be published as counts: never free text."""
        return {name: q for name, q in self.demographics.items() if not self.is_free_text(q)}


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"tracework.toml {where} must be a list of question ids, "
                          f"e.g. [\"Q4\", \"Q10\"]")
    return list(value)


def _publish_setting(value: Any) -> bool | frozenset[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise ConfigError("tracework.toml [export] publish_free_text must name the free-text "
                      "questions to publish, e.g. [\"Q4\"], or be true (all) or false (none)")


def survey_policy(project: Project, conn: Connection | None = None) -> SurveyPolicy:
    """Read ``[export]`` (and the credit-name column of ``[consent]``) into a policy, with the
    free-text questions the ingest detected. ``conn``: read through this connection."""
    cfg = project.config.get("export", {})
    if not isinstance(cfg, dict):
        raise ConfigError("tracework.toml [export] must be a table")
    publish = _publish_setting(cfg.get("publish_free_text", False))
    free = set(_str_list(cfg.get("free_text_questions", []), "[export] free_text_questions"))
    credit_column = str(project.consent_config().get("credit_name_column") or "")
    if credit_column:
        free.add(credit_column)
    demo = cfg.get("demographics", {})
    if not isinstance(demo, dict) or not all(isinstance(v, str) for v in demo.values()):
        raise ConfigError("tracework.toml [export.demographics] must map names to question "
                          "ids, e.g. gender = \"Q2\"")
    if credit_column and credit_column in demo.values():
        raise ConfigError(f"tracework.toml [export.demographics] names the credit-name column "
                          f"{credit_column!r}: names are published only in the credits")
    if conn is None:
        with project.store.read() as own:
            labels, detected = _stored(own)
    else:
        labels, detected = _stored(conn)
    return SurveyPolicy(demographics=dict(demo), free_text=frozenset(free | set(detected)),
                        publish_free_text=publish, labels=labels, credit_column=credit_column,
                        detected=detected)


def _stored(conn: Connection) -> tuple[dict[str, str], dict[str, str]]:
    labels = {r.question: r.label for r in conn.execute(
        select(answers.c.question, answers.c.label).distinct()) if r.label}
    detected = {r.question: r.why for r in conn.execute(
        select(survey_questions.c.question, survey_questions.c.why)
        .where(survey_questions.c.free_text.is_(True)))}
    return labels, detected


def latest_answers(conn: Connection, pseudonyms: Collection[str],
                   keep: Callable[[str], bool] = lambda question: True,
                   ) -> dict[str, dict[str, Any]]:
    """Each worker's latest survey response, question -> decoded value (an "other" text under
    ``QUESTION_other``), only the questions ``keep`` lets through."""
    latest: dict[str, int] = {}
    for part in chunks(sorted(pseudonyms)):
        for r in conn.execute(
                select(responses.c.id, responses.c.worker)
                .where(responses.c.worker.in_(part))
                .order_by(responses.c.worker, responses.c.end_time, responses.c.id)):
            latest[r.worker] = r.id
    by_response: dict[int, dict[str, Any]] = {rid: {} for rid in latest.values()}
    for ids in chunks(sorted(by_response)):
        for a in conn.execute(select(answers).where(answers.c.response_id.in_(ids))
                              .order_by(answers.c.id)):
            if a.value is not None and keep(a.question):
                by_response[a.response_id][a.question] = json.loads(a.value)
            if a.other_text and keep(f"{a.question}_other"):
                by_response[a.response_id][f"{a.question}_other"] = a.other_text
    return {w: by_response[rid] for w, rid in latest.items()}


def consenting(conn: Connection, contributors: Collection[str], *, link: bool) -> list[str]:
    """The contributors who consented to publication (and, with ``link``, to linking their
    answers to their work), in pseudonym order, erased workers never."""
    query = (select(workers.c.pseudonym).where(workers.c.consent_publish.is_(True))
             .where(workers.c.erased.is_(False)).order_by(workers.c.pseudonym))
    if link:
        query = query.where(workers.c.consent_link.is_(True))
    wanted = set(contributors)
    return [r.pseudonym for r in conn.execute(query) if r.pseudonym in wanted]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


def published_demographics(conn: Connection, policy: SurveyPolicy,
                           contributors: Collection[str]) -> dict[str, dict[str, str]]:
    """Per worker with publish consent: the demographic fields the policy lets out."""
    fields = policy.per_worker_fields()
    if not fields:
        return {}
    found = latest_answers(conn, consenting(conn, contributors, link=False))
    return {w: {name: _text(ans.get(q)) for name, q in fields.items()}
            for w, ans in found.items()}


def consenting_answers(conn: Connection, policy: SurveyPolicy,
                       contributors: Collection[str]) -> dict[str, dict[str, Any]]:
    """Answers to aggregate: workers with link and publish consent, non-free-text fields."""
    fields = policy.aggregate_fields()
    if not fields:
        return {}
    found = latest_answers(conn, consenting(conn, contributors, link=True))
    return {w: {name: ans.get(q) for name, q in fields.items()} for w, ans in found.items()}


# Notes about a person, or on a cell of a table (which may quote a survey answer), stay inside.
_PRIVATE_TARGETS = ("worker:", "cell:")


def publishable_note(note: Any) -> bool:
    """Whether a fieldnote may be quoted in published documentation (without its author)."""
    target = str(getattr(note, "target", ""))
    return bool(target) and not target.startswith(_PRIVATE_TARGETS)
