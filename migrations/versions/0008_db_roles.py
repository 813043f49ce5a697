"""Database roles: migrations as the owner, the application as a data-only role; scope set through a checked function

Revision ID: 0008_db_roles
Revises: 0007_scope_as_ranges
Create Date: 2026-12-03 13:40:00.000000

The policies stop trusting ``app.unit_ranges`` and ``app.system``, which any role may set: they
call ``camnet_scope()`` (owned by the role running this migration), which vouches for the scope
only when ``app.scope_mac`` signs it with the key in ``camnet_private.scope_key``. The key itself
and the application role's privileges are written after every upgrade (``rls.after_migrations``).
The fallback for processes of the previous release (``app.unit_ids``) is dropped: it trusted an
unsigned setting; while an upgrade rolls out, those processes see no rows (fail closed).
"""
from alembic import op

from camnet.tenants import rls

# revision identifiers, used by Alembic.
revision = '0008_db_roles'
down_revision = '0007_scope_as_ranges'
branch_labels = None
depends_on = None

# Frozen: every table with a scope policy at 0007 and the column it is keyed on.
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
# Frozen copy of rls.RANGES_PREDICATE as this revision made it.
CHECKED = ("(coalesce({column} <@ (SELECT camnet_scope()), false) "
           "OR (SELECT camnet_scope_system()))")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for sql in rls.SCOPE_FUNCTIONS:
        op.execute(sql)
    for table, column in POLICIES:
        rls.replace_policy(op, table, column, CHECKED)
    op.execute("DROP FUNCTION IF EXISTS camnet_ranges_of_unit_ids()")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(rls.SCOPE_RANGES_FUNCTION)
    for table, column in POLICIES:
        rls.replace_policy(op, table, column, rls.RANGES_PREDICATE_0007)
    for sql in rls.DROP_SCOPE_FUNCTIONS:
        op.execute(sql)
