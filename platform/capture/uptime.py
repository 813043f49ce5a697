"""Per-camera daily uptime: checks and good checks, counted by the capture worker; a day under
the low-uptime threshold opens a "low_uptime" fault ticket."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app
from sqlalchemy import select, tuple_

from ..clock import utc_now
from ..streams.models import CameraUptimeDay, FaultTicket
from .health import LOW_UPTIME, HealthSettings


def add_checks(session, checks: list[tuple[int, int, date, bool]]) -> None:
    """Count a batch of verdicts ``(camera_id, commune_id, day, ok)`` in one round trip.

    Only the worker that owns a camera writes its rows, so read-then-write is safe here.
    """
    if not checks:
        return
    total: Counter = Counter()
    good: Counter = Counter()
    communes = {}
    for camera_id, commune_id, day, ok in checks:
        total[(camera_id, day)] += 1
        good[(camera_id, day)] += int(ok)
        communes[camera_id] = commune_id
    keys = list(total)
    rows = {(r.camera_id, r.day): r for r in session.execute(
        select(CameraUptimeDay).where(tuple_(CameraUptimeDay.camera_id, CameraUptimeDay.day).in_(keys))
    ).scalars()}
    touched = []
    for key in keys:
        row = rows.get(key)
        if row is None:
            row = CameraUptimeDay(camera_id=key[0], day=key[1], commune_id=communes[key[0]],
                                  checks=0, ok=0)
            session.add(row)
        row.checks += total[key]
        row.ok += good[key]
        touched.append(row)
    low_uptime_tickets(session, touched, HealthSettings.from_config(current_app.config))


def low_uptime_tickets(session, rows, cfg: HealthSettings, now: datetime | None = None) -> list[FaultTicket]:
    """Open a "low_uptime" ticket for each day row under ``cfg.uptime_min`` good checks (with at
    least ``cfg.uptime_min_checks`` checks) whose camera has no open ticket and had no such ticket
    that day. ``now`` is when it opens (default: now, or the day's end for a past day)."""
    low = [r for r in rows if r.checks >= cfg.uptime_min_checks and r.ok < cfg.uptime_min * r.checks]
    opened = []
    for row in low:
        start = datetime.combine(row.day, time(0), tzinfo=timezone.utc)
        end = start + timedelta(days=1)
        busy = session.execute(select(FaultTicket.id).where(
            FaultTicket.camera_id == row.camera_id,
            (FaultTicket.status == "open") | ((FaultTicket.rule == LOW_UPTIME) & (FaultTicket.opened_at >= start)
                                              & (FaultTicket.opened_at < end))).limit(1)).first()
        if busy:
            continue
        at = now or min(utc_now(), end - timedelta(seconds=1))
        ticket = FaultTicket(camera_id=row.camera_id, commune_id=row.commune_id, rule=LOW_UPTIME, status="open",
                             opened_at=at, detail={"day": row.day.isoformat(), "checks": row.checks, "ok": row.ok,
                                                   "uptime": round(row.ok / row.checks, 4)})
        session.add(ticket)
        opened.append(ticket)
    return opened


def uptime_between(session, camera_id: int, start: date, end: date) -> float | None:
    """Share of good checks over a period (None without checks)."""
    rows = session.execute(select(CameraUptimeDay).where(
        CameraUptimeDay.camera_id == camera_id, CameraUptimeDay.day >= start,
        CameraUptimeDay.day <= end)).scalars().all()
    checks = sum(r.checks for r in rows)
    return sum(r.ok for r in rows) / checks if checks else None
