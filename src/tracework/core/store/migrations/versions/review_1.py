"""review: rule proposals and disputes (the review room's own branch)

Revision ID: review_1
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = 'review_1'
down_revision = '0002'
branch_labels = ("review",)
depends_on = None


def upgrade() -> None:
    op.create_table('review_disputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('opened_by', sa.Text(), nullable=False),
    sa.Column('opened_at', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('resolver', sa.Text(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('resolved_at', sa.String(length=32), nullable=True),
    sa.Column('payment', sa.String(length=16), nullable=True),
    sa.Column('bonus_token', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_disputes', schema=None) as batch_op:
        batch_op.create_index('ix_review_disputes_submission', ['submission_id'], unique=False)

    op.create_table('review_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('reason_text', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submission_id', 'rule', name='uq_review_proposals_rule')
    )
    with op.batch_alter_table('review_proposals', schema=None) as batch_op:
        batch_op.create_index('ix_review_proposals_state', ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review_proposals', schema=None) as batch_op:
        batch_op.drop_index('ix_review_proposals_state')

    op.drop_table('review_proposals')
    with op.batch_alter_table('review_disputes', schema=None) as batch_op:
        batch_op.drop_index('ix_review_disputes_submission')

    op.drop_table('review_disputes')
