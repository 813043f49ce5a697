"""ledger_accounts: index on sponsor_id (a sponsor's report and every allocation read its accounts)

Revision ID: 0006_ledger_accounts_sponsor
Revises: 0005_camera_reference_reset
Create Date: 2026-12-02 08:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006_ledger_accounts_sponsor'
down_revision = '0005_camera_reference_reset'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_ledger_accounts_sponsor_id', 'ledger_accounts', ['sponsor_id'], unique=False)


def downgrade():
    op.drop_index('ix_ledger_accounts_sponsor_id', table_name='ledger_accounts')
