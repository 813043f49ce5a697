"""What the pages do: a person's alerts, unread count, read and acknowledge; their subscriptions,
quiet hours, digest and contacts; a commune's rota and settings; repair times per month."""
from __future__ import annotations

import math
import re
from datetime import timezone

from sqlalchemy import delete, func, select

from ..clock import VN_TZ, utc_now
from ..errors import NotFoundError, ValidationFailed
from ..extensions import db
from ..streams.models import FaultTicket
from ..tenants import access
from ..tenants.models import AdminUnit, User
from ..tenants.roles import scope_for_user
from ..tenants.scope import current_scope, system_scope
from . import acks
from . import kinds as K
from .channels import DeliveryError, check_address, new_webhook_secret
from .models import (CHANNELS, AlertAttempt, AlertCommuneSettings, AlertContact, AlertDelivery, AlertMessage,
                     AlertPreference, AlertRota, AlertSubscription)


def _me() -> int:
    uid = current_scope().user_id
    if uid is None:
        raise NotFoundError()
    return uid


# ---- the in-app list -----------------------------------------------------------------------

def my_messages(limit: int = 100, unread_only: bool = False) -> list[AlertMessage]:
    stmt = (select(AlertMessage).where(AlertMessage.user_id == _me())
            .order_by(AlertMessage.created_at.desc(), AlertMessage.id.desc()).limit(limit))
    if unread_only:
        stmt = stmt.where(AlertMessage.read_at.is_(None))
    return list(db.session.execute(stmt).scalars())


def unread_count() -> int:
    uid = current_scope().user_id
    if uid is None:
        return 0
    return db.session.execute(select(func.count()).select_from(AlertMessage).where(
        AlertMessage.user_id == uid, AlertMessage.read_at.is_(None))).scalar() or 0


def my_message(message_id: int) -> AlertMessage:
    """One of my messages; anyone else's (or one outside my scope now) does not exist."""
    message = db.session.execute(select(AlertMessage).where(AlertMessage.id == message_id,
                                                            AlertMessage.user_id == _me())).scalar_one_or_none()
    if message is None:
        raise NotFoundError()
    return message


def mark_read(message_id: int | None = None) -> int:
    now = utc_now()
    rows = [my_message(message_id)] if message_id is not None else my_messages(1000, unread_only=True)
    for m in rows:
        m.read_at = m.read_at or now
    db.session.commit()
    return len(rows)


def ack_in_app(message_id: int) -> AlertMessage:
    message = my_message(message_id)
    acks.acknowledge(message, _me(), "app")
    db.session.commit()
    return message


def delivery_log(message_id: int) -> list[dict]:
    message = my_message(message_id)
    out = []
    for d in db.session.execute(select(AlertDelivery).where(AlertDelivery.message_id == message.id)
                                .order_by(AlertDelivery.id)).scalars():
        attempts = db.session.execute(select(AlertAttempt).where(AlertAttempt.delivery_id == d.id)
                                      .order_by(AlertAttempt.id)).scalars().all()
        out.append({"channel": d.channel, "target": _mask(d.channel, d.target), "state": d.state,
                    "attempts": d.attempts, "last_error": d.last_error,
                    "delivered_at": K.iso(d.delivered_at) if d.delivered_at else None,
                    "log": [{"at": K.iso(a.at), "outcome": a.outcome, "reason": a.reason} for a in attempts]})
    return out


def _mask(channel: str, target: str) -> str:
    if channel == "push":
        return target.split("?")[0][:40] + "…"
    return target


# ---- subscriptions, preferences, contacts ------------------------------------------------

def settings_for_me() -> dict:
    uid = _me()
    with system_scope():
        user = db.session.get(User, uid)
    subs = {s.kind: s for s in db.session.execute(select(AlertSubscription).where(
        AlertSubscription.user_id == uid)).scalars()}
    kinds = [k for k in K.KINDS.values() if access.may(k.perm) or (k.owner_perm and access.may(k.owner_perm))]
    pref = db.session.get(AlertPreference, uid)
    contacts = list(db.session.execute(select(AlertContact).where(AlertContact.user_id == uid,
                                                                  AlertContact.active.is_(True))).scalars())
    return {"user": user, "kinds": kinds, "subs": subs, "pref": pref, "contacts": contacts}


def _minutes(value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not m:
        raise ValidationFailed(f"{field}: giờ dạng HH:MM / a time as HH:MM", field=field)
    return int(m.group(1)) * 60 + int(m.group(2))


def save_preferences(form) -> AlertPreference:
    uid = _me()
    start, end = _minutes(form.get("quiet_start"), "quiet_start"), _minutes(form.get("quiet_end"), "quiet_end")
    if (start is None) != (end is None):
        raise ValidationFailed("quiet_end: cần cả giờ bắt đầu và kết thúc / both ends of the quiet hours", field="quiet_end")
    try:
        digest = int(form.get("digest_minutes") or 0)
    except ValueError:
        raise ValidationFailed("digest_minutes: phải là số phút / must be a number of minutes", field="digest_minutes")
    if digest not in (0, 15, 30, 60, 120, 240, 1440):
        raise ValidationFailed("digest_minutes: 0, 15, 30, 60, 120, 240 hoặc 1440", field="digest_minutes")
    with system_scope():
        home = db.session.get(User, uid).unit_id
    pref = db.session.get(AlertPreference, uid) or AlertPreference(user_id=uid, unit_id=home)
    pref.quiet_start, pref.quiet_end, pref.digest_minutes = start, end, digest
    db.session.add(pref)
    db.session.commit()
    return pref


def save_subscription(kind: str, enabled: bool, channels: list[str]) -> AlertSubscription:
    uid = _me()
    k = K.KINDS.get(kind)
    if k is None or not (access.may(k.perm) or (k.owner_perm and access.may(k.owner_perm))):
        raise ValidationFailed("kind: loại cảnh báo không hợp lệ / unknown kind of alert", field="kind")
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        raise ValidationFailed(f"channels: kênh không hợp lệ / unknown channel {bad[0]!r}", field="channels")
    with system_scope():
        home = db.session.get(User, uid).unit_id
    sub = db.session.execute(select(AlertSubscription).where(AlertSubscription.user_id == uid,
                                                             AlertSubscription.kind == kind)).scalar_one_or_none()
    if sub is None:
        sub = AlertSubscription(user_id=uid, unit_id=home, kind=kind)
        db.session.add(sub)
    sub.enabled, sub.channels = enabled, sorted(set(channels))
    db.session.commit()
    return sub


def add_contact(channel: str, address: str, keys: dict | None = None, label: str | None = None,
                allowed: list[str] | None = None) -> tuple[AlertContact, str | None]:
    """A new contact; a webhook gets its secret here, shown once."""
    uid = _me()
    address = (address or "").strip()
    if channel not in ("webhook", "push", "sms", "zalo"):
        raise ValidationFailed("channel: webhook, push, sms hoặc zalo", field="channel")
    if not address or len(address) > 1000:
        raise ValidationFailed("address: bắt buộc, tối đa 1000 ký tự / required, at most 1000 characters",
                               field="address")
    secret = None
    if channel in ("webhook", "push"):
        try:
            check_address(address, allowed or [], resolve=False)
        except DeliveryError as exc:
            raise ValidationFailed(exc.reason, field="address")
        if channel == "push" and not (keys and keys.get("p256dh") and keys.get("auth")):
            raise ValidationFailed("keys: đăng ký push thiếu khóa / the push subscription has no keys", field="keys")
    if channel == "webhook":
        secret = new_webhook_secret()
    if channel == "sms" and not re.fullmatch(r"\+?\d{9,15}", address):
        raise ValidationFailed("address: số điện thoại 9-15 chữ số / a phone number of 9-15 digits", field="address")
    with system_scope():
        home = db.session.get(User, uid).unit_id
    contact = AlertContact(user_id=uid, unit_id=home, channel=channel, address=address, secret=secret,
                           keys={"p256dh": keys["p256dh"], "auth": keys["auth"]} if channel == "push" else None,
                           label=(label or "")[:100] or None)
    db.session.add(contact)
    db.session.commit()
    return contact, secret


def remove_contact(contact_id: int) -> None:
    contact = db.session.execute(select(AlertContact).where(AlertContact.id == contact_id,
                                                            AlertContact.user_id == _me())).scalar_one_or_none()
    if contact is None:
        raise NotFoundError()
    contact.active = False
    db.session.commit()


# ---- the rota and commune settings -------------------------------------------------------

def rota(commune_id: int) -> tuple[AdminUnit, list[AlertRota], AlertCommuneSettings | None, list[User]]:
    access.require("faults.read")
    unit = access.get_commune(commune_id, "faults.read")
    rows = list(db.session.execute(select(AlertRota).where(AlertRota.commune_id == unit.id)
                                   .order_by(AlertRota.position)).scalars())
    settings = db.session.get(AlertCommuneSettings, unit.id)
    candidates = []
    if access.may("users.manage", unit.id):
        candidates = [u for u in db.session.execute(select(User).where(User.active.is_(True))
                                                    .order_by(User.username)).scalars()
                      if scope_for_user(u).can("faults.read", unit.id)]
    return unit, rows, settings, candidates


def save_rota(commune_id: int, usernames: list[str], escalate_minutes: int | None,
              deadlines: dict | None = None) -> list[AlertRota]:
    """Replace the commune's rota (users.manage there). Everyone on it must see the commune's faults."""
    access.require("users.manage")
    unit = access.get_commune(commune_id, "users.manage")
    users = []
    for i, name in enumerate(n.strip() for n in usernames if n.strip()):
        with system_scope():
            user = db.session.execute(select(User).where(User.username == name)).scalar_one_or_none()
        if user is None or not scope_for_user(user).can("faults.read", unit.id):
            raise ValidationFailed(f"rota[{i}]: {name!r} không xem được sự cố của xã / cannot see this "
                                   "commune's faults", field=f"rota[{i}]")
        users.append(user)
    if escalate_minutes is not None and not 1 <= escalate_minutes <= 1440:
        raise ValidationFailed("escalate_minutes: 1-1440", field="escalate_minutes")
    db.session.execute(delete(AlertRota).where(AlertRota.commune_id == unit.id))
    rows = [AlertRota(commune_id=unit.id, position=i, user_id=u.id) for i, u in enumerate(users)]
    db.session.add_all(rows)
    settings = db.session.get(AlertCommuneSettings, unit.id) or AlertCommuneSettings(commune_id=unit.id)
    if escalate_minutes is not None:
        settings.escalate_minutes = escalate_minutes
    if deadlines is not None:
        settings.fault_deadlines = deadlines
    db.session.add(settings)
    db.session.commit()
    return rows


# ---- repair times ------------------------------------------------------------------------

def repair_times(commune_id: int, months: int = 12) -> tuple[AdminUnit, list[dict]]:
    """Per month (Vietnam time, by the month the fault was fixed): count, mean and 90th percentile
    of the hours from a fault ticket's opening to its closing."""
    access.require("faults.read")
    unit = access.get_commune(commune_id, "faults.read")
    rows = db.session.execute(select(FaultTicket.opened_at, FaultTicket.closed_at).where(
        FaultTicket.commune_id == unit.id, FaultTicket.status == "closed", FaultTicket.closed_at.is_not(None))).all()
    per: dict[str, list[float]] = {}
    for opened, closed in rows:
        opened = opened.replace(tzinfo=timezone.utc) if opened.tzinfo is None else opened
        closed = closed.replace(tzinfo=timezone.utc) if closed.tzinfo is None else closed
        month = closed.astimezone(VN_TZ).strftime("%Y-%m")
        per.setdefault(month, []).append(max(0.0, (closed - opened).total_seconds() / 3600))
    out = []
    for month in sorted(per)[-months:]:
        hours = sorted(per[month])
        out.append({"month": month, "count": len(hours), "mean_hours": round(sum(hours) / len(hours), 2),
                    "p90_hours": round(percentile(hours, 0.9), 2)})
    return unit, out


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (the value a tenth of the repairs took longer than, for q=0.9)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]
