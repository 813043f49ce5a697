"""Video: pulls from the commune's recorders

Revision ID: 0017_recorder_pulls
Revises: 0016_recordings
Create Date: 2026-12-03 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from camnet.tenants import rls

# revision identifiers, used by Alembic.
revision = '0017_recorder_pulls'
down_revision = '0016_recordings'
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SCOPED = ("recorders", "recorder_pulls")


def _fk(table, column, target):
    return sa.ForeignKeyConstraint([column], [f'{target}.id'], name=op.f(f'fk_{table}_{column}_{target}'))


def upgrade():
    op.create_table('recorders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('family', sa.String(length=12), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=True),
    sa.Column('password_enc', sa.String(length=500), nullable=True),
    sa.Column('created_at', TZ, nullable=False),
    sa.CheckConstraint("family IN ('hikvision','dahua','onvif')", name=op.f('ck_recorders_family')),
    _fk('recorders', 'commune_id', 'admin_units'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recorders')),
    sa.UniqueConstraint('commune_id', 'name', name='uq_recorders_commune_name'))
    op.create_index(op.f('ix_recorders_commune_id'), 'recorders', ['commune_id'])

    op.create_table('recorder_pulls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('recorder_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Integer(), nullable=False),
    sa.Column('family', sa.String(length=12), nullable=False),
    sa.Column('start_at', TZ, nullable=False),
    sa.Column('end_at', TZ, nullable=False),
    sa.Column('seconds_asked', sa.Integer(), nullable=False),
    sa.Column('seconds_fetched', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', TZ, nullable=False),
    sa.Column('beat_at', TZ, nullable=True),
    sa.Column('finished_at', TZ, nullable=True),
    sa.CheckConstraint("status IN ('pending','running','ready','failed')", name=op.f('ck_recorder_pulls_status')),
    sa.CheckConstraint("end_at > start_at", name=op.f('ck_recorder_pulls_range')),
    _fk('recorder_pulls', 'camera_id', 'cameras'),
    _fk('recorder_pulls', 'commune_id', 'admin_units'),
    _fk('recorder_pulls', 'recorder_id', 'recorders'),
    sa.ForeignKeyConstraint(['clip_id'], ['clips.id'], name=op.f('fk_recorder_pulls_clip_id_clips'),
                            ondelete='SET NULL'),  # retention may delete the clip; the pull's record stays
    _fk('recorder_pulls', 'requested_by_id', 'users'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recorder_pulls')))
    op.create_index('ix_recorder_pulls_camera_created', 'recorder_pulls', ['camera_id', 'created_at'])
    op.create_index(op.f('ix_recorder_pulls_commune_id'), 'recorder_pulls', ['commune_id'])

    for table in SCOPED:
        rls.enable(op, table, "commune_id")
        rls.replace_policy(op, table, "commune_id", rls.RANGES_PREDICATE)


def downgrade():
    for table in SCOPED:
        rls.disable(op, table)
    op.drop_table('recorder_pulls')
    op.drop_table('recorders')
