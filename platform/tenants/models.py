"""Hierarchy, communes, villages, users, role grants, API tokens and the audit log."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..append_only import AppendOnly
from ..extensions import db
from .scoping import Scoped


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


UTCDateTime = sa.DateTime(timezone=True)


class AdminUnit(Scoped, db.Model):
    """Đơn vị hành chính: a node of the tree (province, district, commune ...), any depth.

    ``is_commune`` marks the tenant (xã, phường, thị trấn). ``path`` is the materialised
    path of ids (``/1/4/9/``) so a subtree is one indexed prefix match.
    """

    __tablename__ = "admin_units"
    __scope_column__ = "id"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    level: Mapped[str] = mapped_column(sa.String(40))  # tỉnh, huyện, xã, thị trấn, phường ...
    is_commune: Mapped[bool] = mapped_column(default=False)
    path: Mapped[str] = mapped_column(sa.String(400), default="/", index=True)
    households: Mapped[int | None] = mapped_column()
    population: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent = relationship("AdminUnit", remote_side=[id])

    def scope_value(self):
        # A new unit has no id yet: it belongs to the scope of its parent.
        return self.id if self.id is not None else self.parent_id

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2


class Village(Scoped, db.Model):
    """Thôn / tổ dân phố: a village or residential group of a commune."""

    __tablename__ = "villages"
    __scope_column__ = "commune_id"
    __table_args__ = (sa.UniqueConstraint("commune_id", "name", name="uq_villages_commune_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(40), default="thôn")
    households: Mapped[int] = mapped_column(default=0)
    population: Mapped[int] = mapped_column(default=0)


class User(Scoped, UserMixin, db.Model):
    """A person who signs in. ``unit_id`` is the node they belong to (their home)."""

    __tablename__ = "users"
    __scope_column__ = "unit_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    lang: Mapped[str] = mapped_column(sa.String(5), default="vi")
    active: Mapped[bool] = mapped_column(default=True)
    sponsor_id: Mapped[int | None] = mapped_column()  # set for sponsor users (funding issue)
    household_ref: Mapped[str | None] = mapped_column(sa.String(80))  # for household users
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit = relationship(AdminUnit)
    grants = relationship("RoleGrant", back_populates="user", lazy="selectin", foreign_keys="RoleGrant.user_id")

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active


class RoleGrant(Scoped, db.Model):
    """A role held at a node of the tree; it reaches every unit below that node."""

    __tablename__ = "role_grants"
    __scope_column__ = "unit_id"
    __table_args__ = (sa.UniqueConstraint("user_id", "role", "unit_id", name="uq_role_grants_user_role_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(30))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    granted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship(User, back_populates="grants", foreign_keys=[user_id])
    unit = relationship(AdminUnit)


class ApiToken(Scoped, db.Model):
    """A bearer token for the API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __scope_column__ = "unit_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship(User)


class AuditEvent(AppendOnly, Scoped, db.Model):
    """Nhật ký: an append-only record of who did what, when, from where, and why."""

    __tablename__ = "audit_events"
    __scope_column__ = "unit_id"
    __table_args__ = (sa.Index("ix_audit_events_unit_at", "unit_id", "at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    actor_name: Mapped[str | None] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(20), default="ok")
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("admin_units.id"))
    object_type: Mapped[str | None] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(80))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    detail: Mapped[dict | None] = mapped_column(sa.JSON)


class CommuneSettings(Scoped, db.Model):
    """Per-commune settings: retention of media and whether the transparency page is public."""

    __tablename__ = "commune_settings"
    __scope_column__ = "commune_id"

    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), primary_key=True)
    snapshot_retention_days: Mapped[int] = mapped_column(default=30)
    clip_retention_days: Mapped[int] = mapped_column(default=90)
    evidence_hold_days: Mapped[int] = mapped_column(default=365)  # after an incident closes
    public_transparency: Mapped[bool] = mapped_column(default=False)
