"""privacy: what the ingest found out about survey questions (free text or not, and why)

Revision ID: privacy_2_1
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = 'privacy_2_1'
down_revision = '0002'
branch_labels = ('privacy_2',)
depends_on = None


def upgrade() -> None:
    op.create_table('survey_questions',
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('free_text', sa.Boolean(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('distinct_values', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('question')
    )


def downgrade() -> None:
    op.drop_table('survey_questions')
