"""Retention sweeper: delete expired snapshots and clips (object first, then the row), never evidence.

Safe to run twice or concurrently: on PostgreSQL each batch is claimed with
``SELECT ... FOR UPDATE SKIP LOCKED`` so two sweepers never take the same rows; a row or object
already gone is simply skipped. Held from deletion: ``snapshot.evidence``, snapshots that an open
fault ticket points at, ``clip.evidence`` and ``clip.legal_hold``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone


from sqlalchemy import delete, select, update

from ..extensions import db
from ..storage import StorageError
from ..tenants.models import AdminUnit, CommuneSettings
from ..tenants.scoping import system_scope
from .models import Clip, FaultTicket, Snapshot

log = logging.getLogger("camnet.retention")
BATCH = 500
DEFAULT_SNAPSHOT_DAYS = 30
DEFAULT_CLIP_DAYS = 90


@dataclass
class SweepResult:
    snapshots: int = 0
    clips: int = 0
    errors: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"snapshots_deleted": self.snapshots, "clips_deleted": self.clips, "errors": len(self.errors)}


def _policies() -> list[tuple[int, int, int]]:
    """(commune id, snapshot days, clip days) for every commune; defaults where none is set."""
    settings = {s.commune_id: s for s in db.session.execute(select(CommuneSettings)).scalars()}
    out = []
    for cid in db.session.execute(select(AdminUnit.id).where(AdminUnit.is_commune.is_(True))).scalars():
        s = settings.get(cid)
        out.append((cid, s.snapshot_retention_days if s else DEFAULT_SNAPSHOT_DAYS,
                    s.clip_retention_days if s else DEFAULT_CLIP_DAYS))
    db.session.rollback()
    return out


def _claim(stmt, batch: int):
    # SQLite renders no FOR UPDATE (one writer at a time there anyway).
    return db.session.execute(stmt.limit(batch).with_for_update(skip_locked=True)).all()


def _drop_objects(store, rows, result: SweepResult) -> list[int]:
    """Delete each object; a missing object is fine; a store error keeps the row for the next run."""
    done = []
    for row_id, key in rows:
        try:
            if key:
                store.delete(key)
            done.append(row_id)
        except StorageError as exc:
            result.errors.append(f"{key}: {exc}")
            log.warning("retention: cannot delete %s: %s", key, exc)
    return done


def _sweep_snapshots(store, commune_id: int, cutoff: datetime, batch: int, result: SweepResult) -> None:
    held = select(FaultTicket.evidence_snapshot_id).where(
        FaultTicket.status == "open", FaultTicket.evidence_snapshot_id.is_not(None))
    failed: set[int] = set()
    while True:
        stmt = (select(Snapshot.id, Snapshot.object_key)
                .where(Snapshot.commune_id == commune_id, Snapshot.taken_at < cutoff,
                       Snapshot.evidence.is_(False), Snapshot.id.notin_(held))
                .order_by(Snapshot.taken_at))
        if failed:
            stmt = stmt.where(Snapshot.id.notin_(failed))
        rows = _claim(stmt, batch)
        if not rows:
            db.session.rollback()
            return
        done = _drop_objects(store, rows, result)
        failed.update(r[0] for r in rows if r[0] not in set(done))
        if done:
            # Closed tickets keep their text; the picture they pointed at is gone.
            db.session.execute(update(FaultTicket).where(FaultTicket.evidence_snapshot_id.in_(done))
                               .values(evidence_snapshot_id=None), execution_options={"synchronize_session": False})
            gone = db.session.execute(delete(Snapshot).where(Snapshot.id.in_(done)),
                                      execution_options={"synchronize_session": False}).rowcount
            result.snapshots += max(gone or 0, 0)
        db.session.commit()
        if len(rows) < batch:
            return


def _sweep_clips(store, commune_id: int, cutoff: datetime, batch: int, result: SweepResult) -> None:
    failed: set[int] = set()
    while True:
        stmt = (select(Clip.id, Clip.object_key)
                .where(Clip.commune_id == commune_id, Clip.started_at < cutoff,
                       Clip.evidence.is_(False), Clip.legal_hold.is_(False))
                .order_by(Clip.started_at))
        if failed:
            stmt = stmt.where(Clip.id.notin_(failed))
        rows = _claim(stmt, batch)
        if not rows:
            db.session.rollback()
            return
        done = _drop_objects(store, rows, result)
        failed.update(r[0] for r in rows if r[0] not in set(done))
        if done:
            gone = db.session.execute(delete(Clip).where(Clip.id.in_(done)),
                                      execution_options={"synchronize_session": False}).rowcount
            result.clips += max(gone or 0, 0)
        db.session.commit()
        if len(rows) < batch:
            return


def sweep(app, now: datetime | None = None, batch: int = BATCH) -> SweepResult:
    """Delete what each commune's retention has expired. Needs an app context of ``app``."""
    now = now or datetime.now(timezone.utc)
    store = app.extensions["camnet.storage"]
    result = SweepResult()
    with system_scope():
        for commune_id, snap_days, clip_days in _policies():
            _sweep_snapshots(store, commune_id, now - timedelta(days=snap_days), batch, result)
            _sweep_clips(store, commune_id, now - timedelta(days=clip_days), batch, result)
    log.info("retention sweep: %s", result.as_dict())
    return result



