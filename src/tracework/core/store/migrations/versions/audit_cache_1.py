"""audit cache: the last result of each audit, keyed by its question and the ledger head

Revision ID: audit_cache_1
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "audit_cache_1"
down_revision = "0002"
branch_labels = ("audit_cache",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=False),
        sa.Column("ledger_head", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.String(length=32), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_results_key", "audit_results", ["key", "ledger_head"])


def downgrade() -> None:
    op.drop_index("ix_audit_results_key", table_name="audit_results")
    op.drop_table("audit_results")
