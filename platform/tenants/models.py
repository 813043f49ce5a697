"""Hierarchy, communes, villages, users, role grants, sessions, API tokens and the audit log."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..append_only import AppendOnly
from ..clock import utc_now
from ..extensions import db
from .scope import Scoped


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship(User)


class UserSession(db.Model):
    """A signed-in browser session, kept on the server so it can be ended at once.

    The cookie carries a random secret; only its SHA-256 is stored. Not ``Scoped``: it is read
    before any scope exists (every cookie request), always by its secret or by its user's id.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    method: Mapped[str] = mapped_column(sa.String(40))  # "password", "oidc:<provider>" ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    ip: Mapped[str | None] = mapped_column(sa.String(64))  # where it was opened
    last_ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40))


class PasswordReset(db.Model):
    """A single-use, short-lived link to set a new password; only the SHA-256 of its secret is stored."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(AppendOnly, Scoped, db.Model):
    """Nhật ký: an append-only record of who did what, when, from where, and why."""

    __tablename__ = "audit_events"
    __scope_column__ = "unit_id"
    __table_args__ = (sa.Index("ix_audit_events_unit_at", "unit_id", "at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
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


class SsoProvider(Scoped, db.Model):
    """Nhà cung cấp định danh: an OpenID Connect provider a province runs for single sign-on.

    Its users sign in to camnet and get grants inside the province from ``SsoClaimRule`` rows.
    The client secret is stored encrypted (Fernet, the key of ``camnet.crypto``)."""

    __tablename__ = "sso_providers"
    __scope_column__ = "unit_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)  # the province
    name: Mapped[str] = mapped_column(sa.String(200))
    issuer: Mapped[str] = mapped_column(sa.String(300))
    client_id: Mapped[str] = mapped_column(sa.String(200))
    client_secret_enc: Mapped[str] = mapped_column(sa.Text)
    scopes: Mapped[str] = mapped_column(sa.String(300), default="openid profile email")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    unit = relationship(AdminUnit)
    rules = relationship("SsoClaimRule", order_by="SsoClaimRule.position", lazy="selectin",
                         cascade="all, delete-orphan")


class SsoClaimRule(Scoped, db.Model):
    """One mapping rule of a provider: a claim holding ``value`` gives ``role`` at ``unit_id``
    (a unit inside the provider's province). Rules are tried in ``position`` order."""

    __tablename__ = "sso_claim_rules"
    __scope_column__ = "unit_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("sso_providers.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    claim: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(30))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)

    unit = relationship(AdminUnit)


class SsoIdentity(Scoped, db.Model):
    """An identity at a provider (issuer + subject) linked to a camnet user. ``mapped_grants``
    holds, per provider id, the grants its rules created ([role, unit id] pairs): only those are
    revoked when the claims behind them disappear; grants given by hand are never touched."""

    __tablename__ = "sso_identities"
    __scope_column__ = "unit_id"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject", name="uq_sso_identities_issuer_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("sso_providers.id"), index=True)
    issuer: Mapped[str] = mapped_column(sa.String(300))
    subject: Mapped[str] = mapped_column(sa.String(255))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), index=True)  # the province
    mapped_grants: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship(User)


class SsoLoginState(db.Model):
    """A sign-in started at a provider: single use and short-lived. Only the SHA-256 of ``state``
    is stored; the browser that started it also keeps it in its session. Not ``Scoped``: it is
    read before anyone is signed in."""

    __tablename__ = "sso_login_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("sso_providers.id"), index=True)
    nonce: Mapped[str] = mapped_column(sa.String(100))
    code_verifier: Mapped[str] = mapped_column(sa.String(200))
    redirect_uri: Mapped[str] = mapped_column(sa.String(500))
    next_url: Mapped[str] = mapped_column(sa.String(500), default="/")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---- two-factor sign-in (issue #12) ----------------------------------------------------------
# Not ``Scoped``: keyed by the user alone and read while nobody is signed in yet (the second-factor
# page), always under ``system_scope``. On PostgreSQL their policy admits the system scope only
# (migration 0010): no tenant query, even raw SQL, reads a second factor.

class TotpCredential(db.Model):
    """An authenticator app (TOTP, RFC 6238) of one user. Secrets are encrypted (Fernet, the key of
    ``camnet.crypto``). ``pending_secret_enc`` is an enrolment not yet confirmed by a code;
    ``last_used_step`` the newest 30-second step accepted, so each code counts once."""

    __tablename__ = "mfa_totp"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    secret_enc: Mapped[str | None] = mapped_column(sa.Text)
    pending_secret_enc: Mapped[str | None] = mapped_column(sa.Text)
    pending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(db.Model):
    """Mã dự phòng: a single-use code for the day the phone is lost; only its SHA-256 is stored."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash", name="uq_mfa_recovery_codes_user_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebAuthnCredential(db.Model):
    """A passkey (WebAuthn credential) of one user: its id, public key (COSE) and signature counter."""

    __tablename__ = "mfa_webauthn_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    credential_id: Mapped[str] = mapped_column(sa.String(1400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    user_handle: Mapped[str] = mapped_column(sa.String(100))  # base64url, the same for all of a user's
    transports: Mapped[list | None] = mapped_column(sa.JSON)
    name: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CommuneBoundary(Scoped, db.Model):
    """Ranh giới xã: a commune's outline for the map, a GeoJSON geometry (Polygon or MultiPolygon,
    [longitude, latitude] pairs). ``source`` says where it came from (a survey, OSM, drawn by hand)."""

    __tablename__ = "commune_boundaries"

    commune_id: Mapped[int] = mapped_column(sa.ForeignKey("admin_units.id"), primary_key=True)
    geometry: Mapped[dict] = mapped_column(sa.JSON)
    source: Mapped[str] = mapped_column(sa.String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)

    @staticmethod
    def check_geometry(geometry) -> dict:
        """The geometry if it is a closed Polygon or MultiPolygon inside Vietnam's rough box;
        ValueError naming the field otherwise."""
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError("geometry: cần Polygon hoặc MultiPolygon / must be a GeoJSON Polygon or MultiPolygon")
        polygons = [geometry.get("coordinates")] if geometry["type"] == "Polygon" else geometry.get("coordinates")
        if not isinstance(polygons, list) or not polygons:
            raise ValueError("geometry.coordinates: trống / empty")
        for rings in polygons:
            if not isinstance(rings, list) or not rings:
                raise ValueError("geometry.coordinates: vòng trống / empty ring list")
            for ring in rings:
                if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
                    raise ValueError("geometry.coordinates: vòng phải khép kín, ít nhất 4 điểm / "
                                     "a ring must be closed with at least 4 points")
                for point in ring:
                    if (not isinstance(point, list) or len(point) != 2
                            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)
                            or not (100 <= point[0] <= 112 and 6 <= point[1] <= 25)):
                        raise ValueError("geometry.coordinates: điểm [kinh độ, vĩ độ] ngoài Việt Nam / "
                                         "a [longitude, latitude] point outside Vietnam")
        return geometry
