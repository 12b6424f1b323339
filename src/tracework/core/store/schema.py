"""The tables of a tracework store (SQLAlchemy Core).

This module is the current shape of the schema; the Alembic migrations under
``core/store/migrations`` build it step by step, and a test checks that the two agree.

Privacy: the raw platform worker id exists in one table only, :data:`vault`. Every other table
refers to a worker by pseudonym.
"""


from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Each room of the product keeps its own tables in tables_<room>.py on the same metadata;
# importing them here registers them, so this module's metadata is the whole schema.
from tracework.core.store import (  # noqa: F401
    tables_audit,
    tables_contact,
    tables_docs,
    tables_integrity,
    tables_notes,
    tables_privacy,
    tables_render,
    tables_review,
    tables_survey,
    tables_web,
)
from tracework.core.store.tables_base import metadata

__all__ = [
    "metadata",
    "vault",
    "vault_values",
    "workers",
    "imports",
    "batches",
    "assets",
    "submissions",
    "annotations",
    "responses",
    "answers",
    "conflicts",
    "taxonomy_versions",
    "ledger",
    "ledger_head",
    "reviews",
    "bonuses",
]


# Times are ISO-8601 UTC strings: identical on SQLite and PostgreSQL, sortable, and hashed
# verbatim by the ledger.

vault = Table(
    "vault",
    metadata,
    Column("pseudonym", String(32), primary_key=True),
    Column("platform", String(32), nullable=False),
    Column("platform_worker_id", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("platform", "platform_worker_id", name="uq_vault_platform_id"),
)

# Other identifying values that arrive with the data (a survey's IP address, location,
# recipient e-mail) are kept here, beside the worker ids, and nowhere else.
vault_values = Table(
    "vault_values",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("field", String(128), nullable=False),
    Column("value", Text, nullable=False),
    Index("ix_vault_values_owner", "owner"),
)

workers = Table(
    "workers",
    metadata,
    Column("pseudonym", String(32), primary_key=True),
    Column("platform", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("consent_link", Boolean, nullable=False, default=False),
    Column("consent_publish", Boolean, nullable=False, default=False),
    Column("consent_credit", Boolean, nullable=False, default=False),
    Column("credit_name", Text),
    Column("erased", Boolean, nullable=False, default=False),
)

imports = Table(
    "imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("added", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("conflicts", Integer, nullable=False),
    Column("actor", Text, nullable=False),
    Column("imported_at", String(32), nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(32), nullable=False),
    Column("batch_key", Text, nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("keywords", Text, nullable=False, default=""),
    Column("reward_cents", Integer),
    Column("max_assignments", Integer),
    Column("time_allotted_s", Integer),
    Column("auto_approval_delay_s", Integer),
    Column("created_at", String(32)),
    Column("import_id", Integer, ForeignKey("imports.id"), nullable=False),
    UniqueConstraint("platform", "batch_key", name="uq_batches_key"),
)

assets = Table(
    "assets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uri", Text, nullable=False, unique=True),
    Column("file_name", Text, nullable=False),
    Column("sha256", String(64)),
    Column("width", Integer),
    Column("height", Integer),
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(32), nullable=False),
    Column("assignment_id", Text, nullable=False),
    Column("task_id", Text, nullable=False),
    Column("batch_id", Integer, ForeignKey("batches.id"), nullable=False),
    Column("asset_id", Integer, ForeignKey("assets.id")),
    Column("worker", String(32), ForeignKey("workers.pseudonym"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("accept_time", String(32)),
    Column("submit_time", String(32)),
    Column("work_time_s", Float),
    Column("time_kind", String(32), nullable=False),
    Column("reward_cents", Integer),
    Column("approval_time", String(32)),
    Column("rejection_time", String(32)),
    Column("requester_feedback", Text, nullable=False, default=""),
    Column("content_sha256", String(64), nullable=False),
    Column("answer", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("tolerated_pixels", Integer, nullable=False, default=0),
    Column("import_id", Integer, ForeignKey("imports.id"), nullable=False),
    Column("row", Integer, nullable=False),
    UniqueConstraint("platform", "assignment_id", name="uq_submissions_assignment"),
    Index("ix_submissions_worker", "worker"),
    Index("ix_submissions_asset", "asset_id"),
    Index("ix_submissions_status", "status"),
)

annotations = Table(
    "annotations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
    Column("asset_id", Integer, ForeignKey("assets.id")),
    Column("worker", String(32), ForeignKey("workers.pseudonym"), nullable=False),
    Column("element", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("category", Text),
    Column("taxonomy_version", Integer, nullable=False),
    Column("rle_counts", Text),
    Column("height", Integer),
    Column("width", Integer),
    Column("bbox_x", Float),
    Column("bbox_y", Float),
    Column("bbox_w", Float),
    Column("bbox_h", Float),
    Column("area", Float),
    Column("value", Text),
    Index("ix_annotations_submission", "submission_id"),
    Index("ix_annotations_asset", "asset_id"),
    Index("ix_annotations_category", "category"),
)

responses = Table(
    "responses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("response_id", Text, nullable=False),
    Column("worker", String(32), ForeignKey("workers.pseudonym")),
    Column("status", Text, nullable=False),
    Column("finished", Boolean),
    Column("start_time", String(32)),
    Column("end_time", String(32)),
    Column("duration_s", Float),
    Column("content_sha256", String(64), nullable=False),
    Column("raw", Text, nullable=False),
    Column("import_id", Integer, ForeignKey("imports.id"), nullable=False),
    Column("row", Integer, nullable=False),
    UniqueConstraint("source", "response_id", name="uq_responses_id"),
    Index("ix_responses_worker", "worker"),
)

answers = Table(
    "answers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("response_id", Integer, ForeignKey("responses.id"), nullable=False),
    Column("question", Text, nullable=False),
    Column("label", Text, nullable=False, default=""),
    Column("value", Text),
    Column("other_text", Text),
    Index("ix_answers_response", "response_id"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("target", Text, nullable=False),
    Column("import_id", Integer, ForeignKey("imports.id"), nullable=False),
    Column("row", Integer, nullable=False),
    Column("fields", Text, nullable=False),
    Column("incoming", Text, nullable=False),
    Column("state", String(16), nullable=False, default="open"),
    Column("created_at", String(32), nullable=False),
)

taxonomy_versions = Table(
    "taxonomy_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("categories", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
)

ledger = Table(
    "ledger",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts", String(32), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("field", Text, nullable=False, default=""),
    Column("old", Text, nullable=False, default="null"),
    Column("new", Text, nullable=False, default="null"),
    Column("reason", Text, nullable=False, default=""),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_ledger_target", "target"),
    Index("ix_ledger_action", "action"),
    Index("ix_ledger_hash", "hash"),
)

# One row: the newest entry. Writers lock it, so two writers never chain onto the same entry
# (SQLite serialises writers anyway; PostgreSQL needs the row lock).
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)


# A decision on a submission. The newest row per submission is in force; ``submissions.status``
# mirrors it ("Approved", "Rejected", "Submitted" for rework) so readers need one column.
reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
    Column("decision", String(16), nullable=False),          # approve | reject | rework
    Column("reason_code", String(64), nullable=False, default=""),
    Column("reason_text", Text, nullable=False, default=""),
    Column("reviewer", Text, nullable=False),
    Column("rule", String(64)),                              # the rule whose proposal was accepted
    Column("good_faith", Boolean, nullable=False, default=False),  # rejected, but paid as done in good faith
    Column("source", String(16), nullable=False, default="tracework"),  # tracework | platform
    Column("created_at", String(32), nullable=False),
    Index("ix_reviews_submission", "submission_id"),
)

# Money paid beyond the reward: top-ups to the wage floor, payments for overturned rejections.
bonuses = Table(
    "bonuses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("worker", String(32), ForeignKey("workers.pseudonym"), nullable=False),
    Column("submission_id", Integer, ForeignKey("submissions.id")),
    Column("amount_cents", Integer, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("reason", Text, nullable=False),
    Column("token", String(64), nullable=False, unique=True),  # idempotency: never paid twice
    Column("state", String(16), nullable=False, default="planned"),  # planned | paid | cancelled
    Column("created_at", String(32), nullable=False),
    Index("ix_bonuses_worker", "worker"),
)

