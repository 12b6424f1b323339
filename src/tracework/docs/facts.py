"""The facts every computed document states, read from the records in one place.

A Croissant file, a datasheet, a dataset card and the credits all answer the same questions
(who made the data, when, under what pay, with which tools, who may be named); they are
computed here once, so the documents cannot disagree. Figures of pay and time come from the
audit room's labour audit, agreement from its agreement audit, and demographic aggregates go
through its small-cell suppression (:mod:`tracework.docs.rooms`): this module counts, it does
not compute wages or decide what is suppressed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from tracework.audit.agreement import AgreementAudit
from tracework.audit.labour import LabourAudit
from tracework.core import ledger
from tracework.core.model import Dataset
from tracework.core.project import Project
from tracework.core.store.schema import (
    batches,
    conflicts,
    imports,
    responses,
    reviews,
    submissions,
    taxonomy_versions,
    workers,
)
from tracework.dataset.policy import (
    SurveyPolicy,
    consenting_answers,
    publishable_note,
    survey_policy,
)
from tracework.dataset.select import Labels, open_selection
from tracework.docs import rooms
from tracework.docs.rooms import AggregationRun, DemographicTable
from tracework.fieldnotes.notes import Note

__all__ = ["PLATFORM_NAMES", "BatchFact", "Credits", "Facts", "facts_of", "gather"]

PLATFORM_NAMES = {
    "mturk": "Amazon Mechanical Turk",
    "prolific": "Prolific",
    "qualtrics": "Qualtrics",
    "labelstudio": "Label Studio",
    "sagemaker": "Amazon SageMaker Ground Truth",
}


@dataclass(frozen=True)
class BatchFact:
    platform: str
    key: str
    title: str
    description: str
    reward_cents: int | None
    max_assignments: int | None
    time_allotted_s: int | None
    created_at: str | None


@dataclass(frozen=True)
class Credits:
    """People credited by the name each chose; everyone else only counted."""

    names: tuple[str, ...]
    contributors: int

    @property
    def unnamed(self) -> int:
        return self.contributors - len(self.names)


@dataclass
class Facts:
    """What the records say about a dataset, ready to be written into any document."""

    name: str
    meta: dict[str, Any]                     # [project]
    chain: dict[str, Any]                    # [value_chain]
    pay: dict[str, Any]                      # [pay]
    review_config: dict[str, Any]            # [review]
    data: Dataset                            # its annotations may be left out: see labels
    policy: SurveyPolicy
    min_cell: int
    labels: Labels = field(default_factory=Labels)   # what the selected labels add up to
    per_item: tuple[int, float, int] = (0, 0.0, 0)   # annotators per image: min, median, max
    annotation_kinds: tuple[str, ...] = ()
    batches: list[BatchFact] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    survey_sources: list[str] = field(default_factory=list)
    work_start: str | None = None
    work_end: str | None = None
    survey_start: str | None = None
    survey_end: str | None = None
    submissions_by_status: dict[str, int] = field(default_factory=dict)
    time_kinds: list[str] = field(default_factory=list)
    workers_with_work: int = 0
    responses: int = 0
    responses_linked: int = 0
    consent: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    rules_used: dict[str, int] = field(default_factory=dict)
    reason_codes: dict[str, int] = field(default_factory=dict)
    taxonomy: list[dict[str, Any]] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    open_conflicts: int = 0
    ledger_entries: int = 0
    ledger_head: str = ledger.GENESIS
    credits: Credits = Credits((), 0)
    demographic_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    labour: LabourAudit | None = None
    agreement: AgreementAudit | None = None
    aggregations: list[AggregationRun] = field(default_factory=list)
    demographics: list[DemographicTable] = field(default_factory=list)   # suppressed
    notes: list[Note] = field(default_factory=list)                      # publishable ones

    @property
    def currency(self) -> str:
        return str(self.pay.get("currency") or "USD")

    @property
    def guideline_version(self) -> str:
        return str(self.chain.get("guideline_version") or "")

    @property
    def contributors(self) -> int:
        return len(self.data.workers)

    def platform_names(self) -> list[str]:
        return [PLATFORM_NAMES.get(p, p) for p in self.platforms]


def _per_item(data: Dataset, labels: Labels) -> tuple[int, float, int]:
    counts = [labels.people.get(im.id, 0) for im in data.images]
    if not counts:
        return (0, 0.0, 0)
    return (min(counts), float(statistics.median(counts)), max(counts))


def _work(conn: Connection, facts: Facts) -> None:
    facts.batches = [BatchFact(b.platform, b.batch_key, b.title or "", b.description or "",
                               b.reward_cents, b.max_assignments, b.time_allotted_s,
                               b.created_at)
                     for b in conn.execute(select(batches).order_by(batches.c.id))]
    facts.platforms = sorted({b.platform for b in facts.batches})
    span = conn.execute(select(func.min(func.coalesce(submissions.c.accept_time,
                                                      submissions.c.submit_time)),
                               func.max(submissions.c.submit_time))).one()
    facts.work_start, facts.work_end = span[0], span[1]
    facts.submissions_by_status = {r.status: int(r.n) for r in conn.execute(
        select(submissions.c.status, func.count().label("n"))
        .group_by(submissions.c.status).order_by(submissions.c.status))}
    facts.time_kinds = [r[0] for r in conn.execute(
        select(submissions.c.time_kind).distinct().order_by(submissions.c.time_kind))]
    facts.workers_with_work = int(conn.execute(
        select(func.count(func.distinct(submissions.c.worker)))).scalar_one())
    facts.open_conflicts = int(conn.execute(select(func.count()).select_from(conflicts)
                                            .where(conflicts.c.state == "open")).scalar_one())


def _survey(conn: Connection, facts: Facts) -> None:
    facts.survey_sources = sorted({r[0] for r in conn.execute(
        select(responses.c.source).distinct())})
    span = conn.execute(select(func.min(responses.c.start_time),
                               func.max(responses.c.end_time))).one()
    facts.survey_start, facts.survey_end = span[0], span[1]
    facts.responses = int(conn.execute(select(func.count()).select_from(responses)).scalar_one())
    with_work = select(submissions.c.worker).distinct().scalar_subquery()
    facts.responses_linked = int(conn.execute(
        select(func.count()).select_from(responses.join(
            workers, responses.c.worker == workers.c.pseudonym))
        .where(responses.c.worker.in_(with_work))
        .where(workers.c.consent_link.is_(True))).scalar_one())
    facts.consent = {scope: int(conn.execute(
        select(func.count()).select_from(workers)
        .where(getattr(workers.c, f"consent_{scope}").is_(True))
        .where(workers.c.erased.is_(False))).scalar_one())
        for scope in ("link", "publish", "credit")}


def _reviews(conn: Connection, facts: Facts) -> None:
    # The newest review of each submission is the one in force.
    newest = (select(func.max(reviews.c.id)).group_by(reviews.c.submission_id)
              .scalar_subquery())
    rows = conn.execute(select(reviews.c.decision, reviews.c.rule, reviews.c.reason_code)
                        .where(reviews.c.id.in_(newest))).all()
    facts.decisions = dict(sorted(Counter(r.decision for r in rows).items()))
    facts.rules_used = dict(sorted(Counter(r.rule for r in rows if r.rule).items()))
    facts.reason_codes = dict(sorted(Counter(
        r.reason_code for r in rows if r.decision == "reject" and r.reason_code).items()))


def _provenance(conn: Connection, facts: Facts) -> None:
    facts.taxonomy = [{"version": int(t.version), "author": t.author, "reason": t.reason,
                       "created_at": t.created_at}
                      for t in conn.execute(select(taxonomy_versions)
                                            .order_by(taxonomy_versions.c.version))]
    facts.imports = [{"kind": i.kind, "file": i.file_name, "sha256": i.sha256, "rows": i.rows,
                      "imported_at": i.imported_at}
                     for i in conn.execute(select(imports).order_by(imports.c.id))]
    facts.ledger_entries, facts.ledger_head = ledger.head(conn)


def credits_of(conn: Connection, contributors: list[str]) -> Credits:
    """Names of contributors who consented to be credited, sorted; the rest counted."""
    wanted = set(contributors)
    names = [r.credit_name.strip() for r in conn.execute(
        select(workers.c.pseudonym, workers.c.credit_name)
        .where(workers.c.consent_credit.is_(True)).where(workers.c.erased.is_(False))
        .where(workers.c.credit_name.is_not(None)))
        if r.pseudonym in wanted and r.credit_name.strip()]
    return Credits(tuple(sorted(names, key=lambda n: (n.casefold(), n))), len(wanted))


def facts_of(project: Project, *, status: str = "approved", batches: Collection[str] = (),
             categories: Collection[str] = ()) -> Facts:
    """The facts of a selection, its labels counted as they stream past, never held."""
    with open_selection(project, status=status, batches_=batches,
                        categories=categories) as chosen:
        pass    # the header and the counts are all the documents need
    return gather(project, chosen.data, chosen.labels)


def gather(project: Project, data: Dataset, labels: Labels | None = None) -> Facts:
    """Everything the documents state about ``data`` (a selection made by the exporter).

    ``labels``: the counts of a streamed selection, whose ``data`` holds no annotations
    (:func:`tracework.dataset.select.open_selection`); by default they are counted from
    ``data.annotations``."""
    cfg = project.config
    facts = Facts(name=project.name, meta=dict(cfg.get("project", {})),
                  chain=dict(cfg.get("value_chain", {})), pay=dict(cfg.get("pay", {})),
                  review_config=dict(cfg.get("review", {})), data=data,
                  policy=survey_policy(project), min_cell=int(project.settings["min_cell"]),
                  labels=Labels.of(data.annotations) if labels is None else labels)
    facts.per_item = _per_item(data, facts.labels)
    facts.annotation_kinds = facts.labels.kinds
    with project.store.read() as conn:
        _work(conn, facts)
        _survey(conn, facts)
        _reviews(conn, facts)
        _provenance(conn, facts)
        facts.credits = credits_of(conn, data.workers)
        facts.demographic_answers = consenting_answers(conn, facts.policy, data.workers)
    _audits(project, facts)
    return facts


def _audits(project: Project, facts: Facts) -> None:
    """Results of the other rooms: labour and agreement audits, aggregation, suppression,
    fieldnotes."""
    chosen = facts.data.filters
    facts.labour = rooms.labour(project, chosen.get("batches", ()))
    facts.agreement = rooms.agreement(project, status=str(chosen.get("status", "approved")),
                                      categories=chosen.get("categories", ()),
                                      batches=chosen.get("batches", ()))
    facts.aggregations = rooms.aggregation_runs_of(project)
    facts.demographics = rooms.demographic_tables(
        facts.demographic_answers, facts.policy.aggregate_fields(), facts.min_cell)
    facts.notes = [n for n in rooms.fieldnotes(project) if publishable_note(n)]
