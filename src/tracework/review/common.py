"""Helpers the review modules share: finding submissions and batches, the decision in force."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Row, select

from tracework.core.errors import InputError, NotFound
from tracework.core.store.schema import batches, reviews, submissions

__all__ = [
    "Decision",
    "DECISIONS",
    "as_decision",
    "STATUS_OF",
    "UNDECIDED",
    "batch_ids",
    "in_force",
    "lock_submission",
    "submission_id",
    "window",
]

Decision = Literal["approve", "reject", "rework"]
DECISIONS: tuple[Decision, ...] = ("approve", "reject", "rework")
STATUS_OF: dict[str, str] = {"approve": "Approved", "reject": "Rejected", "rework": "Rework"}
UNDECIDED = "Submitted"
_REF = re.compile(r"^(?:submission:)?(\d+)$")


def as_decision(text: str) -> Decision:
    """A decision typed by a person (a form, a file), checked."""
    for decision in DECISIONS:
        if text == decision:
            return decision
    raise InputError(f"decision {text!r} is not one of {', '.join(DECISIONS)}")


def submission_id(conn: Connection, ref: int | str) -> int:
    """A submission by its number (``12`` or ``submission:12``) or its platform assignment id."""
    text = str(ref).strip()
    match = _REF.match(text)
    if match:
        query = select(submissions.c.id).where(submissions.c.id == int(match.group(1)))
    else:
        query = select(submissions.c.id).where(submissions.c.assignment_id == text)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no submission {text!r} in this project",
                       hint="`tracework review list` shows the submissions and their numbers.")
    return int(row.id)


def _batch_id(conn: Connection, text: str) -> int | None:
    """The platform's key (``BatchId:5012345``), the platform's batch number as in its file
    name (``5012345``), or tracework's batch number, in that order of preference."""
    keys = [text] + ([f"BatchId:{text}"] if text.isdigit() else [])
    for key in keys:
        row = conn.execute(select(batches.c.id).where(batches.c.batch_key == key)).first()
        if row is not None:
            return int(row.id)
    if text.isdigit():
        row = conn.execute(select(batches.c.id).where(batches.c.id == int(text))).first()
        if row is not None:
            return int(row.id)
    return None


def batch_ids(conn: Connection, refs: Collection[str]) -> list[int] | None:
    """Batch ids for ``refs`` (each a batch number or the platform's batch key or number);
    None when none are given."""
    if not refs:
        return None
    out = []
    for ref in refs:
        text = str(ref).strip()
        found = _batch_id(conn, text)
        if found is None:
            raise NotFound(f"no batch {text!r} in this project",
                           hint="Give a batch number, the platform's batch key or its batch "
                                "number (5012345 of Batch_5012345_batch_results.csv).")
        out.append(found)
    return out


def lock_submission(conn: Connection, sid: int) -> Row[Any]:
    """The submission's row, locked until the transaction ends (PostgreSQL: FOR UPDATE; SQLite
    writers are serialised by BEGIN IMMEDIATE already)."""
    query = select(submissions).where(submissions.c.id == sid)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no submission {sid} in this project")
    return row


def in_force(conn: Connection, sid: int) -> Row[Any] | None:
    """The newest decision on a submission, or None."""
    return conn.execute(select(reviews).where(reviews.c.submission_id == sid)
                        .order_by(reviews.c.id.desc()).limit(1)).first()


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def window(submit_time: str | None, days: int, now: datetime | None = None
           ) -> tuple[str | None, int | None]:
    """When the platform's reversal window closes, and the whole days left (0: closed today or
    before; None: the submit time is unknown)."""
    start = parse_time(submit_time)
    if start is None:
        return None, None
    ends = start + timedelta(days=days)
    current = now or datetime.now(UTC)
    left = (ends - current).total_seconds()
    whole = 0 if left <= 0 else int(-(-left // 86400))
    return ends.isoformat(), whole
