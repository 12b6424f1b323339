"""Tables of the notes room, on the one schema metadata (migrations: their own branch).

``notes`` holds fieldnotes and their replies; ``taxonomy_changes`` says what each taxonomy
version changed and which workers' flags it answered; ``taxonomy_sync`` remembers the
categories tracework.toml listed when the store last took them in, so a later hand edit of
the file is seen as a change of its own instead of fighting the versions written by commands.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from tracework.core.store.tables_base import metadata

__all__ = ["notes", "taxonomy_changes", "taxonomy_sync"]

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("target", Text, nullable=False),          # asset:3, cell:annotations:17:category …
    Column("concern", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("reply_to", Integer, ForeignKey("notes.id")),
    Column("state", String(16), nullable=False, default="open"),  # open | answered | resolved
    Column("state_by", Text),
    Column("state_reason", Text, nullable=False, default=""),
    Column("state_at", String(32)),
    Column("answered_by_version", Integer),
    # Where a note came from when it was not typed (survey:Q7:R_abc, sheet:…): re-reading the
    # same source adds nothing.
    Column("source", Text),
    Index("ix_notes_target", "target"),
    Index("ix_notes_reply_to", "reply_to"),
    Index("ix_notes_source", "source"),
)

taxonomy_changes = Table(
    "taxonomy_changes",
    metadata,
    Column("version", Integer, ForeignKey("taxonomy_versions.version"), primary_key=True,
           autoincrement=False),
    Column("change", String(16), nullable=False),    # init | toml | add | rename | merge | …
    Column("details", Text, nullable=False, default="{}"),
    Column("answers", Text, nullable=False, default="[]"),
)

taxonomy_sync = Table(
    "taxonomy_sync",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("categories", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("synced_at", String(32), nullable=False),
)
