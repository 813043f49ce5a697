"""Single sign-on: OpenID Connect providers per province and external identities

Revision ID: 0012_oidc
Revises: 0011_evidence_signing
Create Date: 2026-12-03 13:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

from camnet.tenants import rls

# revision identifiers, used by Alembic.
revision = '0012_oidc'
down_revision = '0011_evidence_signing'
branch_labels = None
depends_on = None

# Tenant rows, behind row-level security like every other (sso_login_states is not: it is read
# before anyone signs in, by the hash of its secret state).
SCOPED = [("sso_providers", "unit_id"), ("sso_claim_rules", "unit_id"), ("sso_identities", "unit_id")]


def upgrade():
    op.create_table('sso_providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('issuer', sa.String(length=300), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('client_secret_enc', sa.Text(), nullable=False),
    sa.Column('scopes', sa.String(length=300), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_units.id'], name=op.f('fk_sso_providers_unit_id_admin_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_providers'))
    )

    with op.batch_alter_table('sso_providers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_providers_unit_id'), ['unit_id'], unique=False)

    op.create_table('sso_claim_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('claim', sa.String(length=100), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['sso_providers.id'], name=op.f('fk_sso_claim_rules_provider_id_sso_providers')),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_units.id'], name=op.f('fk_sso_claim_rules_unit_id_admin_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_claim_rules'))
    )

    with op.batch_alter_table('sso_claim_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_claim_rules_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sso_claim_rules_unit_id'), ['unit_id'], unique=False)

    op.create_table('sso_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=300), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('mapped_grants', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['sso_providers.id'], name=op.f('fk_sso_identities_provider_id_sso_providers')),
    sa.ForeignKeyConstraint(['unit_id'], ['admin_units.id'], name=op.f('fk_sso_identities_unit_id_admin_units')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sso_identities_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_identities')),
    sa.UniqueConstraint('issuer', 'subject', name='uq_sso_identities_issuer_subject')
    )

    with op.batch_alter_table('sso_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_identities_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sso_identities_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sso_identities_user_id'), ['user_id'], unique=False)

    op.create_table('sso_login_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=100), nullable=False),
    sa.Column('code_verifier', sa.String(length=200), nullable=False),
    sa.Column('redirect_uri', sa.String(length=500), nullable=False),
    sa.Column('next_url', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['sso_providers.id'], name=op.f('fk_sso_login_states_provider_id_sso_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_login_states')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_sso_login_states_state_hash'))
    )

    with op.batch_alter_table('sso_login_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_login_states_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sso_login_states_provider_id'), ['provider_id'], unique=False)

    for table, column in SCOPED:
        rls.enable(op, table, column)
        rls.replace_policy(op, table, column, rls.RANGES_PREDICATE)  # as 0007 made every policy


def downgrade():
    for table, _ in SCOPED:
        rls.disable(op, table)
    for table in ("sso_login_states", "sso_identities", "sso_claim_rules", "sso_providers"):
        op.drop_table(table)
