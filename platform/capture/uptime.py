"""Per-camera daily uptime: checks and good checks, counted by the capture worker."""
from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select, tuple_

from ..streams.models import CameraUptimeDay


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
    for key in keys:
        row = rows.get(key)
        if row is None:
            row = CameraUptimeDay(camera_id=key[0], day=key[1], commune_id=communes[key[0]],
                                  checks=0, ok=0)
            session.add(row)
        row.checks += total[key]
        row.ok += good[key]


def uptime_between(session, camera_id: int, start: date, end: date) -> float | None:
    """Share of good checks over a period (None without checks)."""
    rows = session.execute(select(CameraUptimeDay).where(
        CameraUptimeDay.camera_id == camera_id, CameraUptimeDay.day >= start,
        CameraUptimeDay.day <= end)).scalars().all()
    checks = sum(r.checks for r in rows)
    return sum(r.ok for r in rows) / checks if checks else None
