"""Recorded video: each camera's recording mode, the index of its stored segments, the storage they
use, and their retention.

A segment is one stream-copied fragmented MP4 of 1-5 minutes, stored under the commune's prefix
(``{commune}/{camera}/rec/YYYY/MM/DD/HHMMSS.fff-{worker}.mp4``) and indexed here with its start,
end, size and SHA-256. Retention deletes a commune's segments older than its recording retention
(``RECORDING_RETENTION_DAYS``, per commune in ``recording_commune_settings``), object first, then
the row, and never a segment an incident holds: one under legal hold, one that overlaps an evidence
clip of the same camera (a range export attached to a case, asked through the hold checks incidents
registers in ``streams.retention``), or one inside the hold window of an open incident of its
camera (``RECORDING_INCIDENT_HOLD_MINUTES`` either side of the time it happened).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import and_, delete, exists, false, func, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utc_now
from ..extensions import db
from ..incidents.models import CLOSED_STATUSES, Incident, IncidentCamera
from ..storage import StorageError
from ..streams import retention
from ..streams.models import BigId, Clip, Snapshot
from ..tenants.models import AdminUnit, UTCDateTime
from ..tenants.scope import Scoped, system_scope

log = logging.getLogger("camnet.video.segments")

MODES = ("off", "continuous", "scheduled", "events")
MODE_LABELS = {
    "off": ("Không ghi", "Off"),
    "continuous": ("Ghi liên tục", "Continuous"),
    "scheduled": ("Ghi theo giờ", "Scheduled hours"),
    "events": ("Ghi khi có sự kiện", "On events"),
}
TRIGGER_KINDS = ("button", "fault", "incident")
DEFAULT_RETENTION_DAYS = 30
BATCH = 500


class RecordingSetting(Scoped, db.Model):
    """How one camera records: off, continuous, during hours (VN time), or on events with pre/post-roll."""

    __tablename__ = "recording_settings"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.CheckConstraint("mode IN ('off','continuous','scheduled','events')", name="mode"),
        sa.CheckConstraint("pre_roll_s >= 0 AND post_roll_s >= 0", name="rolls"),
    )

    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"), primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    mode: Mapped[str] = mapped_column(sa.String(12), default="off")
    # scheduled: [[from_hour, to_hour], ...] in VN time; to < from runs past midnight (e.g. [[18, 6]])
    hours: Mapped[list | None] = mapped_column(sa.JSON)
    pre_roll_s: Mapped[int] = mapped_column(default=30)
    post_roll_s: Mapped[int] = mapped_column(default=60)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class RecordingTrigger(Scoped, db.Model):
    """An operator pressed "record now" on a camera recording on events: a window of video is kept."""

    __tablename__ = "recording_triggers"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.Index("ix_recording_triggers_camera_until", "camera_id", "until"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"))
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10), default="button")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class RecordingSegment(Scoped, db.Model):
    """One stored segment of a camera's recording (stream copy, fragmented MP4)."""

    __tablename__ = "recording_segments"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.UniqueConstraint("object_key", name="uq_recording_segments_object_key"),
        sa.Index("ix_recording_segments_camera_started", "camera_id", "started_at"),
        sa.Index("ix_recording_segments_commune_started", "commune_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"))
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    object_key: Mapped[str] = mapped_column(sa.String(300))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    worker: Mapped[str | None] = mapped_column(sa.String(80))
    legal_hold: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    @property
    def duration(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


class RecordingCommuneSettings(Scoped, db.Model):
    """Per commune: how many days recorded video is kept (none: ``RECORDING_RETENTION_DAYS``)."""

    __tablename__ = "recording_commune_settings"
    __scope_column__ = "commune_id"

    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), primary_key=True)
    retention_days: Mapped[int | None] = mapped_column()


def segment_key(commune_id: int, camera_id: int, started: datetime, worker: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in worker)[:40] or "w"
    return (f"{commune_id}/{camera_id}/rec/{started:%Y/%m/%d/%H%M%S}.{started.microsecond // 1000:03d}"
            f"-{safe}.mp4")


def segments_between(camera_id: int, start: datetime, end: datetime) -> list[RecordingSegment]:
    """The camera's segments that overlap [start, end), in time order (the caller's scope applies)."""
    return list(db.session.execute(
        select(RecordingSegment).where(RecordingSegment.camera_id == camera_id,
                                       RecordingSegment.started_at < end, RecordingSegment.ended_at > start,
                                       # bounded look-back keeps the (camera, started_at) index in use
                                       RecordingSegment.started_at >= start - timedelta(minutes=10))
        .order_by(RecordingSegment.started_at, RecordingSegment.id)).scalars())


# ---- storage used and the quota ----------------------------------------------------------------

# The quota of a commune in GB, or None: set by the alerts feature (its per-commune setting and
# ALERTS_STORAGE_QUOTA_GB); without it the app setting alone counts.
QUOTA_LOOKUP: list[Callable[[int], float | None]] = []


def set_quota_lookup(lookup: Callable[[int], float | None]) -> None:
    QUOTA_LOOKUP[:] = [lookup]


def storage_used(commune_id: int) -> int:
    """Bytes a commune keeps in the object store: snapshots, clips (exports included) and recorded
    segments. The alerts quota check and the chairman's page both count with this."""
    return int(sum(db.session.execute(select(func.coalesce(func.sum(m.size), 0))
                                      .where(m.commune_id == commune_id)).scalar() or 0
                   for m in (Snapshot, Clip, RecordingSegment)))


def storage_status(commune_id: int) -> dict | None:
    """For the chairman's page: used bytes, quota, percent and whether to warn (None: no quota)."""
    with system_scope():
        quota = QUOTA_LOOKUP[0](commune_id) if QUOTA_LOOKUP else (
            current_app.config.get("ALERTS_STORAGE_QUOTA_GB") or None)
        if not quota:
            return None
        used = storage_used(commune_id)
        recorded = int(db.session.execute(select(func.coalesce(func.sum(RecordingSegment.size), 0))
                                          .where(RecordingSegment.commune_id == commune_id)).scalar() or 0)
    percent = 100.0 * used / (float(quota) * 1024 ** 3)
    warn_at = int(current_app.config.get("ALERTS_QUOTA_WARN_PERCENT") or 85)
    return {"used": used, "recorded": recorded, "quota_gb": float(quota), "percent": percent,
            "warn": percent >= warn_at, "full": percent >= 100, "warn_at": warn_at}


# ---- retention ---------------------------------------------------------------------------------

def _retention_days() -> dict[int, int]:
    default = int(current_app.config.get("RECORDING_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)
    own = dict(db.session.execute(select(RecordingCommuneSettings.commune_id,
                                         RecordingCommuneSettings.retention_days)).all())
    return {cid: own.get(cid) or default for cid in db.session.execute(
        select(AdminUnit.id).where(AdminUnit.is_commune.is_(True))).scalars()}


def held_condition(now: datetime):
    """The SQL condition "an incident holds this segment" (see the module's docstring)."""
    seg = RecordingSegment
    held_clip_ids = [check("clip") for check in retention.HOLD_CHECKS]
    clip_held = or_(Clip.evidence.is_(True), Clip.legal_hold.is_(True), *(Clip.id.in_(h) for h in held_clip_ids))
    over_clip = exists(select(Clip.id).where(
        Clip.camera_id == seg.camera_id, clip_held, Clip.started_at < seg.ended_at,
        Clip.started_at >= seg.started_at - timedelta(hours=6), _clip_overlaps(seg)))
    minutes = int(current_app.config.get("RECORDING_INCIDENT_HOLD_MINUTES") or 30)
    window = timedelta(minutes=minutes)
    # open cases are few: their (camera, time) pairs become plain comparisons (portable, index-friendly)
    cases = db.session.execute(select(IncidentCamera.camera_id, Incident.occurred_at).join(
        Incident, Incident.id == IncidentCamera.incident_id).where(Incident.status.notin_(CLOSED_STATUSES))).all()
    over_incident = or_(false(), *(and_(seg.camera_id == cid, seg.started_at < _aware(at) + window,
                                        seg.ended_at > _aware(at) - window) for cid, at in cases))
    return or_(seg.legal_hold.is_(True), over_clip, over_incident)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _clip_overlaps(seg):
    """A clip [started_at, started_at + duration_s] ends after the segment starts (per dialect)."""
    bind = db.session.get_bind()
    if bind.dialect.name == "postgresql":
        end = Clip.started_at + func.make_interval(0, 0, 0, 0, 0, 0, Clip.duration_s)
        return end > seg.started_at
    # SQLite stores times as text 'YYYY-MM-DD HH:MM:SS.ffffff'
    end = func.datetime(Clip.started_at, func.printf("+%d seconds", Clip.duration_s))
    return end > func.datetime(seg.started_at)


def sweep_recordings(app, now: datetime, result) -> None:
    """The hook ``streams.retention`` runs: delete each commune's expired segments that no incident holds."""
    store = app.extensions["camnet.storage"]
    deleted = 0
    with system_scope():
        policies = _retention_days()
        held = held_condition(now)
        for commune_id, days in policies.items():
            cutoff = now - timedelta(days=days)
            failed: set[int] = set()
            while True:
                stmt = (select(RecordingSegment.id, RecordingSegment.object_key)
                        .where(RecordingSegment.commune_id == commune_id, RecordingSegment.ended_at < cutoff,
                               ~held).order_by(RecordingSegment.started_at))
                if failed:
                    stmt = stmt.where(RecordingSegment.id.notin_(failed))
                rows = db.session.execute(stmt.limit(BATCH).with_for_update(skip_locked=True)).all()
                if not rows:
                    db.session.rollback()
                    break
                done = []
                for row_id, key in rows:
                    try:
                        store.delete(key)
                        done.append(row_id)
                    except StorageError as exc:  # kept for the next run (a store legal hold, an outage)
                        failed.add(row_id)
                        result.errors.append(f"{key}: {exc}")
                if done:
                    deleted += db.session.execute(delete(RecordingSegment).where(RecordingSegment.id.in_(done)),
                                                  execution_options={"synchronize_session": False}).rowcount or 0
                db.session.commit()
                if len(rows) < BATCH:
                    break
    result.extra["recording_segments"] = result.extra.get("recording_segments", 0) + deleted
    log.info("retention: %s recording segments deleted", deleted)


def segment_keys():
    """The column of stored segments' keys (retention never takes them for orphans)."""
    return RecordingSegment.object_key


def windows_overlap(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end

