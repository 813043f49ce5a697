"""From the outbox to messages: group, find who may hear it, render it for them, queue deliveries.

One dispatcher runs at a time (a PostgreSQL advisory lock; SQLite has one writer anyway), so a
power cut's events are never split between two. Messages have a unique (alert, user) and a key
derived from both: a dispatcher that dies after writing and before committing leaves nothing,
and one that runs again cannot write a second copy.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import literal, select, text

from ..clock import VN_TZ, utc_now
from ..extensions import db
from ..tenants.models import AdminUnit, RoleGrant, User
from ..tenants.roles import scope_for_user
from ..tenants.scope import system_scope
from . import kinds as K
from .models import (Alert, AlertCommuneSettings, AlertContact, AlertDelivery, AlertEvent, AlertMessage,
                     AlertPreference, AlertSubscription)

DISPATCH_LOCK = 0x63616D16  # "cam" + issue 16: the advisory lock of the one dispatcher
EXTERNAL = ("email", "webhook", "push", "sms", "zalo")


def aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def message_key(alert_id: int, user_id: int) -> str:
    """The idempotency key of one alert to one person: the same whoever computes it, however often."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"camnet:alert:{alert_id}:{user_id}").hex


def channels_configured(config) -> set[str]:
    on = {"inapp", "webhook", "push"}
    if config.get("ALERTS_SMTP_HOST"):
        on.add("email")
    if config.get("ALERTS_SMS_URL"):
        on.add("sms")
    if config.get("ALERTS_ZALO_ACCESS_TOKEN"):
        on.add("zalo")
    return on


def dispatch_pending(now: datetime | None = None, limit: int = 2000) -> int:
    """Turn pending outbox events into alerts; returns how many events were settled."""
    now = now or utc_now()
    with system_scope():
        if db.session.get_bind().dialect.name == "postgresql":
            if not db.session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": DISPATCH_LOCK}).scalar():
                db.session.rollback()
                return 0
        events = list(db.session.execute(select(AlertEvent).where(AlertEvent.dispatched_at.is_(None))
                                         .order_by(AlertEvent.id).limit(limit)).scalars())
        if not events:
            db.session.rollback()
            return 0
        settled = 0
        fanout = FanOut(current_app.config, now)
        groups: dict[tuple, list] = {}
        for ev in events:
            if ev.kind in K.GROUPED:
                groups.setdefault((ev.kind, ev.unit_id), []).append(ev)
                continue
            kind = K.KINDS.get(ev.kind)
            if kind is None:  # an unknown kind (a newer release wrote it): settle, never loop on it
                ev.dispatched_at = now
                settled += 1
                continue
            alert = fanout.alert(ev.kind, ev.unit_id, dict(ev.payload or {}))
            ev.dispatched_at, ev.alert_id = now, alert.id
            settled += 1
        for (kind, unit_id), evs in groups.items():
            settled += _settle_group(fanout, kind, unit_id, evs, now)
        db.session.commit()
        return settled


def _settle_group(fanout: "FanOut", kind: str, unit_id: int, evs: list, now: datetime) -> int:
    """Camera offline/online events of one commune: one alert for many, individual ones for a few."""
    cfg = current_app.config
    group_kind = K.GROUPED[kind]
    group_key = f"{group_kind}:{unit_id}"
    hold_since = now - timedelta(seconds=cfg["ALERTS_GROUP_HOLD"])
    open_group = db.session.execute(select(Alert).where(Alert.group_key == group_key, Alert.created_at >= hold_since)
                                    .order_by(Alert.id.desc()).limit(1)).scalar_one_or_none()
    if open_group is not None:  # the outage goes on: fold in, tell nobody twice
        facts = dict(open_group.facts)
        facts["camera_codes"] = list(facts.get("camera_codes", [])) + [e.payload.get("camera_code") for e in evs]
        facts["count"] = len(facts["camera_codes"])
        open_group.facts, open_group.event_count = facts, facts["count"]
        for ev in evs:
            ev.dispatched_at, ev.alert_id = now, open_group.id
        return len(evs)
    first = min(aware(e.occurred_at) for e in evs)
    window = min(max(int(e.payload.get("interval") or 60) for e in evs), cfg["ALERTS_GROUP_WINDOW_MAX"])
    if now < first + timedelta(seconds=window):
        return 0  # still gathering: a power cut's cameras fail over one capture interval
    if len(evs) >= cfg["ALERTS_GROUP_MIN"]:
        facts = {"count": len(evs), "camera_codes": [e.payload.get("camera_code") for e in evs],
                 "camera_ids": [e.payload.get("camera_id") for e in evs], "at": evs[0].payload.get("at")}
        alert = fanout.alert(group_kind, unit_id, facts, group_key=group_key, event_count=len(evs))
        for ev in evs:
            ev.dispatched_at, ev.alert_id = now, alert.id
        return len(evs)
    for ev in evs:
        alert = fanout.alert(kind, unit_id, dict(ev.payload or {}))
        ev.dispatched_at, ev.alert_id = now, alert.id
    return len(evs)


class FanOut:
    """Creates alerts and, per recipient, the message and its deliveries (caller holds system scope)."""

    def __init__(self, config, now: datetime):
        self.config = config
        self.now = now
        self.on = channels_configured(config)
        self.scopes: dict[int, object] = {}
        self.units: dict[int, AdminUnit] = {}

    def unit(self, unit_id: int) -> AdminUnit:
        if unit_id not in self.units:
            self.units[unit_id] = db.session.get(AdminUnit, unit_id)
        return self.units[unit_id]

    def scope(self, user: User):
        if user.id not in self.scopes:
            self.scopes[user.id] = scope_for_user(user)
        return self.scopes[user.id]

    def alert(self, kind: str, unit_id: int, facts: dict, group_key: str | None = None,
              event_count: int = 1) -> Alert:
        k = K.KINDS[kind]
        unit = self.unit(unit_id)
        facts = {**facts, "commune_name": unit.name if unit is not None else ""}
        alert = Alert(kind=kind, unit_id=unit_id, severity=k.severity, facts=facts, event_count=event_count,
                      group_key=group_key, created_at=self.now, needs_ack=k.needs_ack)
        if k.needs_ack and unit is not None and unit.is_commune:
            alert.escalate_at = self.now + timedelta(minutes=escalate_minutes(unit_id, self.config))
        db.session.add(alert)
        db.session.flush()
        for user, owner, channels in self.recipients(alert, facts):
            self.message(alert, user, owner, channels)
        return alert

    # ---- who hears it -------------------------------------------------------------------
    def recipients(self, alert: Alert, facts: dict):
        """(user, as owner?, channels) for everyone subscribed who may see the event's unit."""
        k = K.KINDS[alert.kind]
        unit = self.unit(alert.unit_id)
        if unit is None:
            return []
        rows = db.session.execute(
            select(User, RoleGrant.role).join(RoleGrant, RoleGrant.user_id == User.id)
            .join(AdminUnit, AdminUnit.id == RoleGrant.unit_id)
            .where(User.active.is_(True), literal(unit.path).startswith(AdminUnit.path))).all()
        roles: dict[int, set] = {}
        users: dict[int, User] = {}
        for user, role in rows:
            users[user.id] = user
            roles.setdefault(user.id, set()).add(role)
        owners = self.owners(alert, facts, unit)
        for user in owners:
            users.setdefault(user.id, user)
        subs = subscriptions_for(list(users), unit)
        out = []
        for uid, user in users.items():
            scope = self.scope(user)
            is_owner = uid in {o.id for o in owners}
            if is_owner:
                allowed = scope.can(k.owner_perm, alert.unit_id)
            else:
                allowed = scope.can(k.perm, alert.unit_id)
            if not allowed:
                continue  # the wall: nobody hears of a unit, or a kind of data, they may not see
            channels = choose_channels(subs.get(uid, []), roles.get(uid, set()), alert.kind, k, is_owner)
            if channels is not None:
                out.append((user, is_owner and not scope.can(k.perm, alert.unit_id), channels))
        return out

    def owners(self, alert: Alert, facts: dict, unit: AdminUnit) -> list[User]:
        if alert.kind == "export.ready" and facts.get("owner_user_ids"):
            return list(db.session.execute(select(User).where(User.id.in_(facts["owner_user_ids"]),
                                                              User.active.is_(True))).scalars())
        if alert.kind == "pledge.overdue" and facts.get("sponsor_id"):
            return list(db.session.execute(select(User).where(User.sponsor_id == facts["sponsor_id"],
                                                              User.active.is_(True))).scalars())
        if alert.kind == "share.overdue" and facts.get("household_ref"):
            return list(db.session.execute(select(User).where(User.household_ref == facts["household_ref"],
                                                              User.unit_id == unit.id,
                                                              User.active.is_(True))).scalars())
        return []

    # ---- what they get ------------------------------------------------------------------
    def message(self, alert: Alert, user: User, owner: bool, channels: list[str], escalated: bool = False):
        scope = self.scope(user)
        text_ = K.render(alert.kind, alert.facts, scope, alert.unit_id, owner=owner)
        if escalated:
            text_["title_vi"] = "Chuyển tiếp: " + text_["title_vi"]
            text_["title_en"] = "Escalated: " + text_["title_en"]
        msg = AlertMessage(alert_id=alert.id, user_id=user.id, unit_id=alert.unit_id,
                           key=message_key(alert.id, user.id), created_at=self.now, escalated=escalated, **text_)
        db.session.add(msg)
        db.session.flush()
        pref = db.session.get(AlertPreference, user.id)
        urgent = escalated or alert.severity == "critical"
        for channel, target, contact_id in self.targets(user, channels):
            delivery = AlertDelivery(message_id=msg.id, unit_id=alert.unit_id, user_id=user.id, channel=channel,
                                     target=target[:500], contact_id=contact_id, state="pending",
                                     next_attempt_at=self.now, created_at=self.now)
            if pref is not None and not urgent:
                hold = held_until(pref, self.now)
                if hold is not None:
                    delivery.next_attempt_at = hold
                    delivery.batch_key = f"quiet:{user.id}:{channel}:{target[:40]}:{hold.isoformat()}"
                elif pref.digest_minutes:
                    start, end = digest_window(pref.digest_minutes, self.now)
                    delivery.next_attempt_at = end
                    delivery.batch_key = f"digest:{user.id}:{channel}:{target[:40]}:{start.isoformat()}"
            db.session.add(delivery)
        return msg

    def targets(self, user: User, channels: list[str]):
        wanted = [c for c in channels if c in EXTERNAL and c in self.on]
        if "email" in wanted and user.email:
            yield "email", user.email, None
        others = [c for c in wanted if c != "email"]
        if others:
            for contact in db.session.execute(select(AlertContact).where(
                    AlertContact.user_id == user.id, AlertContact.active.is_(True),
                    AlertContact.channel.in_(others))).scalars():
                yield contact.channel, contact.address, contact.id


def subscriptions_for(user_ids: list[int], unit: AdminUnit) -> dict[int, list]:
    """Per user id: their own rows and the role rows of the units above the event (user id 0)."""
    rows = db.session.execute(select(AlertSubscription, AdminUnit.path)
                              .join(AdminUnit, AdminUnit.id == AlertSubscription.unit_id)
                              .where(literal(unit.path).startswith(AdminUnit.path))).all()
    out: dict[int, list] = {}
    role_rows = [s for s, _ in rows if s.user_id is None]
    own = db.session.execute(select(AlertSubscription).where(AlertSubscription.user_id.in_(user_ids))).scalars() \
        if user_ids else []
    for s in own:
        out.setdefault(s.user_id, []).append(s)
    for uid in user_ids:
        out.setdefault(uid, []).extend(role_rows)
    return out


def choose_channels(subs: list, roles: set, kind: str, k: K.Kind, owner: bool) -> list[str] | None:
    """A user's own row for the kind (then for ``*``) wins; else their roles' rows; else the defaults."""
    for wanted in (kind, "*"):
        mine = [s for s in subs if s.user_id is not None and s.kind == wanted]
        if mine:
            return list(mine[0].channels or []) + ["inapp"] if mine[0].enabled else None
    role_rows = [s for s in subs if s.user_id is None and s.role in roles and s.kind in (kind, "*")]
    if role_rows:
        enabled = [s for s in role_rows if s.enabled]
        if not enabled:
            return None
        return sorted({c for s in enabled for c in (s.channels or [])} | {"inapp"})
    if owner or roles & set(k.roles):
        return ["inapp", *EXTERNAL]
    return None


def escalate_minutes(unit_id: int, config) -> int:
    row = db.session.get(AlertCommuneSettings, unit_id)
    return row.escalate_minutes if row is not None else config["ALERTS_ESCALATE_MINUTES"]


def _vn_minutes(now: datetime) -> int:
    local = now.astimezone(VN_TZ)
    return local.hour * 60 + local.minute


def held_until(pref: AlertPreference, now: datetime) -> datetime | None:
    """The end of the quiet hours when ``now`` falls inside them (Vietnam time), else None."""
    if pref.quiet_start is None or pref.quiet_end is None or pref.quiet_start == pref.quiet_end:
        return None
    m = _vn_minutes(now)
    start, end = pref.quiet_start, pref.quiet_end
    inside = start <= m < end if start < end else (m >= start or m < end)
    if not inside:
        return None
    local = now.astimezone(VN_TZ).replace(second=0, microsecond=0)
    wait = (end - m) % 1440
    return (local + timedelta(minutes=wait)).astimezone(timezone.utc)


def digest_window(minutes: int, now: datetime) -> tuple[datetime, datetime]:
    """The digest period holding ``now``: periods start at Vietnam midnight and last ``minutes``."""
    local = now.astimezone(VN_TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    index = int((local - midnight).total_seconds() // (minutes * 60))
    start = midnight + timedelta(minutes=index * minutes)
    return start.astimezone(timezone.utc), (start + timedelta(minutes=minutes)).astimezone(timezone.utc)
