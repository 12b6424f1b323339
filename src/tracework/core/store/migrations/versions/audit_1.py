"""audit: the aggregation layer (runs, aggregated labels, worker skills)

Revision ID: audit_1
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = 'audit_1'
down_revision = '0002'
branch_labels = ('audit',)
depends_on = None


def upgrade() -> None:
    op.create_table('aggregation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('inputs_sha256', sa.String(length=64), nullable=False),
    sa.Column('inputs', sa.Integer(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('iterations', sa.Integer(), nullable=True),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('aggregate_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('unit', sa.Text(), nullable=False),
    sa.Column('element', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('rle_counts', sa.Text(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('bbox_x', sa.Float(), nullable=True),
    sa.Column('bbox_y', sa.Float(), nullable=True),
    sa.Column('bbox_w', sa.Float(), nullable=True),
    sa.Column('bbox_h', sa.Float(), nullable=True),
    sa.Column('area', sa.Float(), nullable=True),
    sa.Column('workers', sa.Text(), nullable=False),
    sa.Column('submissions', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['aggregation_runs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('aggregate_labels', schema=None) as batch_op:
        batch_op.create_index('ix_aggregate_labels_asset', ['asset_id'], unique=False)
        batch_op.create_index('ix_aggregate_labels_run', ['run_id'], unique=False)

    op.create_table('aggregate_workers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=32), nullable=False),
    sa.Column('element', sa.Text(), nullable=False),
    sa.Column('labels', sa.Integer(), nullable=False),
    sa.Column('skill', sa.Float(), nullable=True),
    sa.Column('confusion', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['aggregation_runs.id'], ),
    sa.ForeignKeyConstraint(['worker'], ['workers.pseudonym'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('aggregate_workers', schema=None) as batch_op:
        batch_op.create_index('ix_aggregate_workers_run', ['run_id'], unique=False)
        batch_op.create_index('ix_aggregate_workers_worker', ['worker'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('aggregate_workers', schema=None) as batch_op:
        batch_op.drop_index('ix_aggregate_workers_worker')
        batch_op.drop_index('ix_aggregate_workers_run')

    op.drop_table('aggregate_workers')
    with op.batch_alter_table('aggregate_labels', schema=None) as batch_op:
        batch_op.drop_index('ix_aggregate_labels_run')
        batch_op.drop_index('ix_aggregate_labels_asset')

    op.drop_table('aggregate_labels')
    op.drop_table('aggregation_runs')
