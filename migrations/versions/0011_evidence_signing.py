"""Evidence: signed manifests, per-item hashes recorded at export, hold releases

Revision ID: 0011_evidence_signing
Revises: 0010_two_factor
Create Date: 2026-12-03 13:40:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0011_evidence_signing'
down_revision = '0010_two_factor'
branch_labels = None
depends_on = None


def upgrade():
    # Exports made before this revision keep NULLs: they are checked by the archive's SHA-256 only.
    with op.batch_alter_table('evidence_exports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('manifest_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('signature', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('signing_key_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('recorded_files', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('evidence_exports', schema=None) as batch_op:
        batch_op.drop_column('recorded_files')
        batch_op.drop_column('signing_key_id')
        batch_op.drop_column('signature')
        batch_op.drop_column('manifest_sha256')
