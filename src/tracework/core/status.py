"""What a project holds, its change log, and the log's verification: project-level reads."""


import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import distinct, func, select

from tracework.core import integrity
from tracework.core import ledger as _ledger
from tracework.core.errors import IntegrityError, LedgerError
from tracework.core.project import Project
from tracework.core.store.schema import (
    annotations,
    batches,
    conflicts,
    imports,
    responses,
    submissions,
    taxonomy_versions,
    workers,
)

__all__ = ["StatusReport", "Verified", "status", "log", "seal_existing", "verify"]


@dataclass
class StatusReport:
    project: str
    database: str
    imports: int = 0
    batches: int = 0
    submissions: int = 0
    submissions_by_status: dict[str, int] = field(default_factory=dict)
    workers: int = 0                # people with submissions
    workers_with_work: int = 0      # the same number, under its older name
    respondents: int = 0            # people with survey answers (a response without id: one)
    people: int = 0                 # pseudonyms known to the project
    responses: int = 0
    responses_linked: int = 0       # linked to submissions, with the worker's link consent
    responses_unlinked: int = 0
    linked_by_consent: dict[str, int] = field(default_factory=dict)  # none / link / publish
    kept_raw: dict[str, int] = field(default_factory=dict)  # answers not converted, by element
    empty_masks: int = 0
    consent: dict[str, int] = field(default_factory=dict)
    annotations: int = 0
    annotations_by_category: dict[str, int] = field(default_factory=dict)
    open_conflicts: int = 0
    taxonomy_version: int = 0
    ledger_entries: int = 0
    ledger_head: str = _ledger.GENESIS

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def status(project: Project) -> StatusReport:
    """Counts of everything the project holds, and the ledger head."""
    store = project.store
    report = StatusReport(project=project.name, database="sqlite" if store.is_sqlite
                          else "postgresql")
    with store.read() as conn:
        def count(query: Any) -> int:
            return int(conn.execute(query).scalar_one())

        report.imports = count(select(func.count()).select_from(imports))
        report.batches = count(select(func.count()).select_from(batches))
        report.submissions = count(select(func.count()).select_from(submissions))
        report.submissions_by_status = {
            r.status: int(r.n) for r in conn.execute(
                select(submissions.c.status, func.count().label("n"))
                .group_by(submissions.c.status).order_by(submissions.c.status))}
        report.people = count(select(func.count()).select_from(workers))
        report.workers_with_work = count(select(func.count(distinct(submissions.c.worker))))
        report.workers = report.workers_with_work
        report.respondents = count(select(func.count(distinct(responses.c.worker)))) + count(
            select(func.count()).select_from(responses).where(responses.c.worker.is_(None)))
        report.responses = count(select(func.count()).select_from(responses))
        with_work = select(submissions.c.worker).distinct().scalar_subquery()
        report.responses_linked = count(
            select(func.count()).select_from(responses.join(
                workers, responses.c.worker == workers.c.pseudonym))
            .where(responses.c.worker.in_(with_work)).where(workers.c.consent_link.is_(True)))
        report.responses_unlinked = count(
            select(func.count()).select_from(responses)
            .where(responses.c.worker.is_(None) | responses.c.worker.not_in(with_work)))
        report.linked_by_consent = _linked_by_consent(conn, with_work)
        report.kept_raw, report.empty_masks = _unconverted(conn)
        report.consent = {
            scope: count(select(func.count()).select_from(workers)
                         .where(getattr(workers.c, f"consent_{scope}").is_(True)))
            for scope in ("link", "publish", "credit")}
        report.annotations = count(select(func.count()).select_from(annotations))
        report.annotations_by_category = {
            r.category: int(r.n) for r in conn.execute(
                select(annotations.c.category, func.count().label("n"))
                .where(annotations.c.category.is_not(None))
                # Taxonomy parts only: a classifier's free answer ("Mouse") is no category.
                .where(annotations.c.kind.in_(["mask", "bbox", "polygon"]))
                .group_by(annotations.c.category).order_by(annotations.c.category))}
        report.open_conflicts = count(select(func.count()).select_from(conflicts)
                                      .where(conflicts.c.state == "open"))
        report.taxonomy_version = int(conn.execute(
            select(func.coalesce(func.max(taxonomy_versions.c.version), 0))).scalar_one())
        report.ledger_entries, report.ledger_head = _ledger.head(conn)
    return report


def _linked_by_consent(conn: Any, with_work: Any) -> dict[str, int]:
    """Responses linked to submissions, by the widest consent their worker gave."""
    rows = conn.execute(
        select(workers.c.consent_link, workers.c.consent_publish, func.count().label("n"))
        .select_from(responses.join(workers, responses.c.worker == workers.c.pseudonym))
        .where(responses.c.worker.in_(with_work))
        .group_by(workers.c.consent_link, workers.c.consent_publish))
    out = {"none": 0, "link": 0, "publish": 0}
    for r in rows:
        scope = "publish" if r.consent_publish else "link" if r.consent_link else "none"
        out[scope] += int(r.n)
    return out


def _unconverted(conn: Any) -> tuple[dict[str, int], int]:
    """Answers kept raw by element, and empty masks, as each import's report counted them
    (counted for added rows only, so summing over imports counts each answer once)."""
    kept: dict[str, int] = {}
    empty = 0
    for e in _ledger.entries(conn, action="import.finish"):
        summary = json.loads(e.new) if e.new != "null" else {}
        for tag, n in dict(summary.get("kept_raw", {})).items():
            kept[tag] = kept.get(tag, 0) + int(n)
        empty += int(summary.get("empty_masks", 0))
    return dict(sorted(kept.items())), empty


def log(project: Project, *, target: str | None = None, actor: str | None = None,
        action: str | None = None, since: str | None = None, until: str | None = None,
        limit: int | None = None, newest_first: bool = False) -> list[_ledger.Entry]:
    """Ledger entries, filtered. A target or action ending in ``*`` matches as a prefix.

    Personal values come back as the project holds them (an erased one as ``{"erased": true}``),
    not as the commitments the entries store: these are for reading, not for verifying."""
    with project.store.read() as conn:
        return _ledger.reveal(conn, _ledger.entries(conn, target=target, actor=actor,
                                                    action=action, since=since, until=until,
                                                    limit=limit, newest_first=newest_first))


@dataclass(frozen=True)
class Verified(_ledger.Verification):
    """A verification of the chain and, unless skipped, of the tables against it."""

    rows: int = 0                   # sealed table rows that agree with the log
    tables: int = 0                 # tables read
    data_checked: bool = False


def verify(project: Project, *, expect_head: str | None = None, data: bool = True) -> Verified:
    """Recompute the ledger's hash chain, then check that every sealed table row still holds
    what tracework wrote (see :mod:`tracework.core.integrity`), in one snapshot.

    Raises :class:`LedgerError` naming the first bad entry, or :class:`IntegrityError` naming
    the first row that disagrees (table, key, columns). ``data=False`` checks the chain only.
    """
    with project.store.read() as conn:
        result = _ledger.verify(conn, expect_head=expect_head)
        if not result.ok:
            raise LedgerError(f"the change log does not verify: {result.problem}",
                              hint="Compare with a backup or an exported copy of the log.")
        if not data:
            return Verified(**result.__dict__)
        found = integrity.check(conn, integrity.seal_key(project.secret),
                                (result.entries, result.head))
    if not found.ok:
        raise IntegrityError(f"the tables disagree with the change log: {found.problem}",
                             table=found.table, key=found.key, columns=found.columns,
                             hint=found.hint)
    return Verified(**result.__dict__, rows=found.rows, tables=found.tables, data_checked=True)


def seal_existing(project: Project, *, reason: str = "") -> dict[str, int]:
    """Seal, once, the rows of a project made before tracework sealed its tables.

    Runs only on such a project (marked by the store's upgrade), after the chain verifies and
    every row already sealed agrees: it vouches for the rows as they are now, so check them
    first. One ledger entry ``integrity.seal_existing`` records how many rows of each table
    were sealed. Returns that count per table.
    """
    key = integrity.seal_key(project.secret)
    with project.store.write() as conn:
        chain = _ledger.verify(conn)
        if not chain.ok:
            raise LedgerError(f"the change log does not verify: {chain.problem}",
                              hint="Nothing was sealed. Compare with a backup.")
        if not integrity.is_legacy(conn, key):
            raise IntegrityError("this project's tables have been sealed since they were "
                                 "created: rows without a seal were written outside tracework "
                                 "and are not sealed over", hint="Run `tracework verify` to "
                                 "see the first such row.")
        keys, problem = integrity.unsealed(conn, key)
        if problem is not None:
            raise IntegrityError(f"nothing was sealed: {problem.problem}", table=problem.table,
                                 key=problem.key, columns=problem.columns, hint=problem.hint)
        counts = {name: len(found) for name, found in keys.items()}
        log = _ledger.LedgerWriter(conn, project.actor)
        log.append("integrity.seal_existing", "project", new=counts,
                   reason=reason or "rows written before tracework sealed its tables")
        log.flush()
        integrity.mark_sealed_existing(conn, keys, "integrity.seal_existing")
    return counts
