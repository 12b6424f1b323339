"""The review queue: submissions with their proposals, the decision in force and any dispute."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, exists, func, select

from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.core.store import chunks
from tracework.core.store.schema import assets, reviews, submissions
from tracework.core.store.schema import batches as batch_table
from tracework.core.store.tables_review import review_disputes, review_proposals
from tracework.review.common import UNDECIDED, batch_ids, window
from tracework.review.decisions import review_config

__all__ = ["QueueItem", "STATES", "review_list", "decisions_in_force", "disputes_of"]

State = Literal["submitted", "approved", "rejected", "rework", "contested"]
STATES: tuple[State, ...] = ("submitted", "approved", "rejected", "rework", "contested")
_PLATFORM_DECISION = {"Approved": "approve", "Rejected": "reject"}


@dataclass
class QueueItem:
    submission_id: int
    assignment_id: str
    worker: str
    batch: str
    asset: str
    status: str
    state: str
    work_time_s: float | None
    reward_cents: int | None
    submit_time: str | None
    decision: str | None = None
    reason_code: str = ""
    reason_text: str = ""
    rule: str | None = None
    good_faith: bool = False
    reviewer: str | None = None
    decided_at: str | None = None
    decision_source: str | None = None
    proposals: list[dict[str, Any]] = field(default_factory=list)
    dispute: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def decisions_in_force(conn: Connection, ids: Collection[int]) -> dict[int, Any]:
    """The newest reviews row of each submission in ``ids``."""
    if not ids:
        return {}
    out: dict[int, Any] = {}
    for part in chunks(sorted(ids)):
        newest = (select(func.max(reviews.c.id)).where(reviews.c.submission_id.in_(part))
                  .group_by(reviews.c.submission_id))
        out.update((int(r.submission_id), r) for r in conn.execute(
            select(reviews).where(reviews.c.id.in_(newest))))
    return out


def disputes_of(conn: Connection, ids: Collection[int], days: int,
                now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """The newest dispute of each submission, with the reversal window's end and days left."""
    if not ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    rows = (r for part in chunks(sorted(ids)) for r in conn.execute(
        select(review_disputes, submissions.c.submit_time)
        .join(submissions, review_disputes.c.submission_id == submissions.c.id)
        .where(review_disputes.c.submission_id.in_(part))
        .order_by(review_disputes.c.id)))
    for r in rows:
        ends, left = window(r.submit_time, days, now)
        out[int(r.submission_id)] = {
            "id": int(r.id), "state": r.state, "message": r.message, "channel": r.channel,
            "opened_at": r.opened_at, "resolution": r.resolution, "resolver": r.resolver,
            "resolved_at": r.resolved_at, "payment": r.payment, "bonus_token": r.bonus_token,
            "window_ends": ends, "days_left": left,
            "window": ("unknown" if left is None else
                       "expired" if left == 0 else f"{left} day{'s' if left != 1 else ''} left"),
        }
    return out


def _state(status: str, dispute: dict[str, Any] | None) -> str:
    if dispute is not None and dispute["state"] == "open":
        return "contested"
    return status.lower() if status != UNDECIDED else "submitted"


def _filters(query: Any, status: str | None, proposed: bool | None, rule: str | None,
             worker: str | None, scope: list[int] | None) -> Any:
    open_dispute = exists().where(review_disputes.c.submission_id == submissions.c.id,
                                  review_disputes.c.state == "open")
    if status == "contested":
        query = query.where(open_dispute)
    elif status is not None:
        query = query.where(submissions.c.status == ("Submitted" if status == "submitted"
                                                     else status.capitalize()))
    if proposed is not None:
        has = exists().where(review_proposals.c.submission_id == submissions.c.id,
                             review_proposals.c.state == "open")
        query = query.where(has if proposed else ~has)
    if rule is not None:
        query = query.where(exists().where(review_proposals.c.submission_id == submissions.c.id,
                                           review_proposals.c.rule == rule))
    if worker is not None:
        query = query.where(submissions.c.worker == worker)
    if scope is not None:
        query = query.where(submissions.c.batch_id.in_(scope))
    return query


def review_list(project: Project, *, status: str | None = None, proposed: bool | None = None,
                rule: str | None = None, worker: str | None = None,
                batches: Collection[str] = (), limit: int | None = None,
                now: datetime | None = None) -> list[QueueItem]:
    """Submissions with their open and closed proposals, decision in force and dispute.

    ``status``: submitted (undecided), approved, rejected, rework or contested (an open
    dispute). ``proposed``: only those with (True) or without (False) open proposals.
    """
    if status is not None and status not in STATES:
        raise InputError(f"status {status!r} is not one of {', '.join(STATES)}",
                         field="--status")
    cfg = review_config(project)
    with project.store.read() as conn:
        query = (select(submissions.c.id, submissions.c.assignment_id, submissions.c.worker,
                        submissions.c.status, submissions.c.work_time_s,
                        submissions.c.reward_cents, submissions.c.submit_time,
                        submissions.c.requester_feedback, batch_table.c.batch_key, assets.c.file_name)
                 .select_from(submissions.join(batch_table, submissions.c.batch_id == batch_table.c.id)
                              .outerjoin(assets, submissions.c.asset_id == assets.c.id))
                 .order_by(submissions.c.id))
        query = _filters(query, status, proposed, rule, worker, batch_ids(conn, batches))
        if limit:
            query = query.limit(limit)
        rows = list(conn.execute(query))
        ids = [int(r.id) for r in rows]
        decided = decisions_in_force(conn, ids)
        disputes = disputes_of(conn, ids, cfg.reversal_window_days, now)
        proposals: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for part in chunks(ids):
            for p in conn.execute(select(review_proposals).where(
                    review_proposals.c.submission_id.in_(part)).order_by(review_proposals.c.id)):
                proposals[int(p.submission_id)].append({
                    "rule": p.rule, "decision": p.decision, "evidence": p.evidence,
                    "reason": p.reason_text, "state": p.state})
    out = []
    for r in rows:
        sid = int(r.id)
        item = QueueItem(sid, r.assignment_id, r.worker, r.batch_key, r.file_name or "",
                         r.status, _state(r.status, disputes.get(sid)), r.work_time_s,
                         r.reward_cents, r.submit_time, proposals=proposals.get(sid, []),
                         dispute=disputes.get(sid))
        d = decided.get(sid)
        if d is not None:
            item.decision, item.reason_code, item.reason_text = d.decision, d.reason_code, d.reason_text
            item.rule, item.good_faith, item.reviewer = d.rule, bool(d.good_faith), d.reviewer
            item.decided_at, item.decision_source = d.created_at, d.source
        elif r.status != UNDECIDED:
            # Decided on the platform (a later download): its feedback is the reason.
            item.decision_source = "platform"
            item.decision = _PLATFORM_DECISION.get(r.status)
            item.reason_text = r.requester_feedback or ""
        out.append(item)
    return out
