"""Alerts: the outbox of events, alerts and the message each recipient gets, deliveries per channel
with their attempts, subscriptions, contacts, preferences, the commune's rota and its settings."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utc_now
from ..extensions import db
from ..tenants.models import UTCDateTime
from ..tenants.scope import Scoped

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")
CHANNELS = ("inapp", "email", "webhook", "push", "sms", "zalo")
DELIVERY_STATES = ("pending", "sending", "delivered", "failed")


class AlertEvent(Scoped, db.Model):
    """Hộp thư đi (outbox): one thing that happened, written in the transaction that made it happen.

    ``unit_id`` is the commune of the event (the root unit for platform events such as a lost
    capture worker). The dispatcher turns events into alerts and marks them ``dispatched_at``."""

    __tablename__ = "alert_events"
    __scope_column__ = "unit_id"
    __table_args__ = (sa.Index("ix_alert_events_pending", "dispatched_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    subject_type: Mapped[str | None] = mapped_column(sa.String(30))
    subject_id: Mapped[str | None] = mapped_column(sa.String(80))
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alert_id: Mapped[int | None] = mapped_column(BigId)


class Alert(Scoped, db.Model):
    """Cảnh báo: what recipients are told, from one event or a group of them (a power cut)."""

    __tablename__ = "alert_alerts"
    __scope_column__ = "unit_id"
    __table_args__ = (sa.Index("ix_alert_alerts_group", "group_key", "created_at"),
                      sa.Index("ix_alert_alerts_escalate", "acked_at", "escalate_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    severity: Mapped[str] = mapped_column(sa.String(10), default="info")  # info | warning | critical
    facts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    event_count: Mapped[int] = mapped_column(default=1)
    group_key: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    needs_ack: Mapped[bool] = mapped_column(default=False)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    escalation_step: Mapped[int] = mapped_column(default=0)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertMessage(Scoped, db.Model):
    """Thông báo: one alert as one recipient sees it (the in-app list), rendered for their scope.

    ``key`` is the idempotency key every channel carries (webhook-id, Message-ID, push id)."""

    __tablename__ = "alert_messages"
    __scope_column__ = "unit_id"
    __table_args__ = (sa.UniqueConstraint("alert_id", "user_id", name="uq_alert_messages_alert_user"),
                      sa.Index("ix_alert_messages_user_read", "user_id", "read_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("alert_alerts.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    title_vi: Mapped[str] = mapped_column(sa.String(300))
    title_en: Mapped[str] = mapped_column(sa.String(300))
    body_vi: Mapped[str] = mapped_column(sa.Text, default="")
    body_en: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str | None] = mapped_column(sa.String(300))
    escalated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    alert = relationship(Alert, lazy="joined")


class AlertDelivery(Scoped, db.Model):
    """Gửi đi: one message on one channel to one address: the queue row and the delivery log."""

    __tablename__ = "alert_deliveries"
    __scope_column__ = "unit_id"
    __table_args__ = (sa.UniqueConstraint("message_id", "channel", "target", name="uq_alert_deliveries_target"),
                      sa.Index("ix_alert_deliveries_due", "state", "next_attempt_at"),
                      sa.Index("ix_alert_deliveries_batch", "batch_key", "state"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("alert_messages.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(12))
    target: Mapped[str] = mapped_column(sa.String(500))  # address, URL or endpoint (what the log shows)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("alert_contacts.id"))
    state: Mapped[str] = mapped_column(sa.String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(80))
    batch_key: Mapped[str | None] = mapped_column(sa.String(120))  # digest or quiet hours: sent as one
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    message = relationship(AlertMessage)


class AlertAttempt(Scoped, db.Model):
    """One try of a delivery: delivered, retry (with the reason) or failed for good."""

    __tablename__ = "alert_attempts"
    __scope_column__ = "unit_id"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("alert_deliveries.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    outcome: Mapped[str] = mapped_column(sa.String(10))  # delivered | retry | failed
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    worker: Mapped[str | None] = mapped_column(sa.String(80))


class AlertSubscription(Scoped, db.Model):
    """Đăng ký: a user's (``user_id``) or a role's (``role``, at ``unit_id`` and below) choice of
    channels for one kind of event (``*``: every kind). A user's row wins over their role's."""

    __tablename__ = "alert_subscriptions"
    __scope_column__ = "unit_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    role: Mapped[str | None] = mapped_column(sa.String(30))
    kind: Mapped[str] = mapped_column(sa.String(40))
    channels: Mapped[list] = mapped_column(sa.JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class AlertContact(Scoped, db.Model):
    """Where a user is reached beyond the app: a webhook (with its whsec_ secret), a browser's push
    subscription, a phone for SMS, a Zalo follower id. E-mail is the account's own address."""

    __tablename__ = "alert_contacts"
    __scope_column__ = "unit_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(12))
    address: Mapped[str] = mapped_column(sa.String(1000))
    secret: Mapped[str | None] = mapped_column(sa.String(200))
    keys: Mapped[dict | None] = mapped_column(sa.JSON)  # push: {p256dh, auth}
    label: Mapped[str | None] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class AlertPreference(Scoped, db.Model):
    """Giờ yên lặng và bản tin: quiet hours (minutes after midnight, Vietnam time) and a digest period."""

    __tablename__ = "alert_preferences"
    __scope_column__ = "unit_id"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    quiet_start: Mapped[int | None] = mapped_column()
    quiet_end: Mapped[int | None] = mapped_column()
    digest_minutes: Mapped[int] = mapped_column(default=0)


class AlertRota(Scoped, db.Model):
    """Lịch trực: who is next when nobody acknowledges an alert of the commune in time."""

    __tablename__ = "alert_rota"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("commune_id", "position", name="uq_alert_rota_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    position: Mapped[int] = mapped_column()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    user = relationship("User", lazy="joined")


class AlertCommuneSettings(Scoped, db.Model):
    """Per commune: minutes before escalation, hours a fault of each kind may stay open, storage quota."""

    __tablename__ = "alert_commune_settings"
    __scope_column__ = "commune_id"

    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), primary_key=True)
    escalate_minutes: Mapped[int] = mapped_column(default=15)
    fault_deadlines: Mapped[dict | None] = mapped_column(sa.JSON)  # rule -> hours
    storage_quota_gb: Mapped[float | None] = mapped_column(sa.Float)


class AlertWatch(db.Model):
    """What the periodic checker already reported (a lost worker, an overdue pledge), so it reports once.
    Not ``Scoped``: only the platform's checker reads it (system scope; PostgreSQL admits nobody else)."""

    __tablename__ = "alert_watch"

    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    value: Mapped[dict | None] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
