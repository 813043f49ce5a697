"""Pages: commune boundaries for the map

Revision ID: 0018_pages
Revises: 0017_recorder_pulls
Create Date: 2026-12-03 15:00:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0018_pages'
down_revision = '0017_recorder_pulls'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
