"""The periodic checker (``camnet alerts check``, and a round of every worker loop): events that no
row change marks. A lost capture worker (its heartbeat gone from the coordination store), faults open
past their deadline, pledges and household shares overdue, storage near its quota, a broken ledger
chain; and escalation of alerts nobody acknowledged. ``alert_watch`` remembers what was reported."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..billing_socialization import ledger
from ..billing_socialization.models import HouseholdShare, JournalTransaction, Pledge, ShareCampaign, Sponsor
from ..clock import VN_TZ, utc_now
from ..extensions import db
from ..streams.models import Camera, FaultTicket
from ..capture.settings import WorkerSettings
from ..tenants.models import AdminUnit, User
from ..tenants.roles import scope_for_user
from ..tenants.scope import system_scope
from ..video.segments import storage_used
from . import kinds as K
from .dispatch import FanOut, aware, escalate_minutes
from .models import Alert, AlertCommuneSettings, AlertEvent, AlertMessage, AlertRota, AlertWatch

log = logging.getLogger("camnet.alerts")


def _watch(key: str) -> AlertWatch | None:
    return db.session.get(AlertWatch, key)


def _remember(key: str, value: dict | None = None) -> None:
    row = _watch(key)
    if row is None:
        db.session.add(AlertWatch(key=key, value=value, updated_at=utc_now()))
    else:
        row.value, row.updated_at = value, utc_now()


def _event(kind: str, unit_id: int, subject_type: str, subject_id, payload: dict) -> None:
    now = utc_now()
    db.session.add(AlertEvent(kind=kind, unit_id=unit_id, subject_type=subject_type, subject_id=str(subject_id),
                              payload={**payload, "at": now.isoformat()}, occurred_at=now))


def run_all(now: datetime | None = None) -> dict:
    """One round of every check (system scope, one commit per check); returns counts."""
    now = now or utc_now()
    counts = {}
    for name, check in (("workers", check_workers), ("faults", check_fault_deadlines), ("pledges", check_pledges),
                        ("shares", check_shares), ("quota", check_quota), ("ledger", check_ledger),
                        ("escalations", escalate)):
        with system_scope():
            try:
                counts[name] = check(now)
                db.session.commit()
            except Exception:  # noqa: BLE001 - one failing check must not stop the others
                db.session.rollback()
                log.exception("alerts check %s failed", name)
                counts[name] = -1
    return counts


def _roots() -> list[int]:
    return list(db.session.execute(select(AdminUnit.id).where(AdminUnit.parent_id.is_(None))).scalars())


def check_workers(now: datetime) -> int:
    """Capture workers heartbeat into the ``capture:workers`` sorted set (``capture.sharding``); one
    that was alive and is no longer is lost. Embedded: the one worker's heartbeat file grows old."""
    coord = current_app.extensions["camnet.coord"]
    dead_after = WorkerSettings.from_config(current_app.config).dead_after
    client = getattr(coord, "client", None)
    if client is not None:
        cutoff = time.time() - dead_after
        live = {(m.decode() if isinstance(m, bytes) else m)
                for m in client.zrangebyscore(coord.k("capture:workers"), cutoff, "+inf")}
    else:
        beat = Path(current_app.config["INSTANCE_DIR"], "worker.heartbeat")
        if not beat.exists():
            return 0
        live = {"embedded"} if time.time() - beat.stat().st_mtime < max(dead_after, 60) else set()
    watch = _watch("capture:workers")
    known = set((watch.value or {}).get("live", [])) if watch else set()
    lost = sorted(known - live)
    for name in lost:
        for root in _roots():
            _event("worker.lost", root, "worker", name, {"worker": name, "live": len(live)})
    if lost or live != known:
        _remember("capture:workers", {"live": sorted(live)})
    return len(lost)


def deadline_hours(settings: AlertCommuneSettings | None, rule: str, default: int) -> int:
    if settings is not None and settings.fault_deadlines:
        value = settings.fault_deadlines.get(rule, settings.fault_deadlines.get("*"))
        if value:
            return int(value)
    return default


def check_fault_deadlines(now: datetime) -> int:
    default = current_app.config["ALERTS_FAULT_DEADLINE_HOURS"]
    settings = {s.commune_id: s for s in db.session.execute(select(AlertCommuneSettings)).scalars()}
    shortest = min([default] + [int(v) for s in settings.values() for v in (s.fault_deadlines or {}).values() if v])
    rows = db.session.execute(select(FaultTicket, Camera.code, Camera.name).join(Camera, Camera.id == FaultTicket.camera_id)
                              .where(FaultTicket.status == "open",
                                     FaultTicket.opened_at <= now - timedelta(hours=shortest))).all()
    fired = 0
    for ticket, code, name in rows:
        hours = deadline_hours(settings.get(ticket.commune_id), ticket.rule, default)
        if aware(ticket.opened_at) > now - timedelta(hours=hours):
            continue
        key = f"fault-overdue:{ticket.id}"
        if _watch(key) is not None:
            continue
        _event("fault.overdue", ticket.commune_id, "fault_ticket", ticket.id,
               {"ticket_id": ticket.id, "rule": ticket.rule, "camera_id": ticket.camera_id, "camera_code": code,
                "camera_name": name, "opened_at": aware(ticket.opened_at).isoformat(), "deadline_hours": hours})
        _remember(key)
        fired += 1
    return fired


def _today_vn(now: datetime):
    return now.astimezone(VN_TZ).date()


def check_pledges(now: datetime) -> int:
    rows = db.session.execute(select(Pledge, Sponsor.name).join(Sponsor, Sponsor.id == Pledge.sponsor_id)
                              .where(Pledge.status == "open", Pledge.due_date < _today_vn(now),
                                     Pledge.paid < Pledge.amount)).all()
    fired = 0
    for pledge, sponsor_name in rows:
        key = f"pledge-overdue:{pledge.id}"
        if _watch(key) is not None:
            continue
        _event("pledge.overdue", pledge.commune_id, "pledge", pledge.id,
               {"pledge_id": pledge.id, "sponsor_id": pledge.sponsor_id, "sponsor_name": sponsor_name,
                "amount": pledge.amount, "paid": pledge.paid, "due_date": pledge.due_date.isoformat()})
        _remember(key)
        fired += 1
    return fired


def check_shares(now: datetime) -> int:
    rows = db.session.execute(select(HouseholdShare, ShareCampaign.name, ShareCampaign.due_date)
                              .join(ShareCampaign, ShareCampaign.id == HouseholdShare.campaign_id)
                              .where(ShareCampaign.due_date < _today_vn(now),
                                     HouseholdShare.paid < HouseholdShare.amount_due)).all()
    fired = 0
    for share, campaign, due in rows:
        key = f"share-overdue:{share.id}"
        if _watch(key) is not None:
            continue
        _event("share.overdue", share.commune_id, "household_share", share.id,
               {"share_id": share.id, "household_ref": share.household_ref, "campaign": campaign,
                "amount_due": share.amount_due, "paid": share.paid, "due_date": due.isoformat()})
        _remember(key)
        fired += 1
    return fired


def check_quota(now: datetime) -> int:
    cfg = current_app.config
    default = cfg["ALERTS_STORAGE_QUOTA_GB"]
    quotas = {s.commune_id: s.storage_quota_gb for s in db.session.execute(select(AlertCommuneSettings)).scalars()
              if s.storage_quota_gb}
    if default:
        for cid in db.session.execute(select(AdminUnit.id).where(AdminUnit.is_commune.is_(True))).scalars():
            quotas.setdefault(cid, default)
    fired = 0
    for commune_id, quota_gb in quotas.items():
        used = storage_used(commune_id)  # snapshots, clips and recorded video
        percent = int(100 * used / (quota_gb * 1024 ** 3))
        key = f"quota:{commune_id}"
        warned = _watch(key)
        if percent >= cfg["ALERTS_QUOTA_WARN_PERCENT"]:
            if warned is None:
                _event("storage.quota", commune_id, "commune", commune_id,
                       {"percent": percent, "quota_gb": quota_gb, "used_bytes": int(used)})
                _remember(key, {"percent": percent})
                fired += 1
        elif warned is not None:
            db.session.delete(warned)  # back under: the next crossing warns again
    return fired


def quota_gb(commune_id: int) -> float | None:
    """A commune's storage quota in GB: its own setting, else ALERTS_STORAGE_QUOTA_GB (0: none)."""
    own = db.session.get(AlertCommuneSettings, commune_id)
    return (own.storage_quota_gb if own and own.storage_quota_gb else None) or \
        current_app.config["ALERTS_STORAGE_QUOTA_GB"] or None


def check_ledger(now: datetime) -> int:
    minutes = current_app.config["ALERTS_CHAIN_CHECK_MINUTES"]
    if not minutes:
        return 0
    last = _watch("ledger:last-run")
    if last is not None and aware(last.updated_at) > now - timedelta(minutes=minutes):
        return 0
    _remember("ledger:last-run")
    fired = 0
    communes = db.session.execute(select(JournalTransaction.commune_id).distinct()).scalars().all()
    for commune_id in communes:
        result = ledger.verify(commune_id)
        key = f"ledger-broken:{commune_id}"
        if result["ok"]:
            if _watch(key) is not None:
                db.session.delete(_watch(key))
            continue
        broken = result["first_broken"]
        seen = _watch(key)
        if seen is not None and (seen.value or {}).get("seq") == broken["seq"]:
            continue
        _event("ledger.broken", commune_id, "commune", commune_id, {"seq": broken["seq"], "reason": broken["reason"]})
        _remember(key, {"seq": broken["seq"]})
        fired += 1
    return fired


def escalate(now: datetime) -> int:
    """Alerts needing acknowledgement, unacknowledged past their time: the next person on the
    commune's rota gets them (on every channel, quiet hours or not), and the clock starts again."""
    due = list(db.session.execute(select(Alert).where(Alert.needs_ack.is_(True), Alert.acked_at.is_(None),
                                                      Alert.escalate_at <= now)).scalars())
    if not due:
        return 0
    fanout = FanOut(current_app.config, now)
    sent = 0
    for alert in due:
        rota = list(db.session.execute(select(AlertRota).where(AlertRota.commune_id == alert.unit_id)
                                       .order_by(AlertRota.position)).scalars())
        already = set(db.session.execute(select(AlertMessage.user_id).where(AlertMessage.alert_id == alert.id))
                      .scalars())
        step = alert.escalation_step
        target = None
        while step < len(rota):
            user = db.session.get(User, rota[step].user_id)
            step += 1
            if user is None or not user.active or user.id in already:
                continue
            if not scope_for_user(user).can(K.KINDS[alert.kind].perm, alert.unit_id):
                continue  # a rota entry outside the commune's data never hears of it
            target = user
            break
        alert.escalation_step = step
        if target is None:
            alert.escalate_at = None  # the rota is exhausted: the alert stays in everyone's list
            continue
        fanout.message(alert, target, False, ["inapp", "email", "webhook", "push", "sms", "zalo"], escalated=True)
        alert.escalate_at = now + timedelta(minutes=escalate_minutes(alert.unit_id, current_app.config))
        sent += 1
    return sent
