"""Two-factor sign-in: TOTP secrets, recovery codes, WebAuthn credentials

Revision ID: 0010_two_factor
Revises: 0009_accounts
Create Date: 2026-12-03 13:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0010_two_factor'
down_revision = '0009_accounts'
branch_labels = None
depends_on = None

# Keyed by user only (no unit): read before anyone is signed in, by the platform itself. On
# PostgreSQL their policy admits the system scope (``scope.system_scope``) and nothing else, so no
# tenant's query, even raw SQL, reads a second factor. Frozen here, as migrations are.
TABLES = ("mfa_totp", "mfa_recovery_codes", "mfa_webauthn_credentials")
SYSTEM_ONLY = "((SELECT camnet_scope_system()))"  # the checked scope of migration 0008


def upgrade():
    op.create_table('mfa_totp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_enc', sa.Text(), nullable=True),
    sa.Column('pending_secret_enc', sa.Text(), nullable=True),
    sa.Column('pending_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_step', sa.BigInteger(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_totp_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_totp')),
    sa.UniqueConstraint('user_id', name=op.f('uq_mfa_totp_user_id'))
    )

    op.create_table('mfa_recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_recovery_codes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_recovery_codes')),
    sa.UniqueConstraint('user_id', 'code_hash', name='uq_mfa_recovery_codes_user_hash')
    )
    with op.batch_alter_table('mfa_recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_recovery_codes_user_id'), ['user_id'], unique=False)

    op.create_table('mfa_webauthn_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.String(length=1400), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('user_handle', sa.String(length=100), nullable=False),
    sa.Column('transports', sa.JSON(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_webauthn_credentials_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_webauthn_credentials')),
    sa.UniqueConstraint('credential_id', name=op.f('uq_mfa_webauthn_credentials_credential_id'))
    )
    with op.batch_alter_table('mfa_webauthn_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_webauthn_credentials_user_id'), ['user_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {table}_system_only ON {table} USING {SYSTEM_ONLY} WITH CHECK {SYSTEM_ONLY}")


def downgrade():
    with op.batch_alter_table('mfa_webauthn_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_webauthn_credentials_user_id'))
    op.drop_table('mfa_webauthn_credentials')
    with op.batch_alter_table('mfa_recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_recovery_codes_user_id'))
    op.drop_table('mfa_recovery_codes')
    op.drop_table('mfa_totp')
