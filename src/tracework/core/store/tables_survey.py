"""Tables about survey questions, on the one schema metadata (migrations: their own branch)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, String, Table, Text

from tracework.core.store.tables_base import metadata

__all__ = ["survey_questions"]

# What the ingest found out about each survey question: whether its answers are free text (a
# city, a sum of money, a name) and why, from the export's own ImportIds (``QID4_TEXT`` is a
# text-entry question) or from the answers' shape. Free text identifies people; the export
# rules (dataset.policy) withhold it unless the project publishes it by name.
survey_questions = Table(
    "survey_questions",
    metadata,
    Column("question", Text, primary_key=True),       # as in answers.question
    Column("source", String(32), nullable=False),
    Column("import_id", Text, nullable=False, default=""),
    Column("kind", String(16), nullable=False),        # single | multi | text | other
    Column("free_text", Boolean, nullable=False),
    Column("why", Text, nullable=False, default=""),
    Column("answered", Integer, nullable=False, default=0),
    Column("distinct_values", Integer, nullable=False, default=0),
    Column("updated_at", String(32), nullable=False),
)
