"""Blind review: a reviewer decides on the work, not on who did it.

Review screens show no survey answers of the worker (demographics, city, health, free text)
by default. A reviewer who needs them (a worker asked for an accommodation, say) reveals them
for one submission with a reason; the reveal is a ledger entry (``review.reveal`` on the
submission: who, when, why), so an audit can see every time the screen was not blind. The
entry is the record: the answers are shown to that reviewer for that submission from then on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from tracework.core import ledger
from tracework.core.errors import InputError
from tracework.core.ledger import LedgerWriter
from tracework.core.project import Project
from tracework.core.store.schema import submissions
from tracework.review.common import submission_id
from tracework.review.reasons import check_reason

__all__ = ["REVEAL_ACTION", "Reveal", "reveal", "revealed", "revealed_worker"]

REVEAL_ACTION = "review.reveal"


@dataclass(frozen=True)
class Reveal:
    submission_id: int
    worker: str
    reviewer: str
    reason: str
    ledger_head: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def reveal(project: Project, submission: int | str, reason: str, *,
           reviewer: str | None = None) -> Reveal:
    """Record that ``reviewer`` sees the worker's survey answers on ``submission``, and why."""
    who = reviewer or project.actor
    text = (reason or "").strip()
    if not text:
        raise InputError("revealing the worker's answers needs a reason", field="reason",
                         hint="Say why the decision needs them, e.g. \"the worker asked for an "
                              "accommodation\".")
    check_reason(text)

    def work(conn: Connection) -> Reveal:
        sid = submission_id(conn, submission)
        worker = str(conn.execute(select(submissions.c.worker)
                                  .where(submissions.c.id == sid)).scalar_one())
        log = LedgerWriter(conn, who)
        log.append(REVEAL_ACTION, f"submission:{sid}", field="worker_context",
                   new={"worker": worker, "shown": "survey answers"}, reason=text, actor=who)
        log.flush()
        return Reveal(sid, worker, who, text, log.hash)

    return project.store.run_write(work)


def revealed(project: Project, submission: int, reviewer: str) -> list[ledger.Entry]:
    """The reveals ``reviewer`` recorded on ``submission``, oldest first (empty: still blind)."""
    with project.store.read() as conn:
        return list(ledger.entries(conn, target=f"submission:{submission}", actor=reviewer,
                                   action=REVEAL_ACTION))


def revealed_worker(project: Project, worker: str, reviewer: str) -> bool:
    """Whether ``reviewer`` revealed ``worker``'s answers on any of their submissions: the
    worker's own page stays blind to everyone else, so it is no way around a reveal."""
    with project.store.read() as conn:
        return any(json.loads(e.new).get("worker") == worker
                   for e in ledger.entries(conn, actor=reviewer, action=REVEAL_ACTION))
