"""Files for the platform: the decision upload file and the rework batch (Mechanical Turk).

The upload file must name each assignment's platform WorkerId, which tracework keeps only in
the vault. Reading it from the vault for this one platform-bound file is the vault's purpose;
the file is written with mode 0600 and the export is recorded in the change log (how many
rows, the file's SHA-256), never the ids themselves. Every cell is formula-neutralised.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from tracework.core.errors import InputError
from tracework.core.files import PRIVATE_MODE, write_atomic
from tracework.core.ledger import LedgerWriter
from tracework.core.project import Project
from tracework.core.safecsv import csv_text
from tracework.core.store import chunks
from tracework.core.store.schema import submissions, vault
from tracework.core.store.tables_review import review_disputes
from tracework.review.common import batch_ids
from tracework.review.decisions import review_config
from tracework.review.queue import decisions_in_force
from tracework.review.reasons import reason_problem

__all__ = [
    "UPLOAD_COLUMNS",
    "ExportReport",
    "export_mturk",
    "export_rework",
    "platform_ids",
    "write_private",
]

UPLOAD_COLUMNS = ("HITId", "AssignmentId", "WorkerId", "Approve", "Reject")
_INPUT = "Input."


def write_private(path: Path, text: str) -> str:
    """Write ``text`` atomically with mode 0600 (set before any byte is written); returns the
    SHA-256 of the bytes."""
    data = text.encode("utf-8")
    write_atomic(path, data, mode=PRIVATE_MODE)
    return hashlib.sha256(data).hexdigest()


def platform_ids(conn: Connection, pseudonyms: Iterable[str], platform: str = "mturk"
                 ) -> dict[str, str]:
    """Raw platform worker ids from the vault, for platform-bound files only."""
    wanted = sorted(set(pseudonyms))
    if not wanted:
        return {}
    return {r.pseudonym: r.platform_worker_id for part in chunks(wanted) for r in conn.execute(
        select(vault.c.pseudonym, vault.c.platform_worker_id).where(
            vault.c.platform == platform, vault.c.pseudonym.in_(part)))}


@dataclass
class ExportReport:
    out: str
    rows: int = 0
    by_decision: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    sha256: str = ""
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _skip(report: ExportReport, why: str) -> None:
    report.skipped[why] = report.skipped.get(why, 0) + 1


def _upload_rows(conn: Connection, project: Project, scope: list[int] | None,
                 since: str | None, report: ExportReport) -> list[tuple[Any, Any, str, str]]:
    """(submission, decision, Approve cell, Reject cell) for every upload row."""
    rework = review_config(project).rework_upload
    query = select(submissions.c.id, submissions.c.task_id, submissions.c.assignment_id,
                   submissions.c.worker).where(submissions.c.platform == "mturk")
    if scope is not None:
        query = query.where(submissions.c.batch_id.in_(scope))
    subs = {int(r.id): r for r in conn.execute(query)}
    decided = decisions_in_force(conn, subs)
    by_bonus = {int(r.submission_id) for r in conn.execute(
        select(review_disputes.c.submission_id).where(
            review_disputes.c.state == "overturned", review_disputes.c.payment == "bonus"))}
    out = []
    for sid, d in sorted(decided.items()):
        if d.source != "tracework" or (since and d.created_at < since):
            continue
        if d.decision == "rework" and rework == "skip":
            _skip(report, "rework (rework_upload = skip)")
            continue
        if d.decision == "approve" and sid in by_bonus:
            _skip(report, "overturned after the reversal window (paid by bonus)")
            continue
        if d.decision == "reject":
            problem = reason_problem(d.reason_text)
            if problem is not None:
                raise InputError(f"submission {sid}: {problem}", field="Reject",
                                 hint="Decide it again with a valid reason (`tracework review "
                                      "decide --redecide`); nothing was written.")
            out.append((subs[sid], d, "", d.reason_text))
        else:
            out.append((subs[sid], d, "X", ""))
    return out


def export_mturk(project: Project, out: Path | str, *, batches: Collection[str] = (),
                 since: str | None = None) -> ExportReport:
    """Write Mechanical Turk's decision upload file: one row per assignment decided in
    tracework (``X`` under Approve, or the reason under Reject), WorkerId from the vault.

    Rework decisions are uploaded as approvals (work paid, item posted again) unless
    ``rework_upload = "skip"``. Approvals of rejections overturned after the reversal window
    are left out: they are paid by bonus. ``since`` keeps decisions made from that ISO time on.
    """
    target = Path(out)
    report = ExportReport(str(target))

    def work(conn: Connection) -> ExportReport:
        rows = _upload_rows(conn, project, batch_ids(conn, batches), since, report)
        if not rows:
            raise InputError("no decisions to upload in this selection",
                             hint="Decide submissions first (`tracework review decide`).")
        ids = platform_ids(conn, (s.worker for s, *_ in rows))
        cells = []
        for sub, d, approve, reject in rows:
            raw = ids.get(sub.worker)
            if raw is None:
                _skip(report, "worker erased from the vault")
                continue
            cells.append((sub.task_id, sub.assignment_id, raw, approve, reject))
            report.by_decision[d.decision] = report.by_decision.get(d.decision, 0) + 1
        report.rows = len(cells)
        report.sha256 = write_private(target, csv_text(UPLOAD_COLUMNS, cells))
        log = LedgerWriter(conn, project.actor)
        log.append("review.export", f"file:{target.name}", new={
            "kind": "mturk-upload", "rows": report.rows, "sha256": report.sha256,
            "by_decision": report.by_decision},
            reason="platform upload file; WorkerId read from the vault")
        log.flush()
        report.ledger_head = log.hash
        return report

    return project.store.run_write(work)


def _inputs(raw_json: str) -> dict[str, str]:
    raw = json.loads(raw_json)
    return {k[len(_INPUT):]: v for k, v in raw.items() if k.startswith(_INPUT)}


def _columns(items: Sequence[dict[str, str]]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        for key in item:
            seen.setdefault(key, None)
    return list(seen)


def export_rework(project: Project, out: Path | str, *,
                  batches: Collection[str] = ()) -> ExportReport:
    """Write the input CSV of the items to post again: the ``Input.*`` values (without the
    prefix, e.g. ``image_url``) of every submission whose decision is rework, once per item."""
    target = Path(out)
    report = ExportReport(str(target))
    with project.store.read() as conn:
        query = select(submissions.c.id, submissions.c.raw).where(
            submissions.c.status == "Rework").order_by(submissions.c.id)
        scope = batch_ids(conn, batches)
        if scope is not None:
            query = query.where(submissions.c.batch_id.in_(scope))
        items = [_inputs(r.raw) for r in conn.execute(query)]
    unique = list({json.dumps(i, sort_keys=True): i for i in items}.values())
    if not unique or not any(unique):
        raise InputError("no submission marked for rework has task inputs to post again",
                         hint="Mark submissions with `tracework review decide ID --rework "
                              "--reason ...` first.")
    header = _columns(unique)
    report.rows = len(unique)
    report.by_decision = {"rework": len(items)}
    report.sha256 = write_private(target, csv_text(header, ([i.get(h, "") for h in header]
                                                           for i in unique)))
    return report
