"""notes room: fieldnotes, taxonomy changes and the tracework.toml sync point

Revision ID: notes_1
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = 'notes_1'
down_revision = '0002'
branch_labels = ('notes',)
depends_on = None


def upgrade() -> None:
    op.create_table('notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('concern', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.Column('reply_to', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_by', sa.Text(), nullable=True),
    sa.Column('state_reason', sa.Text(), nullable=False),
    sa.Column('state_at', sa.String(length=32), nullable=True),
    sa.Column('answered_by_version', sa.Integer(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['reply_to'], ['notes.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.create_index('ix_notes_reply_to', ['reply_to'], unique=False)
        batch_op.create_index('ix_notes_source', ['source'], unique=False)
        batch_op.create_index('ix_notes_target', ['target'], unique=False)

    op.create_table('taxonomy_sync',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('categories', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('synced_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('taxonomy_changes',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['version'], ['taxonomy_versions.version'], ),
    sa.PrimaryKeyConstraint('version')
    )


def downgrade() -> None:
    op.drop_table('taxonomy_changes')
    op.drop_table('taxonomy_sync')
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_index('ix_notes_target')
        batch_op.drop_index('ix_notes_source')
        batch_op.drop_index('ix_notes_reply_to')

    op.drop_table('notes')
