"""The documents' view of the other rooms: labour and agreement audits, aggregation runs,
small-cell suppression, fieldnotes.

Each function calls the owning room's public library function and returns its result as
computed; the documents only phrase it. Wages, agreement and what may be published of a
count are decided there, never here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tracework.audit.agreement import AgreementAudit, agreement_audit
from tracework.audit.labour import LabourAudit, labour_audit
from tracework.audit.suppress import Suppression, suppress_counts
from tracework.core.project import Project
from tracework.core.store.tables_audit import aggregation_runs
from tracework.fieldnotes import notes

__all__ = ["NO_ANSWER", "AggregationRun", "DemographicTable", "labour", "agreement",
           "aggregation_runs_of", "demographic_tables", "fieldnotes"]


#: The cell of a demographic table counting those who left the question empty.
NO_ANSWER = "(no answer)"


@dataclass(frozen=True)
class DemographicTable:
    """How many consenting contributors gave each answer to one question, suppressed."""

    name: str                  # the documented name, e.g. gender
    question: str              # the survey question id, e.g. Q2
    suppression: Suppression   # cells: each answer, and NO_ANSWER for those who left it empty
    unanswered: int            # consenting contributors who left the question empty

    @property
    def answers_shown(self) -> dict[str, int]:
        return {v: n for v, n in self.suppression.published.items() if v != NO_ANSWER}

    @property
    def answers_withheld(self) -> list[str]:
        return [v for v in self.suppression.suppressed if v != NO_ANSWER]

    @property
    def unanswered_shown(self) -> int | None:
        """How many left it empty, when that count may be published."""
        return self.suppression.published.get(NO_ANSWER)


@dataclass(frozen=True)
class AggregationRun:
    kind: str
    method: str
    inputs: int
    items: int
    created_at: str


def labour(project: Project, batches: Collection[str] = ()) -> LabourAudit:
    """The labour audit of the selected batches (all work in them, rejected work included)."""
    return labour_audit(project, batches=batches)


def agreement(project: Project, *, status: str, categories: Collection[str],
              batches: Collection[str]) -> AgreementAudit:
    """Pairwise agreement of the selection."""
    return agreement_audit(project, status=status, categories=categories, batches=batches)


def aggregation_runs_of(project: Project) -> list[AggregationRun]:
    """The newest aggregation run of each kind and method, if labels were aggregated."""
    with project.store.read() as conn:
        rows = conn.execute(select(aggregation_runs).order_by(aggregation_runs.c.id)).all()
    newest = {(r.kind, r.method): r for r in rows}
    return [AggregationRun(r.kind, r.method, int(r.inputs), int(r.items), r.created_at)
            for r in newest.values()]


def _cells(values: list[Any]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    empty = 0
    for value in values:
        chosen = value if isinstance(value, list) else [value]
        chosen = [str(v) for v in chosen if v not in (None, "")]
        if not chosen:
            empty += 1
        counts.update(chosen)
    return counts, empty


def demographic_tables(answers: Mapping[str, Mapping[str, Any]], fields: Mapping[str, str],
                       k: int) -> list[DemographicTable]:
    """One suppressed table per demographic field (``fields``: name -> question id).

    The people who left a question empty are a cell of its table like any answer: a count of
    one "no answer" would single a person out as surely as a count of one answer."""
    out = []
    for name, question in fields.items():
        counts, empty = _cells([a.get(name) for a in answers.values()])
        cells = dict(counts)
        if empty:
            cells[NO_ANSWER] = cells.get(NO_ANSWER, 0) + empty
        out.append(DemographicTable(name, question, suppress_counts(cells, k), empty))
    return out


def fieldnotes(project: Project) -> list[notes.Note]:
    """The project's fieldnotes (replies left out)."""
    return notes.list_notes(project)

