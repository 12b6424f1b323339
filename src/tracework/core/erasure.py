"""Erasure of a worker (GDPR Art. 17): what identifies them, or is their own words, is destroyed.

:func:`erase_worker` removes, in one transaction:

- the vault row (the raw platform id) and the vault values of their survey responses (IP
  address, location, the id as they typed it);
- their survey responses and every answer, free text included, and the conflicts that held
  incoming copies of their rows;
- the free text of their work: each submission's answer and raw cells, the requester's
  feedback to them, the review reasons, rule evidence, dispute messages and resolutions
  written about it;
- the notes they wrote, the notes about them or their work (and the replies under those), and
  the notes drawn from their survey answers;
- their chosen credit name and every consent; the private values of the change log that belong
  to them (credit names, note texts, messages: the entries hold only salted commitments, so
  the chain keeps verifying while the values are gone for good); their skill estimates;
- their portal links and sessions (revoked);
- the messages written to them and their answers, the keys that open private ones, the senders
  they blocked, and their consent to be contacted.

Kept, as anonymous labour facts: the submissions' status, times, reward, bonuses and labels
(annotations), under the pseudonym. A dataset's labour figures (hours worked, pay, unpaid
rejected time) and its labels stay true to the work that was done and paid for, while nothing
left says who did it: the vault row that mapped the pseudonym to a person is gone, and the
pseudonym was a keyed hash, never the id.

A ``worker.erase`` entry records the erasure (counts only, the reason as a commitment). Then
the store is compacted (:meth:`~tracework.core.store.Store.compact`): with ``secure_delete``
on, the WAL checkpointed and truncated and the file vacuumed, no deleted value stays readable in
the SQLite file or its ``-wal``. On PostgreSQL the touched tables get ``VACUUM FULL``.

Entries written before the log held commitments cannot be changed without breaking the chain.
Those that still hold this worker's words in the clear are listed (``legacy_entries``), and
the erasure says it is incomplete for them; the public log (``ledger.jsonl``) never publishes
their values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, or_, select, update

from tracework.core import integrity, ledger
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.project import Project
from tracework.core.store import chunks
from tracework.core.store.schema import annotations as annotation_rows
from tracework.core.store.schema import (
    answers,
    conflicts,
    responses,
    reviews,
    submissions,
    vault,
    vault_values,
    workers,
)
from tracework.core.store.schema import ledger as ledger_rows
from tracework.core.store.tables_audit import aggregate_workers
from tracework.core.store.tables_contact import (
    contact_consent,
    mailbox,
    mailbox_blocks,
    mailbox_keys,
    mailbox_session_keys,
)
from tracework.core.store.tables_notes import notes
from tracework.core.store.tables_privacy import ledger_private
from tracework.core.store.tables_review import review_disputes, review_proposals
from tracework.core.store.tables_web import portal_links, web_sessions

__all__ = ["ErasureReport", "erase_worker"]


@dataclass
class ErasureReport:
    """What :func:`erase_worker` did: rows deleted and rows cleared, by table; the submissions
    kept as anonymous labour facts; older log entries that still hold the worker's words."""

    worker: str
    deleted: dict[str, int] = field(default_factory=dict)
    cleared: dict[str, int] = field(default_factory=dict)
    submissions_kept: int = 0
    legacy_entries: list[int] = field(default_factory=list)
    ledger_head: str = ""
    compacted: bool = False

    @property
    def complete(self) -> bool:
        return not self.legacy_entries

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__) | {"complete": self.complete}


class _Rows:
    """Every row change of an erasure goes through :meth:`change`, which counts it."""

    def __init__(self, conn: Connection, report: ErasureReport, worker: str = "") -> None:
        self.conn, self.report, self.worker = conn, report, worker
        self.touched: set[str] = set()

    def change(self, table: Table, where: ColumnElement[bool],
               values: dict[str, Any] | None = None) -> int:
        """Delete the rows ``where`` selects (``values`` None) or set ``values`` on them, and
        reseal them (a deleted row's seal goes), so ``tracework verify`` still passes."""
        sealed = table.name in integrity.SEALED
        if sealed:
            (pk,) = table.primary_key.columns
            keys = list(self.conn.execute(select(pk).where(where)).scalars())
        if values is None:
            n = self.conn.execute(delete(table).where(where)).rowcount
            tally = self.report.deleted
        else:
            n = self.conn.execute(update(table).where(where).values(**values)).rowcount
            tally = self.report.cleared
        if sealed and keys:
            integrity.reseal(self.conn, table.name, keys, f"worker.erase {self.worker}")
        if n:
            tally[table.name] = tally.get(table.name, 0) + n
            self.touched.add(table.name)
        return int(n)

    def change_in(self, table: Table, column: Any, ids: Iterable[Any],
                  values: dict[str, Any] | None = None) -> int:
        """:meth:`change` over ``column IN ids``, in chunks."""
        return sum(self.change(table, column.in_(part), values) for part in chunks(ids))


def erase_worker(project: Project, worker: str, *, reason: str) -> ErasureReport:
    """Erase a worker (see the module docstring); returns what was removed and kept."""
    if not reason.strip():
        raise InputError("an erasure needs a reason", field="--reason",
                         hint="Say who asked and how, e.g. --reason 'request by e-mail, 3 March'.")

    def work(conn: Connection) -> tuple[ErasureReport, set[str]]:
        row = conn.execute(select(workers).where(workers.c.pseudonym == worker)).first()
        if row is None:
            raise NotFound(f"no worker {worker!r}", hint="Workers are named by pseudonym (w_…), "
                                                         "never by platform id.")
        if row.erased:
            raise ConflictError(f"worker {worker} was already erased")
        report = ErasureReport(worker)
        rows = _Rows(conn, report, worker)
        sids = [int(r.id) for r in conn.execute(
            select(submissions.c.id).where(submissions.c.worker == worker))]
        report.submissions_kept = len(sids)
        legacy = _legacy_entries(conn, worker, sids)
        _erase_survey(conn, rows, worker)
        _erase_notes(conn, rows, worker, sids)
        _erase_work_text(rows, worker, sids)
        rows.change(vault, vault.c.pseudonym == worker)
        rows.change(aggregate_workers, aggregate_workers.c.worker == worker)
        at = ledger.now()
        rows.change(portal_links, (portal_links.c.worker == worker)
                    & portal_links.c.revoked_at.is_(None), {"revoked_at": at})
        rows.change(web_sessions, (web_sessions.c.worker == worker)
                    & web_sessions.c.revoked_at.is_(None), {"revoked_at": at})
        rows.change(ledger_private, ledger_private.c.worker == worker)
        _erase_contact(conn, rows, worker)
        rows.change(workers, workers.c.pseudonym == worker, {
            "erased": True, "credit_name": None, "consent_link": False,
            "consent_publish": False, "consent_credit": False})
        report.legacy_entries = legacy
        log = ledger.LedgerWriter(conn, project.actor)
        log.append("worker.erase", f"worker:{worker}", new={
            "deleted": dict(sorted(report.deleted.items())),
            "cleared": dict(sorted(report.cleared.items())),
            "submissions_kept": report.submissions_kept, "legacy_entries": legacy},
            reason=ledger.Private(reason.strip()))
        log.flush()
        report.ledger_head = log.hash
        return report, rows.touched | {"ledger", "ledger_private"}

    report, touched = project.store.run_write(work)
    project.store.compact(touched)
    report.compacted = True
    return report


def _erase_contact(conn: Connection, rows: _Rows, worker: str) -> None:
    """Their messages and answers, the keys that open them, their blocks and contact consent:
    no handle of theirs resolves any more."""
    links = [int(i) for i in conn.execute(select(mailbox_keys.c.link_id)
                                          .where(mailbox_keys.c.worker == worker)).scalars()]
    rows.change_in(mailbox_session_keys, mailbox_session_keys.c.link_id, links)
    rows.change(mailbox_keys, mailbox_keys.c.worker == worker)
    rows.change(mailbox, mailbox.c.worker == worker)
    rows.change(mailbox_blocks, mailbox_blocks.c.worker == worker)
    rows.change(contact_consent, contact_consent.c.worker == worker)


def _erase_survey(conn: Connection, rows: _Rows, worker: str) -> None:
    found = conn.execute(select(responses.c.id, responses.c.response_id)
                         .where(responses.c.worker == worker)).all()
    ids = [int(r.id) for r in found]
    targets = [f"response:{i}" for i in ids]
    rows.change_in(vault_values, vault_values.c.owner, targets)
    rows.change_in(conflicts, conflicts.c.target, targets)
    rows.change_in(answers, answers.c.response_id, ids)
    rows.change_in(responses, responses.c.id, ids)


def _erase_work_text(rows: _Rows, worker: str, sids: list[int]) -> None:
    rows.change_in(conflicts, conflicts.c.target, [f"submission:{s}" for s in sids])
    rows.change(submissions, submissions.c.worker == worker,
                {"answer": "{}", "raw": "{}", "requester_feedback": ""})
    rows.change_in(reviews, reviews.c.submission_id, sids, {"reason_text": ""})
    rows.change_in(review_proposals, review_proposals.c.submission_id, sids,
                   {"reason_text": "", "evidence": "{}"})
    rows.change_in(review_disputes, review_disputes.c.submission_id, sids,
                   {"message": "", "resolution": None})


def _note_targets(conn: Connection, worker: str, sids: list[int]) -> set[str]:
    anns = [int(r.id) for r in conn.execute(
        select(annotation_rows.c.id).where(annotation_rows.c.worker == worker))]
    targets = {f"worker:{worker}"} | {f"submission:{s}" for s in sids}
    targets |= {f"annotation:{a}" for a in anns}
    return targets


def _is_theirs(target: str, targets: set[str], worker: str, sids: set[str],
               anns: set[str]) -> bool:
    if target in targets:
        return True
    if not target.startswith("cell:"):
        return False
    table, _, rest = target[5:].partition(":")
    key = rest.rpartition(":")[0]
    return ((table == "workers" and key == worker) or (table == "submissions" and key in sids)
            or (table == "annotations" and key in anns))


def _erase_notes(conn: Connection, rows: _Rows, worker: str, sids: list[int]) -> None:
    targets = _note_targets(conn, worker, sids)
    sid_keys = {t.partition(":")[2] for t in targets if t.startswith("submission:")}
    ann_keys = {t.partition(":")[2] for t in targets if t.startswith("annotation:")}
    rids = {str(r.response_id) for r in conn.execute(
        select(responses.c.response_id).where(responses.c.worker == worker))}
    gone: set[int] = set()
    for n in conn.execute(select(notes.c.id, notes.c.target, notes.c.author, notes.c.source)):
        source = str(n.source or "").split(":")
        from_survey = len(source) > 2 and source[0] == "survey" and source[2] in rids
        if (n.author == worker or from_survey
                or _is_theirs(str(n.target), targets, worker, sid_keys, ann_keys)):
            gone.add(int(n.id))
    replies = {int(r.id) for part in chunks(sorted(gone)) for r in conn.execute(
        select(notes.c.id).where(notes.c.reply_to.in_(part)))}
    rows.change_in(notes, notes.c.id, sorted(replies - gone))
    rows.change_in(notes, notes.c.id, sorted(gone))


def _legacy_entries(conn: Connection, worker: str, sids: list[int]) -> list[int]:
    """Entries from before commitments that hold this worker's words in the clear."""
    subs = {f"submission:{s}" for s in sids}
    query = select(ledger_rows).where(or_(
        ledger_rows.c.target == f"worker:{worker}", ledger_rows.c.action.startswith("note."),
        ledger_rows.c.action.startswith("review."),
        ledger_rows.c.field == "requester_feedback"))
    return [int(e.seq) for e in conn.execute(query.order_by(ledger_rows.c.seq))
            if _clear_words(e, worker, subs)]


def _clear_words(e: Any, worker: str, subs: set[str]) -> bool:
    new = json.loads(e.new)
    old = json.loads(e.old)
    if e.target == f"worker:{worker}" and e.field == "credit_name":
        return any(v is not None and not ledger.is_commitment(v) for v in (old, new))
    if e.target in subs:
        if e.field == "requester_feedback":
            return any(v and not ledger.is_commitment(v) for v in (old, new))
        if e.action == "review.contest" and isinstance(new, dict):
            return bool(new.get("message")) and not ledger.is_commitment(new["message"])
        if e.action in ("review.decide", "review.resolve") and e.reason:
            return not ledger.is_commitment_text(e.reason)
    if e.action in ("note.add", "note.reply") and isinstance(new, dict):
        theirs = e.actor == worker or e.target == f"worker:{worker}" or e.target in subs
        return theirs and bool(new.get("text")) and not ledger.is_commitment(new["text"])
    return False
