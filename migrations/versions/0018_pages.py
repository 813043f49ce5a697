"""Pages: commune boundaries for the map

Revision ID: 0018_pages
Revises: 0017_recorder_pulls
Create Date: 2026-12-03 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from camnet.tenants import rls

# revision identifiers, used by Alembic.
revision = '0018_pages'
down_revision = '0017_recorder_pulls'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('commune_boundaries',
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('geometry', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_units.id'],
                            name=op.f('fk_commune_boundaries_commune_id_admin_units')),
    sa.PrimaryKeyConstraint('commune_id', name=op.f('pk_commune_boundaries')))
    rls.enable(op, 'commune_boundaries', 'commune_id')
    rls.replace_policy(op, 'commune_boundaries', 'commune_id', rls.RANGES_PREDICATE)


def downgrade():
    rls.disable(op, 'commune_boundaries')
    op.drop_table('commune_boundaries')
