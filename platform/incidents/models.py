"""Incident categories, incidents (vụ việc), their cameras and evidence, and evidence exports."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utc_now
from ..extensions import db
from ..streams.models import BigId
from ..tenants.models import UTCDateTime
from ..tenants.scope import Scoped

STATUSES = ("open", "investigating", "resolved", "referred")
CLOSED_STATUSES = ("resolved", "referred")
STATUS_LABELS = {
    "open": ("Mới tiếp nhận", "Open"),
    "investigating": ("Đang xác minh", "Under investigation"),
    "resolved": ("Đã giải quyết", "Resolved"),
    "referred": ("Chuyển cấp huyện", "Referred to the district"),
}
EVIDENCE_KINDS = ("snapshot", "clip")
EXPORT_STATUSES = ("pending", "building", "ready", "failed")

# The seeds' categories; the table is editable per install (code stays, labels change).
DEFAULT_CATEGORIES = [
    ("theft", "Trộm cắp tài sản", "Theft", "#c0392b"),
    ("robbery", "Cướp giật tài sản", "Snatching / robbery", "#8e44ad"),
    ("assault", "Cố ý gây thương tích", "Assault", "#d35400"),
    ("property_damage", "Cố ý làm hư hỏng tài sản", "Property damage", "#b7950b"),
    ("illegal_racing", "Đua xe trái phép", "Illegal racing", "#e84393"),
    ("loan_shark_flyers", "Tờ rơi tín dụng đen", "Loan-shark flyers", "#16a085"),
    ("traffic_accident", "Tai nạn, va chạm giao thông", "Traffic accident", "#0b5ea8"),
    ("littering", "Xả thải, vệ sinh môi trường", "Littering / environment", "#27ae60"),
    ("social_evils", "Tệ nạn xã hội", "Social evils", "#2c3e50"),
    ("other", "Khác", "Other", "#7f8c8d"),
]


class IncidentCategory(db.Model):
    """Loại vụ việc: shared by the whole install, labelled in both languages."""

    __tablename__ = "incident_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    label_vi: Mapped[str] = mapped_column(sa.String(120))
    label_en: Mapped[str] = mapped_column(sa.String(120))
    color: Mapped[str] = mapped_column(sa.String(9), default="#607d8b")
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Incident(Scoped, db.Model):
    """Vụ việc: something that happened in a commune, where, what cameras saw, and how it ended."""

    __tablename__ = "incidents"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.CheckConstraint("status IN ('open','investigating','resolved','referred')", name="status"),
        sa.CheckConstraint("people_identified >= 0", name="people_identified"),
        sa.CheckConstraint("property_recovered_vnd >= 0", name="property_recovered"),
        sa.Index("ix_incidents_commune_occurred", "commune_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"))
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("incident_categories.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    village_id: Mapped[int | None] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    road: Mapped[str | None] = mapped_column(sa.String(200))
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    status: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    clarified_by_camera: Mapped[bool] = mapped_column(default=False)
    people_identified: Mapped[int] = mapped_column(default=0)
    property_recovered_vnd: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # đồng
    reported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    category = relationship(IncidentCategory, lazy="joined")
    village = relationship("Village")
    cameras = relationship("IncidentCamera", back_populates="incident", lazy="selectin",
                           cascade="all, delete-orphan")
    evidence = relationship("IncidentEvidence", back_populates="incident", lazy="selectin",
                            order_by="IncidentEvidence.id")

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def reference(self) -> str:
        """How people name the case: its number as the detail page shows it, title and date."""
        when = self.occurred_at.strftime("%d/%m/%Y") if self.occurred_at else ""
        return f"Số vụ #{self.id} «{self.title}»" + (f" ({when})" if when else "")


class IncidentCamera(Scoped, db.Model):
    """A camera involved in an incident."""

    __tablename__ = "incident_cameras"
    __scope_column__ = "commune_id"

    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id"), primary_key=True, index=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)

    incident = relationship(Incident, back_populates="cameras")
    camera = relationship("Camera", lazy="joined")


class IncidentEvidence(Scoped, db.Model):
    """Chứng cứ: a snapshot or clip attached to an incident (held from retention while it matters)."""

    __tablename__ = "incident_evidence"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('snapshot','clip')", name="kind"),
        sa.CheckConstraint("(kind = 'snapshot' AND snapshot_id IS NOT NULL AND clip_id IS NULL) OR "
                           "(kind = 'clip' AND clip_id IS NOT NULL AND snapshot_id IS NULL)", name="one_item"),
        sa.UniqueConstraint("incident_id", "kind", "snapshot_id", "clip_id", name="uq_incident_evidence_item"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id"), index=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    snapshot_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("snapshots.id"), index=True)
    clip_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clips.id"), index=True)
    note: Mapped[str | None] = mapped_column(sa.String(300))
    added_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    incident = relationship(Incident, back_populates="evidence")
    snapshot = relationship("Snapshot", lazy="joined")
    clip = relationship("Clip", lazy="joined")

    @property
    def item_id(self) -> int:
        return self.snapshot_id if self.kind == "snapshot" else self.clip_id


class EvidenceExport(Scoped, db.Model):
    """One requested archive of an incident's evidence, built in the background with progress."""

    __tablename__ = "evidence_exports"
    __scope_column__ = "commune_id"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending','building','ready','failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id"), index=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    files_total: Mapped[int] = mapped_column(default=0)
    files_done: Mapped[int] = mapped_column(default=0)
    object_key: Mapped[str | None] = mapped_column(sa.String(300))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the platform recorded when it built the archive, so that a package is checked against
    # this record and not only against the manifest it carries (which a forger rewrites too).
    manifest_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    signature: Mapped[str | None] = mapped_column(sa.String(200))  # Ed25519 over manifest.json, base64
    signing_key_id: Mapped[str | None] = mapped_column(sa.String(64))
    recorded_files: Mapped[list | None] = mapped_column(sa.JSON)  # [{name, kind, id, sha256, size}]

    @property
    def progress(self) -> int:
        """Percent done: files read plus one step for writing the archive."""
        if self.status == "ready":
            return 100
        return int(100 * self.files_done / (self.files_total + 1)) if self.files_total else 0
