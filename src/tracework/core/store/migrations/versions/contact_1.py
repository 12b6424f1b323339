"""contact: value chains per batch, contact consent, the mailbox and its keys

Revision ID: contact_1
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "contact_1"
down_revision = "0002"
branch_labels = ("contact",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_value_chains",
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batches.id"), nullable=False,
                  autoincrement=False),
        sa.Column("requester", sa.Text(), nullable=False),
        sa.Column("intermediaries", sa.Text(), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("pay_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("time_budget_s", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("set_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("batch_id"),
    )
    op.create_table(
        "contact_consent",
        sa.Column("worker", sa.String(length=32), sa.ForeignKey("workers.pseudonym"),
                  nullable=False),
        sa.Column("contactable", sa.Boolean(), nullable=False),
        sa.Column("linkable", sa.Boolean(), nullable=False),
        sa.Column("set_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("worker"),
    )
    op.create_table(
        "mailbox_keys",
        sa.Column("link_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("worker", sa.String(length=32), sa.ForeignKey("workers.pseudonym"),
                  nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("link_id"),
    )
    op.create_index("ix_mailbox_keys_worker", "mailbox_keys", ["worker"], unique=False)
    op.create_table(
        "mailbox_session_keys",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    op.create_table(
        "mailbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=32), sa.ForeignKey("workers.pseudonym"),
                  nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("annotation_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("sender_key", sa.String(length=64), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("revealed", sa.Text(), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("reply_to", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mailbox_worker", "mailbox", ["worker"], unique=False)
    op.create_index("ix_mailbox_sender", "mailbox", ["sender_key"], unique=False)
    op.create_table(
        "mailbox_blocks",
        sa.Column("worker", sa.String(length=32), sa.ForeignKey("workers.pseudonym"),
                  nullable=False),
        sa.Column("sender_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("worker", "sender_key"),
    )


def downgrade() -> None:
    op.drop_table("mailbox_blocks")
    op.drop_index("ix_mailbox_sender", table_name="mailbox")
    op.drop_index("ix_mailbox_worker", table_name="mailbox")
    op.drop_table("mailbox")
    op.drop_table("mailbox_session_keys")
    op.drop_index("ix_mailbox_keys_worker", table_name="mailbox_keys")
    op.drop_table("mailbox_keys")
    op.drop_table("contact_consent")
    op.drop_table("batch_value_chains")
