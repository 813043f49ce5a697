"""Cameras, consent of shared cameras, snapshots, clips, fault tickets and daily uptime."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utc_now
from ..extensions import db
from ..tenants.models import UTCDateTime
from ..tenants.scope import Scoped

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")

CAMERA_STATUSES = ("planned", "active", "offline", "faulty", "decommissioned")
CAMERA_KINDS = ("fixed", "ptz")
OWNERSHIPS = ("commune", "household", "business")
CONSENT_SHARES = ("live", "snapshots", "on_request")
FAULT_RULES = ("unreachable", "dark", "frozen", "blur", "covered", "moved")


class Camera(Scoped, db.Model):
    """Mắt camera: one camera of a commune, with its sources and where it looks."""

    __tablename__ = "cameras"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.UniqueConstraint("commune_id", "code", name="uq_cameras_commune_code"),
        sa.CheckConstraint("status IN ('planned','active','offline','faulty','decommissioned')", name="status"),
        sa.CheckConstraint("kind IN ('fixed','ptz')", name="kind"),
        sa.CheckConstraint("ownership IN ('commune','household','business')", name="ownership"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    village_id: Mapped[int | None] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    road: Mapped[str | None] = mapped_column(sa.String(200))  # road or intersection
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    direction: Mapped[str | None] = mapped_column(sa.String(20))  # N, NE, ... or degrees
    kind: Mapped[str] = mapped_column(sa.String(10), default="fixed")
    ownership: Mapped[str] = mapped_column(sa.String(12), default="commune")
    owner_name: Mapped[str | None] = mapped_column(sa.String(200))
    owner_contact: Mapped[str | None] = mapped_column(sa.String(200))
    recorder: Mapped[str | None] = mapped_column(sa.String(80))  # NVR
    channel: Mapped[int | None] = mapped_column()
    rtsp_main: Mapped[str | None] = mapped_column(sa.String(500))
    rtsp_sub: Mapped[str | None] = mapped_column(sa.String(500))
    snapshot_url: Mapped[str | None] = mapped_column(sa.String(500))
    mjpeg_url: Mapped[str | None] = mapped_column(sa.String(500))
    username: Mapped[str | None] = mapped_column(sa.String(100))
    password_enc: Mapped[str | None] = mapped_column(sa.String(500))  # Fernet token, never returned
    install_date: Mapped[date | None] = mapped_column(sa.Date)
    phase: Mapped[str | None] = mapped_column(sa.String(40))  # programme phase (giai đoạn)
    status: Mapped[str] = mapped_column(sa.String(16), default="planned", index=True)
    capture_interval: Mapped[int] = mapped_column(default=60)  # seconds
    reference_key: Mapped[str | None] = mapped_column(sa.String(300))  # reference view for "moved"
    # Staff reset the reference view (camera re-aimed on purpose): workers watch this to adopt a new one.
    reference_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    health: Mapped[str] = mapped_column(sa.String(16), default="unknown")  # ok or the rule that fired
    last_snapshot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    village = relationship("Village")
    consents = relationship("CameraConsent", back_populates="camera", lazy="selectin",
                            order_by="CameraConsent.id")


class CameraConsent(Scoped, db.Model):
    """What a household or business shares from its own camera, since when, and whether revoked."""

    __tablename__ = "camera_consents"
    __scope_column__ = "commune_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"), index=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    shares: Mapped[str] = mapped_column(sa.String(20))  # live | snapshots | on_request
    granted_by: Mapped[str] = mapped_column(sa.String(200))
    since: Mapped[date] = mapped_column(sa.Date)
    document_ref: Mapped[str | None] = mapped_column(sa.String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    camera = relationship(Camera, back_populates="consents")


class Snapshot(Scoped, db.Model):
    """One captured JPEG. ``slot`` = capture time // interval: one row per camera per slot."""

    __tablename__ = "snapshots"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.UniqueConstraint("camera_id", "slot", name="uq_snapshots_camera_slot"),
        sa.Index("ix_snapshots_camera_taken", "camera_id", "taken_at"),
        sa.Index("ix_snapshots_commune_taken", "commune_id", "taken_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"))
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    slot: Mapped[int] = mapped_column(sa.BigInteger)
    object_key: Mapped[str] = mapped_column(sa.String(300))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    worker: Mapped[str] = mapped_column(sa.String(80))
    health: Mapped[str] = mapped_column(sa.String(16), default="ok")
    evidence: Mapped[bool] = mapped_column(default=False)  # held from retention


class Clip(Scoped, db.Model):
    """A recorded MP4 of N seconds; evidence clips are held from deletion."""

    __tablename__ = "clips"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.Index("ix_clips_camera_started", "camera_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"))
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    duration_s: Mapped[int] = mapped_column(default=30)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")  # pending|recording|ready|failed
    object_key: Mapped[str | None] = mapped_column(sa.String(300))
    size: Mapped[int | None] = mapped_column()
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    reencoded: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    evidence: Mapped[bool] = mapped_column(default=False)
    legal_hold: Mapped[bool] = mapped_column(default=False)  # set on the object store too where supported


class FaultTicket(Scoped, db.Model):
    """Phiếu sự cố: opened when a health rule fires, closed on recovery or by a technician."""

    __tablename__ = "fault_tickets"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.Index("ix_fault_tickets_camera_status", "camera_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"))
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    rule: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(10), default="open")  # open | closed
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_snapshot_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("snapshots.id"))
    evidence_key: Mapped[str | None] = mapped_column(sa.String(300))
    detail: Mapped[dict | None] = mapped_column(sa.JSON)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    close_note: Mapped[str | None] = mapped_column(sa.String(500))

    camera = relationship(Camera)


class CameraUptimeDay(Scoped, db.Model):
    """Checks and good checks of one camera on one day (uptime = ok / checks)."""

    __tablename__ = "camera_uptime_days"
    __scope_column__ = "commune_id"

    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    checks: Mapped[int] = mapped_column(default=0)
    ok: Mapped[int] = mapped_column(default=0)

    @property
    def uptime(self) -> float:
        return self.ok / self.checks if self.checks else 0.0
