"""Tables of the review room, on the one schema metadata (migrations: their own branch).

Decisions live in ``reviews`` and payments in ``bonuses`` (core schema). Here: what the rules
proposed (never a decision by itself) and the disputes workers raise against rejections.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from tracework.core.store.tables_base import metadata

__all__ = ["review_proposals", "review_disputes"]

# One row per (submission, rule): running the rules again adds nothing. ``state`` moves from
# open to accepted (a reviewer decided as proposed) or dismissed (a reviewer decided otherwise).
review_proposals = Table(
    "review_proposals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("decision", String(16), nullable=False),          # reject | rework
    Column("reason_text", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("state", String(16), nullable=False, default="open"),
    Column("review_id", Integer, ForeignKey("reviews.id")),  # the decision that closed it
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("submission_id", "rule", name="uq_review_proposals_rule"),
    Index("ix_review_proposals_state", "state"),
)

# A worker's contest of a rejection. At most one open dispute per submission (checked in the
# write transaction). ``payment`` says how overturned work was paid: ``reversal`` (the platform
# reverses the rejection, within its window) or ``bonus`` (a bonus row, token in ``bonus_token``).
review_disputes = Table(
    "review_disputes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
    Column("review_id", Integer, ForeignKey("reviews.id")),  # the rejection contested
    Column("message", Text, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("opened_by", Text, nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("state", String(16), nullable=False, default="open"),  # open | upheld | overturned
    Column("resolver", Text),
    Column("resolution", Text),
    Column("resolved_at", String(32)),
    Column("payment", String(16)),
    Column("bonus_token", String(64)),
    Index("ix_review_disputes_submission", "submission_id"),
)
