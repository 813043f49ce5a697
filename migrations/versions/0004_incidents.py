"""incidents: categories, incidents, their cameras and evidence, evidence exports

Revision ID: 0004_incidents
Revises: 0003_billing
Create Date: 2026-11-23 12:39:53.352885

"""
from alembic import op
import sqlalchemy as sa

from camnet.tenants import rls

SCOPED = ["incidents", "incident_cameras", "incident_evidence", "evidence_exports"]

# The categories (camnet.incidents.models.DEFAULT_CATEGORIES at the time of writing).
CATEGORIES = [
    ("theft", "Trộm cắp tài sản", "Theft", "#c0392b"),
    ("robbery", "Cướp giật tài sản", "Snatching / robbery", "#8e44ad"),
    ("assault", "Cố ý gây thương tích", "Assault", "#d35400"),
    ("property_damage", "Cố ý làm hư hỏng tài sản", "Property damage", "#b7950b"),
    ("illegal_racing", "Đua xe trái phép", "Illegal racing", "#e84393"),
    ("loan_shark_flyers", "Tờ rơi tín dụng đen", "Loan-shark flyers", "#16a085"),
    ("traffic_accident", "Tai nạn, va chạm giao thông", "Traffic accident", "#0b5ea8"),
    ("littering", "Xả thải, vệ sinh môi trường", "Littering / environment", "#27ae60"),
    ("social_evils", "Tệ nạn xã hội", "Social evils", "#2c3e50"),
    ("other", "Khác", "Other", "#7f8c8d"),
]


# revision identifiers, used by Alembic.
revision = '0004_incidents'
down_revision = '0003_billing'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('incident_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label_vi', sa.String(length=120), nullable=False),
    sa.Column('label_en', sa.String(length=120), nullable=False),
    sa.Column('color', sa.String(length=9), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_incident_categories_code'))
    )
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('road', sa.String(length=200), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('clarified_by_camera', sa.Boolean(), nullable=False),
    sa.Column('people_identified', sa.Integer(), nullable=False),
    sa.Column('property_recovered_vnd', sa.BigInteger(), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open','investigating','resolved','referred')", name=op.f('ck_incidents_status')),
    sa.CheckConstraint('people_identified >= 0', name=op.f('ck_incidents_people_identified')),
    sa.CheckConstraint('property_recovered_vnd >= 0', name=op.f('ck_incidents_property_recovered')),
    sa.ForeignKeyConstraint(['category_id'], ['incident_categories.id'], name=op.f('fk_incidents_category_id_incident_categories')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_incidents_commune_id_admin_units')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_incidents_reported_by_id_users')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_incidents_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_category_id'), ['category_id'], unique=False)
        batch_op.create_index('ix_incidents_commune_occurred', ['commune_id', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_village_id'), ['village_id'], unique=False)

    op.create_table('evidence_exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('files_total', sa.Integer(), nullable=False),
    sa.Column('files_done', sa.Integer(), nullable=False),
    sa.Column('object_key', sa.String(length=300), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending','building','ready','failed')", name=op.f('ck_evidence_exports_status')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_evidence_exports_commune_id_admin_units')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_evidence_exports_incident_id_incidents')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_evidence_exports_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_exports'))
    )
    with op.batch_alter_table('evidence_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_exports_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_exports_incident_id'), ['incident_id'], unique=False)

    op.create_table('incident_cameras',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], name=op.f('fk_incident_cameras_camera_id_cameras')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_incident_cameras_commune_id_admin_units')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_cameras_incident_id_incidents')),
    sa.PrimaryKeyConstraint('incident_id', 'camera_id', name=op.f('pk_incident_cameras'))
    )
    with op.batch_alter_table('incident_cameras', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_cameras_camera_id'), ['camera_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_cameras_commune_id'), ['commune_id'], unique=False)

    op.create_table('incident_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('snapshot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('clip_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'snapshot' AND snapshot_id IS NOT NULL AND clip_id IS NULL) OR (kind = 'clip' AND clip_id IS NOT NULL AND snapshot_id IS NULL)", name=op.f('ck_incident_evidence_one_item')),
    sa.CheckConstraint("kind IN ('snapshot','clip')", name=op.f('ck_incident_evidence_kind')),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_incident_evidence_added_by_id_users')),
    sa.ForeignKeyConstraint(['clip_id'], ['clips.id'], name=op.f('fk_incident_evidence_clip_id_clips')),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'], name=op.f('fk_incident_evidence_commune_id_admin_units')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_evidence_incident_id_incidents')),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshots.id'], name=op.f('fk_incident_evidence_snapshot_id_snapshots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_evidence')),
    sa.UniqueConstraint('incident_id', 'kind', 'snapshot_id', 'clip_id', name='uq_incident_evidence_item')
    )
    with op.batch_alter_table('incident_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_evidence_clip_id'), ['clip_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_evidence_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_evidence_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_evidence_snapshot_id'), ['snapshot_id'], unique=False)


    for table in SCOPED:
        rls.enable(op, table, "commune_id")
    categories = sa.table("incident_categories", sa.column("code", sa.String), sa.column("label_vi", sa.String),
                          sa.column("label_en", sa.String), sa.column("color", sa.String),
                          sa.column("sort_order", sa.Integer), sa.column("active", sa.Boolean))
    op.bulk_insert(categories, [
        {"code": c, "label_vi": vi, "label_en": en, "color": colour, "sort_order": 10 * n, "active": True}
        for n, (c, vi, en, colour) in enumerate(CATEGORIES)])


def downgrade():
    for table in SCOPED:
        rls.disable(op, table)
    with op.batch_alter_table('incident_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_evidence_snapshot_id'))
        batch_op.drop_index(batch_op.f('ix_incident_evidence_incident_id'))
        batch_op.drop_index(batch_op.f('ix_incident_evidence_commune_id'))
        batch_op.drop_index(batch_op.f('ix_incident_evidence_clip_id'))

    op.drop_table('incident_evidence')
    with op.batch_alter_table('incident_cameras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_cameras_commune_id'))
        batch_op.drop_index(batch_op.f('ix_incident_cameras_camera_id'))

    op.drop_table('incident_cameras')
    with op.batch_alter_table('evidence_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_exports_incident_id'))
        batch_op.drop_index(batch_op.f('ix_evidence_exports_commune_id'))

    op.drop_table('evidence_exports')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_village_id'))
        batch_op.drop_index(batch_op.f('ix_incidents_status'))
        batch_op.drop_index('ix_incidents_commune_occurred')
        batch_op.drop_index(batch_op.f('ix_incidents_category_id'))

    op.drop_table('incidents')
    op.drop_table('incident_categories')
