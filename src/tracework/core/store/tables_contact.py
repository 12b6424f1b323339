"""Tables of the value chain per batch and of the contact line between a dataset's users and
its makers (migrations: their own branch, ``contact``).

``batch_value_chains``: who asked for a batch's work, through which intermediaries, for which
client, at what pay and time budget. ``contact_consent``: whether a worker may be written to
through the reply handles of a published bundle, and whether their handles may be linked.
``mailbox``: the messages; a private message's body is not here in the clear but sealed to the
worker's keys (``sealed``), whose private halves are kept only wrapped under keys derived from
the worker's portal link and session tokens (``mailbox_keys``, ``mailbox_session_keys``), which
the store keeps hashed. ``mailbox_blocks``: senders a worker refuses.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from tracework.core.store.tables_base import metadata

__all__ = ["batch_value_chains", "contact_consent", "mailbox", "mailbox_blocks", "mailbox_keys",
           "mailbox_session_keys"]

batch_value_chains = Table(
    "batch_value_chains",
    metadata,
    Column("batch_id", Integer, ForeignKey("batches.id"), primary_key=True,
           autoincrement=False),
    Column("requester", Text, nullable=False, default=""),
    Column("intermediaries", Text, nullable=False, default="[]"),     # JSON list of names
    Column("client", Text, nullable=False, default=""),
    Column("pay_cents", Integer),                                      # per task
    Column("currency", String(8), nullable=False, default=""),
    Column("time_budget_s", Integer),                                  # per task
    Column("note", Text, nullable=False, default=""),
    Column("set_at", String(32), nullable=False),
)

contact_consent = Table(
    "contact_consent",
    metadata,
    Column("worker", String(32), ForeignKey("workers.pseudonym"), primary_key=True),
    Column("contactable", Boolean, nullable=False, default=False),
    Column("linkable", Boolean, nullable=False, default=False),
    Column("set_at", String(32), nullable=False),
)

# One key pair per portal link: the public half seals private messages; the private half is
# kept wrapped (XSalsa20-Poly1305) under a key derived from the link's token.
mailbox_keys = Table(
    "mailbox_keys",
    metadata,
    Column("link_id", Integer, primary_key=True, autoincrement=False),
    Column("worker", String(32), ForeignKey("workers.pseudonym"), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("wrapped", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("ix_mailbox_keys_worker", "worker"),
)

# The link's private key re-wrapped under a worker session's id while that session lives.
mailbox_session_keys = Table(
    "mailbox_session_keys",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("link_id", Integer, nullable=False),
    Column("wrapped", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

mailbox = Table(
    "mailbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("worker", String(32), ForeignKey("workers.pseudonym"), nullable=False),
    Column("handle", String(64), nullable=False),
    Column("annotation_id", Integer),
    Column("direction", String(8), nullable=False),          # in (to the worker) | out
    Column("sender", Text, nullable=False),                  # as the sender signed
    Column("sender_key", String(64), nullable=False),        # SHA-256 of the sender, folded
    Column("private", Boolean, nullable=False, default=False),
    Column("body", Text),                                    # None when sealed
    Column("sealed", Text),                                  # JSON {link id: base64 box}
    Column("revealed", Text),                                # a name/address the worker gave
    Column("content_sha256", String(64), nullable=False),
    Column("reply_to", Integer),
    Column("state", String(16), nullable=False, default="new"),  # new|read|answered|ignored|reported
    Column("created_at", String(32), nullable=False),
    Index("ix_mailbox_worker", "worker"),
    Index("ix_mailbox_sender", "sender_key"),
)

mailbox_blocks = Table(
    "mailbox_blocks",
    metadata,
    Column("worker", String(32), ForeignKey("workers.pseudonym"), nullable=False),
    Column("sender_key", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    PrimaryKeyConstraint("worker", "sender_key"),
)
