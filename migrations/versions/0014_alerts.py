"""Alerts: outbox of events, alerts, messages, deliveries and attempts, subscriptions, contacts,
preferences, the commune rota and settings, the checker's memory

Revision ID: 0014_alerts
Revises: 0013_transparency
Create Date: 2026-12-05 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from camnet.tenants import rls

# revision identifiers, used by Alembic.
revision = '0014_alerts'
down_revision = '0013_transparency'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TZ = sa.DateTime(timezone=True)
SCOPED = [("alert_events", "unit_id"), ("alert_alerts", "unit_id"), ("alert_messages", "unit_id"),
          ("alert_deliveries", "unit_id"), ("alert_attempts", "unit_id"), ("alert_subscriptions", "unit_id"),
          ("alert_contacts", "unit_id"), ("alert_preferences", "unit_id"), ("alert_rota", "commune_id"),
          ("alert_commune_settings", "commune_id")]


def _fk(table, column, target):
    return sa.ForeignKeyConstraint([column], [f'{target}.id'], name=op.f(f'fk_{table}_{column}_{target}'))


def upgrade():
    op.create_table('alert_events',
    sa.Column('id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('subject_type', sa.String(length=30), nullable=True),
    sa.Column('subject_id', sa.String(length=80), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('occurred_at', TZ, nullable=False),
    sa.Column('dispatched_at', TZ, nullable=True),
    sa.Column('alert_id', BigId, nullable=True),
    _fk('alert_events', 'unit_id', 'admin_units'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events')))
    op.create_index('ix_alert_events_pending', 'alert_events', ['dispatched_at', 'id'])
    op.create_index('ix_alert_events_unit_id', 'alert_events', ['unit_id'])

    op.create_table('alert_alerts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('group_key', sa.String(length=80), nullable=True),
    sa.Column('created_at', TZ, nullable=False),
    sa.Column('needs_ack', sa.Boolean(), nullable=False),
    sa.Column('acked_at', TZ, nullable=True),
    sa.Column('acked_by_id', sa.Integer(), nullable=True),
    sa.Column('escalation_step', sa.Integer(), nullable=False),
    sa.Column('escalate_at', TZ, nullable=True),
    _fk('alert_alerts', 'unit_id', 'admin_units'),
    _fk('alert_alerts', 'acked_by_id', 'users'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_alerts')))
    op.create_index('ix_alert_alerts_group', 'alert_alerts', ['group_key', 'created_at'])
    op.create_index('ix_alert_alerts_escalate', 'alert_alerts', ['acked_at', 'escalate_at'])
    op.create_index('ix_alert_alerts_unit_id', 'alert_alerts', ['unit_id'])

    op.create_table('alert_messages',
    sa.Column('id', BigId, nullable=False),
    sa.Column('alert_id', BigId, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('title_vi', sa.String(length=300), nullable=False),
    sa.Column('title_en', sa.String(length=300), nullable=False),
    sa.Column('body_vi', sa.Text(), nullable=False),
    sa.Column('body_en', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=True),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('created_at', TZ, nullable=False),
    sa.Column('read_at', TZ, nullable=True),
    sa.Column('acked_at', TZ, nullable=True),
    _fk('alert_messages', 'alert_id', 'alert_alerts'),
    _fk('alert_messages', 'user_id', 'users'),
    _fk('alert_messages', 'unit_id', 'admin_units'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_messages')),
    sa.UniqueConstraint('alert_id', 'user_id', name='uq_alert_messages_alert_user'),
    sa.UniqueConstraint('key', name=op.f('uq_alert_messages_key')))
    op.create_index('ix_alert_messages_user_read', 'alert_messages', ['user_id', 'read_at'])
    op.create_index('ix_alert_messages_alert_id', 'alert_messages', ['alert_id'])
    op.create_index('ix_alert_messages_unit_id', 'alert_messages', ['unit_id'])

    op.create_table('alert_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('address', sa.String(length=1000), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=True),
    sa.Column('keys', sa.JSON(), nullable=True),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', TZ, nullable=False),
    _fk('alert_contacts', 'user_id', 'users'),
    _fk('alert_contacts', 'unit_id', 'admin_units'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_contacts')))
    op.create_index('ix_alert_contacts_user_id', 'alert_contacts', ['user_id'])
    op.create_index('ix_alert_contacts_unit_id', 'alert_contacts', ['unit_id'])

    op.create_table('alert_deliveries',
    sa.Column('id', BigId, nullable=False),
    sa.Column('message_id', BigId, nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', TZ, nullable=False),
    sa.Column('lease_until', TZ, nullable=True),
    sa.Column('lease_owner', sa.String(length=80), nullable=True),
    sa.Column('batch_key', sa.String(length=120), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', TZ, nullable=False),
    sa.Column('delivered_at', TZ, nullable=True),
    sa.CheckConstraint("state IN ('pending','sending','delivered','failed')", name=op.f('ck_alert_deliveries_state')),
    _fk('alert_deliveries', 'message_id', 'alert_messages'),
    _fk('alert_deliveries', 'unit_id', 'admin_units'),
    _fk('alert_deliveries', 'user_id', 'users'),
    _fk('alert_deliveries', 'contact_id', 'alert_contacts'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('message_id', 'channel', 'target', name='uq_alert_deliveries_target'))
    op.create_index('ix_alert_deliveries_due', 'alert_deliveries', ['state', 'next_attempt_at'])
    op.create_index('ix_alert_deliveries_batch', 'alert_deliveries', ['batch_key', 'state'])
    op.create_index('ix_alert_deliveries_message_id', 'alert_deliveries', ['message_id'])
    op.create_index('ix_alert_deliveries_unit_id', 'alert_deliveries', ['unit_id'])
    op.create_index('ix_alert_deliveries_user_id', 'alert_deliveries', ['user_id'])

    op.create_table('alert_attempts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('delivery_id', BigId, nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('at', TZ, nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('worker', sa.String(length=80), nullable=True),
    _fk('alert_attempts', 'delivery_id', 'alert_deliveries'),
    _fk('alert_attempts', 'unit_id', 'admin_units'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_attempts')))
    op.create_index('ix_alert_attempts_delivery_id', 'alert_attempts', ['delivery_id'])

    op.create_table('alert_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=30), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', TZ, nullable=False),
    _fk('alert_subscriptions', 'unit_id', 'admin_units'),
    _fk('alert_subscriptions', 'user_id', 'users'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_subscriptions')))
    op.create_index('ix_alert_subscriptions_unit_id', 'alert_subscriptions', ['unit_id'])
    op.create_index('ix_alert_subscriptions_user_id', 'alert_subscriptions', ['user_id'])

    op.create_table('alert_preferences',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('quiet_start', sa.Integer(), nullable=True),
    sa.Column('quiet_end', sa.Integer(), nullable=True),
    sa.Column('digest_minutes', sa.Integer(), nullable=False),
    _fk('alert_preferences', 'user_id', 'users'),
    _fk('alert_preferences', 'unit_id', 'admin_units'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_alert_preferences')))
    op.create_index('ix_alert_preferences_unit_id', 'alert_preferences', ['unit_id'])

    op.create_table('alert_rota',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    _fk('alert_rota', 'commune_id', 'admin_units'),
    _fk('alert_rota', 'user_id', 'users'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rota')),
    sa.UniqueConstraint('commune_id', 'position', name='uq_alert_rota_position'))
    op.create_index('ix_alert_rota_commune_id', 'alert_rota', ['commune_id'])

    op.create_table('alert_commune_settings',
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('escalate_minutes', sa.Integer(), nullable=False),
    sa.Column('fault_deadlines', sa.JSON(), nullable=True),
    sa.Column('storage_quota_gb', sa.Float(), nullable=True),
    _fk('alert_commune_settings', 'commune_id', 'admin_units'),
    sa.PrimaryKeyConstraint('commune_id', name=op.f('pk_alert_commune_settings')))

    op.create_table('alert_watch',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('updated_at', TZ, nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_alert_watch')))

    for table, column in SCOPED:
        rls.enable(op, table, column)
        rls.replace_policy(op, table, column, rls.RANGES_PREDICATE)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE alert_watch ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE alert_watch FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY alert_watch_system_only ON alert_watch USING {rls.SYSTEM_ONLY_PREDICATE} "
                   f"WITH CHECK {rls.SYSTEM_ONLY_PREDICATE}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS alert_watch_system_only ON alert_watch")
    for table, _column in SCOPED:
        rls.disable(op, table)
    for table in ('alert_watch', 'alert_commune_settings', 'alert_rota', 'alert_preferences',
                  'alert_subscriptions', 'alert_attempts', 'alert_deliveries', 'alert_contacts',
                  'alert_messages', 'alert_alerts', 'alert_events'):
        op.drop_table(table)
