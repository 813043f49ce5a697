"""Row-level security tests the scope as int4multirange ranges (app.unit_ranges), not a list of ids

Revision ID: 0007_scope_as_ranges
Revises: 0006_ledger_accounts_sponsor
Create Date: 2026-12-02 12:00:00.000000

"""
from alembic import op

from camnet.tenants import rls

# revision identifiers, used by Alembic.
revision = '0007_scope_as_ranges'
down_revision = '0006_ledger_accounts_sponsor'
branch_labels = None
depends_on = None

# Frozen: every table with a scope policy (migrations 0001-0004) and the column it is keyed on.
POLICIES = [
    ("admin_units", "id"), ("villages", "commune_id"), ("users", "unit_id"), ("role_grants", "unit_id"),
    ("api_tokens", "unit_id"), ("audit_events", "unit_id"), ("commune_settings", "commune_id"),
    ("cameras", "commune_id"), ("camera_consents", "commune_id"), ("snapshots", "commune_id"),
    ("clips", "commune_id"), ("fault_tickets", "commune_id"), ("camera_uptime_days", "commune_id"),
    ("sponsors", "commune_id"), ("funding_phases", "commune_id"), ("pledges", "commune_id"),
    ("share_campaigns", "commune_id"), ("household_shares", "commune_id"), ("receipts", "commune_id"),
    ("expenses", "commune_id"), ("allocations", "commune_id"), ("ledger_accounts", "commune_id"),
    ("journal_transactions", "commune_id"), ("postings", "commune_id"), ("ledger_balances", "commune_id"),
    ("incidents", "commune_id"), ("incident_cameras", "commune_id"), ("incident_evidence", "commune_id"),
    ("evidence_exports", "commune_id"),
]


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(rls.SCOPE_RANGES_FUNCTION)
    for table, column in POLICIES:
        rls.replace_policy(op, table, column, rls.RANGES_PREDICATE_0007)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in POLICIES:
        rls.replace_policy(op, table, column, rls.SCOPE_PREDICATE)
    op.execute("DROP FUNCTION IF EXISTS camnet_ranges_of_unit_ids()")
