"""Video: live restream

Revision ID: 0015_video_live
Revises: 0014_alerts
Create Date: 2026-12-03 15:00:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0015_video_live'
down_revision = '0014_alerts'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
