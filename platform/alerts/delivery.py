"""The delivery queue: rows of ``alert_deliveries`` claimed with FOR UPDATE SKIP LOCKED and a lease.

Why a PostgreSQL queue and not Redis Streams: the delivery rows are written in the dispatcher's
transaction with the message they carry, so there is no second store to keep in step with the
outbox; they are durable (this install's Redis Cluster keeps no AOF, and its replication is
asynchronous, so a failover may drop acknowledged stream entries); and the queue row is the
delivery log the pages show. A claim sets ``lease_until``: a worker killed mid-delivery leaves
its rows to be taken again when the lease runs out (at least once; receivers deduplicate on the
key). On SQLite (embedded, one process) the same statements run without the row locks.
"""
from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta, timezone

from flask import current_app, url_for
from sqlalchemy import or_, select, update

from ..clock import utc_now
from ..extensions import db
from ..tenants.models import User
from ..tenants.scope import system_scope
from . import acks
from .channels import DeliveryError, Item, Outgoing, make_channels
from .models import AlertAttempt, AlertContact, AlertDelivery, AlertMessage

log = logging.getLogger("camnet.alerts")


def aware(value):
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def backoff(attempts: int, config) -> float:
    """Seconds before the next try: base * 2^(attempts-1), capped, with +-20% jitter."""
    base, cap = config["ALERTS_RETRY_BASE_SECONDS"], config["ALERTS_RETRY_MAX_SECONDS"]
    return min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter


def claim(owner: str, limit: int, now: datetime | None = None) -> list[int]:
    """Take up to ``limit`` due deliveries (and the rest of their digest batches) for ``owner``."""
    cfg = current_app.config
    now = now or utc_now()
    lease = now + timedelta(seconds=cfg["ALERTS_LEASE_SECONDS"])
    d = AlertDelivery
    due = or_((d.state == "pending") & (d.next_attempt_at <= now),
              (d.state == "sending") & (d.lease_until < now))
    with system_scope():
        ids = list(db.session.execute(select(d.id, d.batch_key).where(due).order_by(d.next_attempt_at, d.id)
                                      .limit(limit).with_for_update(skip_locked=True)).all())
        if not ids:
            db.session.rollback()
            return []
        chosen = [i for i, _ in ids]
        batches = sorted({b for _, b in ids if b})
        if batches:
            more = db.session.execute(select(d.id).where(d.batch_key.in_(batches), d.state == "pending",
                                                         d.id.not_in(chosen)).with_for_update(skip_locked=True))
            chosen += list(more.scalars())
        db.session.execute(update(d).where(d.id.in_(chosen)).values(
            state="sending", lease_until=lease, lease_owner=owner, attempts=d.attempts + 1),
            execution_options={"synchronize_session": False})
        db.session.commit()
        return chosen


def deliver_due(owner: str, limit: int | None = None) -> int:
    """Claim, send and record one batch; returns the number of deliveries handled."""
    cfg = current_app.config
    ids = claim(owner, limit or cfg["ALERTS_BATCH"])
    if not ids:
        return 0
    channels = make_channels(cfg)
    try:
        with system_scope():
            rows = list(db.session.execute(select(AlertDelivery, AlertMessage, User, AlertContact)
                                           .join(AlertMessage, AlertMessage.id == AlertDelivery.message_id)
                                           .join(User, User.id == AlertDelivery.user_id)
                                           .outerjoin(AlertContact, AlertContact.id == AlertDelivery.contact_id)
                                           .where(AlertDelivery.id.in_(ids)).order_by(AlertDelivery.id)).all())
            units: dict[tuple, list] = {}
            for delivery, message, user, contact in rows:
                key = ("batch", delivery.batch_key) if delivery.batch_key else ("one", delivery.id)
                units.setdefault(key, []).append((delivery, message, user, contact))
            plans = [(group, _outgoing(group)) for group in units.values()]
            db.session.rollback()  # nothing is held open while the network is talked to
        results = []
        for group, out in plans:
            try:
                provider = channels[out.channel].send(out)
                results.append((group, None, provider))
            except DeliveryError as exc:
                results.append((group, exc, None))
            except Exception as exc:  # noqa: BLE001 - a bug in one channel must not lose the batch
                log.exception("alerts: %s delivery failed", out.channel)
                results.append((group, DeliveryError(f"{out.channel}: {type(exc).__name__}"), None))
    finally:
        channels["email"].close()
    record(results, owner)
    return len(ids)


def _outgoing(group) -> Outgoing:
    delivery, message, user, contact = group[0]
    items = []
    for _d, m, _u, _c in group:
        items.append(Item(key=m.key, kind=m.alert.kind, severity=m.alert.severity, title_vi=m.title_vi,
                          title_en=m.title_en, body_vi=m.body_vi, body_en=m.body_en,
                          link=absolute(m.link) if m.link else None,
                          ack_url=acks.ack_url(m) if m.alert.needs_ack and m.acked_at is None else None,
                          created_at=aware(m.created_at)))
    key = message.key if len(group) == 1 and not delivery.batch_key else _batch_key_id(delivery.batch_key)
    return Outgoing(key=key, channel=delivery.channel, target=delivery.target, recipient_name=user.full_name,
                    items=items, secret=contact.secret if contact else None, keys=contact.keys if contact else None)


def _batch_key_id(batch_key: str) -> str:
    import uuid

    return uuid.uuid5(uuid.NAMESPACE_URL, f"camnet:batch:{batch_key}").hex


def absolute(path: str) -> str:
    return current_app.config["ALERTS_BASE_URL"].rstrip("/") + path


def record(results, owner: str) -> None:
    """Write each outcome (only for rows this worker still holds) and release the peers of a
    channel that answered again, so a returning server gets its backlog at once."""
    cfg = current_app.config
    now = utc_now()
    give_up = timedelta(hours=cfg["ALERTS_GIVE_UP_HOURS"])
    recovered = set()
    with system_scope():
        for group, error, provider in results:
            for delivery, *_ in group:
                row = db.session.get(AlertDelivery, delivery.id)
                if row is None or row.lease_owner != owner or row.state != "sending":
                    continue  # the lease ran out and another worker took it
                row.lease_until, row.lease_owner = None, None
                if error is None:
                    row.state, row.delivered_at, row.last_error = "delivered", now, None
                    outcome, reason = "delivered", provider
                    recovered.add((row.channel, None if row.channel == "email" else row.target))
                elif error.permanent or now - aware(row.created_at) > give_up:
                    row.state, row.last_error = "failed", error.reason
                    outcome, reason = "failed", error.reason
                else:
                    row.state, row.last_error = "pending", error.reason
                    row.next_attempt_at = now + timedelta(seconds=backoff(row.attempts, cfg))
                    outcome, reason = "retry", error.reason
                db.session.add(AlertAttempt(delivery_id=row.id, unit_id=row.unit_id, at=now, outcome=outcome,
                                            reason=(reason or "")[:500], worker=owner[:80]))
        for channel, target in recovered:
            stmt = update(AlertDelivery).where(AlertDelivery.channel == channel, AlertDelivery.state == "pending",
                                               AlertDelivery.attempts > 0, AlertDelivery.batch_key.is_(None),
                                               AlertDelivery.next_attempt_at > now)
            if target is not None:
                stmt = stmt.where(AlertDelivery.target == target)
            db.session.execute(stmt.values(next_attempt_at=now), execution_options={"synchronize_session": False})
        db.session.commit()


def url_for_message(message_id: int) -> str:
    return url_for("alerts.alert_list", _anchor=f"m{message_id}")
