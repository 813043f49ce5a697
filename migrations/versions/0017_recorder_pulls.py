"""Video: pulls from the commune's recorders

Revision ID: 0017_recorder_pulls
Revises: 0016_recordings
Create Date: 2026-12-03 15:00:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0017_recorder_pulls'
down_revision = '0016_recordings'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
