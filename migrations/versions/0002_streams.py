"""streams

Revision ID: 0002_streams
Revises: 0001_foundation
Create Date: 2026-11-23 12:28:31.705193

"""
from alembic import op
import sqlalchemy as sa

from camnet.tenants import rls

SCOPED = ["cameras", "camera_consents", "snapshots", "clips", "fault_tickets", "camera_uptime_days"]


# revision identifiers, used by Alembic.
revision = '0002_streams'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cameras',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('road', sa.String(length=200), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('direction', sa.String(length=20), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('ownership', sa.String(length=12), nullable=False),
    sa.Column('owner_name', sa.String(length=200), nullable=True),
    sa.Column('owner_contact', sa.String(length=200), nullable=True),
    sa.Column('recorder', sa.String(length=80), nullable=True),
    sa.Column('channel', sa.Integer(), nullable=True),
    sa.Column('rtsp_main', sa.String(length=500), nullable=True),
    sa.Column('rtsp_sub', sa.String(length=500), nullable=True),
    sa.Column('snapshot_url', sa.String(length=500), nullable=True),
    sa.Column('mjpeg_url', sa.String(length=500), nullable=True),
    sa.Column('username', sa.String(length=100), nullable=True),
    sa.Column('password_enc', sa.String(length=500), nullable=True),
    sa.Column('install_date', sa.Date(), nullable=True),
    sa.Column('phase', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('capture_interval', sa.Integer(), nullable=False),
    sa.Column('reference_key', sa.String(length=300), nullable=True),
    sa.Column('health', sa.String(length=16), nullable=False),
    sa.Column('last_snapshot_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_ok_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('fixed','ptz')", name=op.f('ck_cameras_kind')),
    sa.CheckConstraint("ownership IN ('commune','household','business')", name=op.f('ck_cameras_ownership')),
    sa.CheckConstraint("status IN ('planned','active','offline','faulty','decommissioned')", name=op.f('ck_cameras_status')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_cameras_commune_id_admin_units')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_cameras_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cameras')),
    sa.UniqueConstraint('commune_id', 'code', name='uq_cameras_commune_code')
    )
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cameras_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cameras_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cameras_village_id'), ['village_id'], unique=False)

    op.create_table('camera_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('shares', sa.String(length=20), nullable=False),
    sa.Column('granted_by', sa.String(length=200), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('document_ref', sa.String(length=200), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_camera_consents_camera_id_cameras')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_camera_consents_commune_id_admin_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_camera_consents'))
    )
    with op.batch_alter_table('camera_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_camera_consents_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_camera_consents_commune_id'), ['commune_id'], unique=False)

    op.create_table('camera_uptime_days',
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('checks', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_camera_uptime_days_camera_id_cameras')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_camera_uptime_days_commune_id_admin_units')),
    sa.PrimaryKeyConstraint('camera_id', 'day', name=op.f('pk_camera_uptime_days'))
    )
    with op.batch_alter_table('camera_uptime_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_camera_uptime_days_commune_id'), ['commune_id'], unique=False)

    op.create_table('clips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_s', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('object_key', sa.String(length=300), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('reencoded', sa.Boolean(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('evidence', sa.Boolean(), nullable=False),
    sa.Column('legal_hold', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_clips_camera_id_cameras')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_clips_commune_id_admin_units')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_clips_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clips'))
    )
    with op.batch_alter_table('clips', schema=None) as batch_op:
        batch_op.create_index('ix_clips_camera_started', ['camera_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_clips_commune_id'), ['commune_id'], unique=False)

    op.create_table('snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('slot', sa.BigInteger(), nullable=False),
    sa.Column('object_key', sa.String(length=300), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=80), nullable=False),
    sa.Column('health', sa.String(length=16), nullable=False),
    sa.Column('evidence', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_snapshots_camera_id_cameras')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_snapshots_commune_id_admin_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snapshots')),
    sa.UniqueConstraint('camera_id', 'slot', name='uq_snapshots_camera_slot')
    )
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_snapshots_camera_taken', ['camera_id', 'taken_at'], unique=False)
        batch_op.create_index('ix_snapshots_commune_taken', ['commune_id', 'taken_at'], unique=False)

    op.create_table('fault_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evidence_snapshot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('evidence_key', sa.String(length=300), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_fault_tickets_camera_id_cameras')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_fault_tickets_closed_by_id_users')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_fault_tickets_commune_id_admin_units')),
    sa.ForeignKeyConstraint(['evidence_snapshot_id'], ['snapshots.id'], name=op.f('fk_fault_tickets_evidence_snapshot_id_snapshots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fault_tickets'))
    )
    with op.batch_alter_table('fault_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_fault_tickets_camera_status', ['camera_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_tickets_commune_id'), ['commune_id'], unique=False)

    for table in SCOPED:
        rls.enable(op, table, "commune_id")


def downgrade():
    for table in SCOPED:
        rls.disable(op, table)
    with op.batch_alter_table('fault_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fault_tickets_commune_id'))
        batch_op.drop_index('ix_fault_tickets_camera_status')

    op.drop_table('fault_tickets')
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_snapshots_commune_taken')
        batch_op.drop_index('ix_snapshots_camera_taken')

    op.drop_table('snapshots')
    with op.batch_alter_table('clips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clips_commune_id'))
        batch_op.drop_index('ix_clips_camera_started')

    op.drop_table('clips')
    with op.batch_alter_table('camera_uptime_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_camera_uptime_days_commune_id'))

    op.drop_table('camera_uptime_days')
    with op.batch_alter_table('camera_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_camera_consents_commune_id'))
        batch_op.drop_index(batch_op.f('ix_camera_consents_camera_id'))

    op.drop_table('camera_consents')
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cameras_village_id'))
        batch_op.drop_index(batch_op.f('ix_cameras_status'))
        batch_op.drop_index(batch_op.f('ix_cameras_commune_id'))

    op.drop_table('cameras')
