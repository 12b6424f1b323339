"""integrity: row seals binding the data tables to the ledger

Revision ID: integrity_1
Revises: 0002

A store that already holds rows when this runs is marked ``legacy``: its rows were written
before sealing and stay unsealed until a person checks them and runs
``tracework verify --seal-existing`` (the migration has no secret to seal with).
"""

import sqlalchemy as sa
from alembic import op

revision = 'integrity_1'
down_revision = '0002'
branch_labels = ('integrity',)
depends_on = None

_HOLDING = ('workers', 'submissions', 'responses', 'imports', 'taxonomy_versions')


def upgrade() -> None:
    op.create_table('row_seals',
    sa.Column('tbl', sa.String(length=32), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('cols', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('tbl', 'key')
    )
    op.create_table('seal_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=True),
    sa.Column('totals', sa.Text(), nullable=False),
    sa.Column('legacy', sa.Boolean(), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    conn = op.get_bind()
    present = set(sa.inspect(conn).get_table_names())
    legacy = any(conn.execute(sa.text(f'SELECT 1 FROM {name} LIMIT 1')).first() is not None
                 for name in _HOLDING if name in present)
    head = sa.table('seal_head', sa.column('id', sa.Integer()), sa.column('totals', sa.Text()),
                    sa.column('legacy', sa.Boolean()))
    op.bulk_insert(head, [{'id': 1, 'totals': '{}', 'legacy': legacy}])


def downgrade() -> None:
    op.drop_table('seal_head')
    op.drop_table('row_seals')
