"""Tables of the privacy layer, on the one schema metadata (migrations: their own branch).

``ledger_private`` holds the personal values that ledger entries only commit to: a ledger
entry stores ``{"commit": "sha256:<hex>"}`` where the hex is SHA-256 over a random salt and the
value's canonical JSON; the salt and the value live here, one row per commitment, with the
worker the value belongs to. Erasing a worker deletes their rows: the entries keep verifying
(their hashes cover the commitment, not the value) and the value cannot be recovered, since
without the salt a commitment to a short name or a yes/no cannot be guessed either.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from tracework.core.store.tables_base import metadata

__all__ = ["ledger_private"]

ledger_private = Table(
    "ledger_private",
    metadata,
    Column("commit", String(80), primary_key=True),      # sha256:<hex>, as in the entry
    Column("seq", Integer, nullable=False),              # the ledger entry that commits to it
    Column("part", String(16), nullable=False),          # old | new | reason
    Column("salt", String(64), nullable=False),          # hex of 32 random bytes
    Column("value", Text, nullable=False),               # canonical JSON of the value
    Column("worker", String(32)),                        # whose value it is (erasure deletes)
    Index("ix_ledger_private_seq", "seq"),
    Index("ix_ledger_private_worker", "worker"),
)
