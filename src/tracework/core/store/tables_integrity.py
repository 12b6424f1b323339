"""Tables of row sealing, on the one schema metadata (migrations: their own branch).

``row_seals`` holds one keyed digest per row of every table that carries the project's
record (submissions, reviews, notes…): what the row held when tracework last wrote it, and
the ledger entry it was written under. ``seal_head`` is one row binding all seals to the
ledger: the number of rows and the sum of their digests per table, the ledger head at the
last sealing, and a MAC over both under a key derived from the project secret.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, String, Table, Text

from tracework.core.store.tables_base import metadata

__all__ = ["row_seals", "seal_head"]

row_seals = Table(
    "row_seals",
    metadata,
    Column("tbl", String(32), primary_key=True),
    Column("key", Text, primary_key=True),          # the row's primary key, as text
    Column("seq", Integer, nullable=False),         # ledger head when the row was sealed
    Column("digest", String(64), nullable=False),   # keyed BLAKE2b of the row's values
    Column("cols", Text, nullable=False),           # a short keyed digest per column, to name it
    Column("reason", Text),                         # why a row was resealed outside its command
)

seal_head = Table(
    "seal_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer),                          # ledger head at the last sealing
    Column("hash", String(64)),
    Column("totals", Text, nullable=False, default="{}"),  # {table: [rows, sum of digests]}
    Column("legacy", Boolean, nullable=False, default=False),  # rows from before sealing exist
    Column("mac", String(64)),                       # NULL until the first sealing
)
