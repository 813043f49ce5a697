"""cameras: reference_reset_at (staff reset the reference view of the "moved" rule)

Revision ID: 0005_camera_reference_reset
Revises: 0004_incidents
Create Date: 2026-11-24 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_camera_reference_reset'
down_revision = '0004_incidents'
branch_labels = None
depends_on = None


def upgrade():
    # A new nullable column of a table that already has RLS: no policy change needed.
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference_reset_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_column('reference_reset_at')
