"""Disputes: a worker contests a rejection, a reviewer upholds or overturns it with a reason.

The platform can reverse a rejection for a limited time after the work was submitted
(``reversal_window_days`` in ``[review]``, 30 on Mechanical Turk). Overturned work is paid:
inside the window by the platform's reversal (the approval goes into the next upload file),
after it by a bonus of the task's reward (a planned row in ``bonuses``, paid through the
platform's bonus file). Either way the submission becomes Approved and counts as approved work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from tracework.core import integrity
from tracework.core.errors import ConflictError, InputError
from tracework.core.ledger import LedgerWriter, Private
from tracework.core.ledger import now as _now
from tracework.core.project import Project
from tracework.core.store import inserted_id
from tracework.core.store.schema import bonuses
from tracework.core.store.tables_review import review_disputes
from tracework.review.common import in_force, lock_submission, submission_id, window
from tracework.review.decisions import Choice, DecisionResult, apply_choice, review_config
from tracework.review.reasons import check_reason, clean_reason, reason_problem

__all__ = ["MESSAGE_MAX_CHARS", "OUTCOMES", "ContestResult", "Outcome", "ResolveResult", "as_outcome",
           "contest", "resolve"]

MESSAGE_MAX_CHARS = 5000
Outcome = Literal["uphold", "overturn"]
OUTCOMES: tuple[Outcome, ...] = ("uphold", "overturn")
Payment = Literal["auto", "reversal", "bonus"]


@dataclass
class ContestResult:
    submission_id: int
    dispute_id: int
    worker: str
    window_ends: str | None
    days_left: int | None
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _check_message(message: str) -> str:
    if not message.strip():
        raise InputError("the contest needs the worker's message", field="message",
                         hint="Pass --message \"what the worker says\".")
    if "\x00" in message:
        raise InputError("the message contains a NUL character", field="message",
                         hint="Remove it; every other character is kept as written.")
    if len(message) > MESSAGE_MAX_CHARS:
        raise InputError(f"the message is {len(message)} characters; at most "
                         f"{MESSAGE_MAX_CHARS} are kept", field="message",
                         hint="Shorten it, or keep the full text as a note.")
    return message


def contest(project: Project, submission: int | str, message: str, *, channel: str = "cli",
            now: datetime | None = None) -> ContestResult:
    """Record a worker's contest of a rejection: the submission shows as contested until a
    reviewer resolves it. Only a rejected submission can be contested, once at a time."""
    text = _check_message(message)
    days = review_config(project).reversal_window_days

    def work(conn: Connection) -> ContestResult:
        sid = submission_id(conn, submission)
        row = lock_submission(conn, sid)
        if row.status != "Rejected":
            raise ConflictError(f"submission {sid} is {row.status}, not rejected: there is "
                                "nothing to contest", hint="Only rejections can be contested.")
        if _open_dispute(conn, sid) is not None:
            raise ConflictError(f"submission {sid} is already contested",
                                hint="Resolve the open dispute first (`tracework review "
                                     "resolve`).")
        current = in_force(conn, sid)
        result = conn.execute(insert(review_disputes).values(
            submission_id=sid, review_id=None if current is None else current.id,
            message=text, channel=channel, opened_by=project.actor, opened_at=_now(),
            state="open"))
        dispute_id = inserted_id(result)
        integrity.seal(conn, "review_disputes", [dispute_id])
        ends, left = window(row.submit_time, days, now)
        log = LedgerWriter(conn, project.actor)
        log.append("review.contest", f"submission:{sid}", new={
            "dispute": dispute_id, "worker": row.worker, "channel": channel,
            "message": Private(text, row.worker), "window_ends": ends},
            reason=f"contested by worker {row.worker}")
        log.flush()
        return ContestResult(sid, dispute_id, row.worker, ends, left, log.hash)

    return project.store.run_write(work)


def _open_dispute(conn: Connection, sid: int) -> Any:
    return conn.execute(select(review_disputes).where(
        review_disputes.c.submission_id == sid, review_disputes.c.state == "open")).first()


@dataclass
class ResolveResult:
    submission_id: int
    dispute_id: int
    outcome: str
    payment: str | None
    bonus_token: str | None
    bonus_cents: int
    decision: DecisionResult | None
    window_ends: str | None
    days_left: int | None
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["decision"] = None if self.decision is None else self.decision.as_dict()
        return out


def _payment(pay: Payment, left: int | None, ends: str | None) -> Literal["reversal", "bonus"]:
    open_window = left is not None and left > 0
    if pay == "reversal" and not open_window:
        raise InputError(f"the platform's reversal window closed ({ends or 'submit time unknown'})",
                         field="--pay", hint="Pay the overturned work by bonus (--pay bonus).")
    if pay == "auto":
        return "reversal" if open_window else "bonus"
    return pay


def _plan_bonus(conn: Connection, log: LedgerWriter, project: Project, row: Any,
                dispute_id: int) -> tuple[str | None, int]:
    amount = int(row.reward_cents or 0)
    if amount <= 0:
        return None, 0
    token = f"tw-overturn-{row.id}-{dispute_id}"
    currency = str(project.config.get("pay", {}).get("currency", "USD"))
    reason = (f"Payment for your work on task {row.task_id} (submission {row.id}): its "
              "rejection was overturned on appeal.")
    if reason_problem(reason) is not None:
        reason = "Payment for your work: its rejection was overturned on appeal."
    result = conn.execute(insert(bonuses).values(
        worker=row.worker, submission_id=row.id, amount_cents=amount, currency=currency,
        reason=reason, token=token, state="planned", created_at=_now()))
    integrity.seal(conn, "bonuses", [inserted_id(result)])
    log.append("bonus.plan", f"bonus:{inserted_id(result)}", new={
        "worker": row.worker, "submission": row.id, "amount_cents": amount,
        "currency": currency, "token": token, "reason": reason},
        reason="rejection overturned after the reversal window")
    return token, amount


def as_outcome(text: str) -> Outcome:
    """An outcome typed by a person (a form, the command line), checked."""
    for outcome in OUTCOMES:
        if text == outcome:
            return outcome
    raise InputError(f"outcome {text!r} is not uphold or overturn")


def resolve(project: Project, submission: int | str, outcome: Outcome, reason: str, *,
            pay: Payment = "auto", clean: bool = False,
            now: datetime | None = None) -> ResolveResult:
    """Uphold or overturn a contested rejection, with a reason the worker reads.

    Overturning approves the submission and pays it: by the platform's reversal while the
    window is open, else by a planned bonus of the reward (``pay`` forces one way).
    """
    outcome = as_outcome(outcome)
    text = check_reason(clean_reason(reason) if clean else reason)
    days = review_config(project).reversal_window_days

    def work(conn: Connection) -> ResolveResult:
        sid = submission_id(conn, submission)
        row = lock_submission(conn, sid)
        dispute = _open_dispute(conn, sid)
        if dispute is None:
            raise ConflictError(f"submission {sid} has no open dispute",
                                hint="Record the worker's contest first (`tracework review "
                                     "contest`).")
        ends, left = window(row.submit_time, days, now)
        log = LedgerWriter(conn, project.actor)
        method, token, cents, decided = None, None, 0, None
        if outcome == "overturn":
            method = _payment(pay, left, ends)
            choice = Choice("approve", "overturned", text)
            decided = apply_choice(conn, log, sid, choice, project.actor, redecide=True)
            if method == "bonus":
                token, cents = _plan_bonus(conn, log, project, row, int(dispute.id))
        state = "overturned" if outcome == "overturn" else "upheld"
        conn.execute(update(review_disputes).where(review_disputes.c.id == dispute.id).values(
            state=state, resolver=project.actor, resolution=text, resolved_at=_now(),
            payment=method, bonus_token=token))
        integrity.seal(conn, "review_disputes", [dispute.id])
        log.append("review.resolve", f"submission:{sid}", new={
            "dispute": int(dispute.id), "outcome": state, "payment": method,
            "bonus_token": token, "window_ends": ends}, reason=Private(text, row.worker))
        log.flush()
        return ResolveResult(sid, int(dispute.id), state, method, token, cents, decided, ends,
                             left, log.hash)

    return project.store.run_write(work)
