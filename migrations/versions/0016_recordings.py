"""Video: recordings, segments, exports

Revision ID: 0016_recordings
Revises: 0015_video_live
Create Date: 2026-12-03 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from camnet.tenants import rls

# revision identifiers, used by Alembic.
revision = '0016_recordings'
down_revision = '0015_video_live'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TZ = sa.DateTime(timezone=True)
SCOPED = ("recording_settings", "recording_triggers", "recording_segments", "recording_commune_settings")


def _fk(table, column, target):
    return sa.ForeignKeyConstraint([column], [f'{target}.id'], name=op.f(f'fk_{table}_{column}_{target}'))


def upgrade():
    op.create_table('recording_settings',
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=True),
    sa.Column('pre_roll_s', sa.Integer(), nullable=False),
    sa.Column('post_roll_s', sa.Integer(), nullable=False),
    sa.Column('updated_at', TZ, nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("mode IN ('off','continuous','scheduled','events')", name=op.f('ck_recording_settings_mode')),
    sa.CheckConstraint("pre_roll_s >= 0 AND post_roll_s >= 0", name=op.f('ck_recording_settings_rolls')),
    _fk('recording_settings', 'camera_id', 'cameras'),
    _fk('recording_settings', 'commune_id', 'admin_units'),
    _fk('recording_settings', 'updated_by_id', 'users'),
    sa.PrimaryKeyConstraint('camera_id', name=op.f('pk_recording_settings')))
    op.create_index(op.f('ix_recording_settings_commune_id'), 'recording_settings', ['commune_id'])

    op.create_table('recording_triggers',
    sa.Column('id', BigId, nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('at', TZ, nullable=False),
    sa.Column('until', TZ, nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    _fk('recording_triggers', 'camera_id', 'cameras'),
    _fk('recording_triggers', 'commune_id', 'admin_units'),
    _fk('recording_triggers', 'created_by_id', 'users'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recording_triggers')))
    op.create_index('ix_recording_triggers_camera_until', 'recording_triggers', ['camera_id', 'until'])
    op.create_index(op.f('ix_recording_triggers_commune_id'), 'recording_triggers', ['commune_id'])

    op.create_table('recording_segments',
    sa.Column('id', BigId, nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('started_at', TZ, nullable=False),
    sa.Column('ended_at', TZ, nullable=False),
    sa.Column('object_key', sa.String(length=300), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('worker', sa.String(length=80), nullable=True),
    sa.Column('legal_hold', sa.Boolean(), nullable=False),
    sa.Column('created_at', TZ, nullable=False),
    _fk('recording_segments', 'camera_id', 'cameras'),
    _fk('recording_segments', 'commune_id', 'admin_units'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recording_segments')),
    sa.UniqueConstraint('object_key', name='uq_recording_segments_object_key'))
    op.create_index('ix_recording_segments_camera_started', 'recording_segments', ['camera_id', 'started_at'])
    op.create_index('ix_recording_segments_commune_started', 'recording_segments', ['commune_id', 'started_at'])

    op.create_table('recording_commune_settings',
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=True),
    _fk('recording_commune_settings', 'commune_id', 'admin_units'),
    sa.PrimaryKeyConstraint('commune_id', name=op.f('pk_recording_commune_settings')))

    for table in SCOPED:
        rls.enable(op, table, "commune_id")
        rls.replace_policy(op, table, "commune_id", rls.RANGES_PREDICATE)


def downgrade():
    for table in SCOPED:
        rls.disable(op, table)
    for table in reversed(SCOPED):
        op.drop_table(table)
