"""erasure: personal values of ledger entries kept apart, as salted commitments

Revision ID: erasure_1
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "erasure_1"
down_revision = "0002"
branch_labels = ("erasure",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_private",
        sa.Column("commit", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("part", sa.String(length=16), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("commit"),
    )
    with op.batch_alter_table("ledger_private", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_private_seq", ["seq"], unique=False)
        batch_op.create_index("ix_ledger_private_worker", ["worker"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger_private", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_private_worker")
        batch_op.drop_index("ix_ledger_private_seq")
    op.drop_table("ledger_private")
