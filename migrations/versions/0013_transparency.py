"""Transparency logs: Merkle-tree logs per commune (funding, evidence, access), tile nodes, checkpoints, cosignatures

Revision ID: 0013_transparency
Revises: 0012_oidc
Create Date: 2026-12-04 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from camnet.tenants import rls

# revision identifiers, used by Alembic.
revision = '0013_transparency'
down_revision = '0012_oidc'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TZ = sa.DateTime(timezone=True)
SCOPED = ["tlog_logs", "tlog_leaves", "tlog_nodes", "tlog_checkpoints", "tlog_cosignatures"]
APPEND_ONLY = ["tlog_leaves", "tlog_nodes", "tlog_checkpoints", "tlog_cosignatures"]


def _fk(table, column, target):
    return sa.ForeignKeyConstraint([column], [f'{target}.id'], name=op.f(f'fk_{table}_{column}_{target}'))


def upgrade():
    op.create_table('tlog_logs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('origin', sa.String(length=200), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', TZ, nullable=False),
    sa.CheckConstraint("kind IN ('funding','evidence','access')", name=op.f('ck_tlog_logs_kind')),
    _fk('tlog_logs', 'commune_id', 'admin_units'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tlog_logs')),
    sa.UniqueConstraint('commune_id', 'kind', name='uq_tlog_logs_commune_kind'),
    sa.UniqueConstraint('origin', name=op.f('uq_tlog_logs_origin'))
    )
    op.create_table('tlog_leaves',
    sa.Column('log_id', sa.Integer(), nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('ref_id', sa.BigInteger(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('salt', sa.LargeBinary(length=32), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    _fk('tlog_leaves', 'commune_id', 'admin_units'),
    _fk('tlog_leaves', 'log_id', 'tlog_logs'),
    sa.PrimaryKeyConstraint('log_id', 'idx', name=op.f('pk_tlog_leaves'))
    )
    with op.batch_alter_table('tlog_leaves', schema=None) as batch_op:
        batch_op.create_index('ix_tlog_leaves_ref', ['log_id', 'ref_id'], unique=False)
        batch_op.create_index('ix_tlog_leaves_hash', ['log_id', 'leaf_hash'], unique=False)
    op.create_table('tlog_nodes',
    sa.Column('log_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    _fk('tlog_nodes', 'commune_id', 'admin_units'),
    _fk('tlog_nodes', 'log_id', 'tlog_logs'),
    sa.PrimaryKeyConstraint('log_id', 'level', 'idx', name=op.f('pk_tlog_nodes'))
    )
    op.create_table('tlog_checkpoints',
    sa.Column('id', BigId, nullable=False),
    sa.Column('log_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', TZ, nullable=False),
    _fk('tlog_checkpoints', 'commune_id', 'admin_units'),
    _fk('tlog_checkpoints', 'log_id', 'tlog_logs'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tlog_checkpoints')),
    sa.UniqueConstraint('log_id', 'size', name='uq_tlog_checkpoints_log_size')
    )
    op.create_table('tlog_cosignatures',
    sa.Column('id', BigId, nullable=False),
    sa.Column('checkpoint_id', BigId, nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('witness', sa.String(length=200), nullable=False),
    sa.Column('line', sa.String(length=400), nullable=False),
    sa.Column('created_at', TZ, nullable=False),
    _fk('tlog_cosignatures', 'checkpoint_id', 'tlog_checkpoints'),
    _fk('tlog_cosignatures', 'commune_id', 'admin_units'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tlog_cosignatures')),
    sa.UniqueConstraint('checkpoint_id', 'witness', name='uq_tlog_cosignatures_witness')
    )
    for table in SCOPED:
        rls.enable(op, table, "commune_id")
        rls.replace_policy(op, table, "commune_id", rls.RANGES_PREDICATE)
    for table in APPEND_ONLY:
        rls.append_only(op, table)


def downgrade():
    for table in APPEND_ONLY:
        rls.drop_append_only(op, table)
    for table in SCOPED:
        rls.disable(op, table)
    op.drop_table('tlog_cosignatures')
    op.drop_table('tlog_checkpoints')
    op.drop_table('tlog_nodes')
    with op.batch_alter_table('tlog_leaves', schema=None) as batch_op:
        batch_op.drop_index('ix_tlog_leaves_hash')
        batch_op.drop_index('ix_tlog_leaves_ref')
    op.drop_table('tlog_leaves')
    op.drop_table('tlog_logs')
