"""Camera registry: create, change, list, decommission cameras; consent of shared cameras.

Capture contract (for the capture worker): ``capturable_cameras_query()`` is the one query of
cameras that may be captured *now*. A camera leaves it the moment its status becomes planned or
decommissioned, or the consent of a shared (household/business) camera is revoked or does not
share ``live`` or ``snapshots``; the worker must re-run the query at least once per capture
interval and check ``may_capture(camera)`` again right before each grab.
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import select

from ..errors import ConflictError, NotFoundError, ValidationFailed
from ..extensions import db
from ..tenants import audit
from ..tenants.models import AdminUnit, Village
from ..tenants.scoping import current_scope, member_of
from ..tenants.services import get_scoped
from . import crypto, urls
from .models import Camera, CameraConsent

CAPTURABLE_STATUSES = ("active", "offline", "faulty")
URL_FIELDS = ("rtsp_main", "rtsp_sub", "snapshot_url", "mjpeg_url")
SHARED = ("household", "business")
# Plain columns a client may set (password is handled apart: encrypted, write-only).
EDITABLE = ("name", "village_id", "road", "latitude", "longitude", "direction", "kind", "ownership",
            "owner_name", "owner_contact", "recorder", "channel", "rtsp_main", "rtsp_sub",
            "snapshot_url", "mjpeg_url", "username", "install_date", "phase", "status",
            "capture_interval")


def _consent_ok(shares):
    return sa.exists().where(CameraConsent.camera_id == Camera.id, CameraConsent.revoked_at.is_(None),
                             CameraConsent.shares.in_(shares))


def capturable_cameras_query():
    """SELECT of cameras that may be captured now (run it under ``system_scope()`` in workers)."""
    return (select(Camera)
            .where(Camera.status.in_(CAPTURABLE_STATUSES))
            .where(sa.or_(Camera.ownership.notin_(SHARED), _consent_ok(("live", "snapshots"))))
            .order_by(Camera.id))


def active_consent(camera: Camera) -> CameraConsent | None:
    for consent in camera.consents:
        if consent.revoked_at is None:
            return consent
    return None


def may_capture(camera: Camera) -> bool:
    """The same rule as ``capturable_cameras_query`` for one loaded camera."""
    if camera.status not in CAPTURABLE_STATUSES:
        return False
    if camera.ownership not in SHARED:
        return True
    consent = active_consent(camera)
    return consent is not None and consent.shares in ("live", "snapshots")


def camera_json(c: Camera) -> dict:
    """Never the password (not even encrypted): only whether one is set."""
    consent = active_consent(c)
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {
        "id": c.id, "commune_id": c.commune_id, "code": c.code, "name": c.name,
        "village_id": c.village_id, "village": c.village.name if c.village else None, "road": c.road,
        "latitude": c.latitude, "longitude": c.longitude, "direction": c.direction, "kind": c.kind,
        "ownership": c.ownership, "owner_name": c.owner_name, "owner_contact": c.owner_contact,
        "recorder": c.recorder, "channel": c.channel, **sources_json(c),
        "has_password": bool(c.password_enc), "install_date": iso(c.install_date), "phase": c.phase,
        "status": c.status, "capture_interval": c.capture_interval, "health": c.health,
        "last_snapshot_at": iso(c.last_snapshot_at), "last_ok_at": iso(c.last_ok_at),
        "capture_allowed": may_capture(c),
        "consent": consent_json(consent) if consent else None,
        "consents": [consent_json(k) for k in c.consents],
    }


def may_see_sources(c: Camera) -> bool:
    """Camera addresses are for those who install and repair cameras, not for viewers."""
    scope = current_scope()
    return scope.can("cameras.manage", c.commune_id) or scope.can("faults.manage", c.commune_id)


def sources_json(c: Camera) -> dict:
    names = (*URL_FIELDS, "username")
    if not may_see_sources(c):
        return {name: None for name in names}
    return {name: getattr(c, name) for name in names}


def consent_json(k: CameraConsent) -> dict:
    return {"id": k.id, "camera_id": k.camera_id, "shares": k.shares, "granted_by": k.granted_by,
            "since": k.since.isoformat(), "document_ref": k.document_ref,
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}


def commune_for(unit_id: int, perm: str) -> AdminUnit:
    unit = get_scoped(AdminUnit, unit_id, perm)
    if not unit.is_commune:
        raise ValidationFailed("commune_id: cameras belong to a commune (xã, phường, thị trấn)",
                               field="commune_id")
    return unit


def list_cameras(unit_id: int | None = None, status: str | None = None, q: str | None = None,
                 limit: int = 500, offset: int = 0, perm: str = "cameras.read") -> list[Camera]:
    scope = current_scope()
    stmt = select(Camera).order_by(Camera.commune_id, Camera.code)
    if not scope.system:
        stmt = stmt.where(member_of(Camera.commune_id, scope.units_with(perm)))
    if unit_id is not None:
        unit = get_scoped(AdminUnit, unit_id, perm)
        if unit.is_commune:  # the usual case: one commune's cameras, straight off (commune_id, code)
            stmt = stmt.where(Camera.commune_id == unit.id)
        else:
            below = select(AdminUnit.id).where(AdminUnit.path.startswith(unit.path, autoescape=True))
            stmt = stmt.where(Camera.commune_id.in_(below))
    if status:
        stmt = stmt.where(Camera.status == status)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(sa.or_(Camera.code.ilike(like), Camera.name.ilike(like), Camera.road.ilike(like)))
    return list(db.session.execute(stmt.limit(limit).offset(offset)).scalars())


def _check_values(commune_id: int, values: dict, config=None) -> dict:
    """Validate what a create or update would write; raises naming the field."""
    config = config if config is not None else current_app.config
    for name in URL_FIELDS:
        if values.get(name) is not None:
            values[name] = urls.validate_stream_url(values[name], name, config)
    village_id = values.get("village_id")
    if village_id is not None:
        village = db.session.execute(select(Village).where(
            Village.id == village_id, Village.commune_id == commune_id)).scalar_one_or_none()
        if village is None:
            raise ValidationFailed("village_id: no such village in this commune", field="village_id")
    return values


def create_camera(data) -> Camera:
    commune = commune_for(data.commune_id, "cameras.manage")
    values = _check_values(commune.id, data.model_dump(include=set(EDITABLE), exclude_none=True))
    if db.session.execute(select(Camera.id).where(Camera.commune_id == commune.id,
                                                  Camera.code == data.code)).first():
        raise ConflictError(f"code: camera {data.code!r} already exists in this commune", field="code")
    camera = Camera(commune_id=commune.id, code=data.code, **values)
    camera.password_enc = crypto.encrypt(data.password)
    db.session.add(camera)
    db.session.flush()
    if data.consent is not None:
        db.session.add(CameraConsent(camera_id=camera.id, commune_id=commune.id,
                                     **data.consent.model_dump()))
    audit.record("camera.create", unit_id=commune.id, object_type="camera", object_id=camera.id,
                 detail={"code": camera.code})
    db.session.commit()
    return camera


def update_camera(camera_id: int, data) -> Camera:
    camera = get_scoped(Camera, camera_id, "cameras.manage")
    sent = data.model_dump(include=set(EDITABLE) & data.model_fields_set)
    for required in ("name", "kind", "ownership", "status", "capture_interval"):
        if required in sent and sent[required] is None:
            raise ValidationFailed(f"{required}: may not be empty", field=required)
    values = _check_values(camera.commune_id, sent)
    ownership = values.get("ownership", camera.ownership)
    if ownership in SHARED and active_consent(camera) is None:
        raise ValidationFailed("ownership: a shared camera needs a consent record first", field="ownership")
    for key, value in values.items():
        setattr(camera, key, value)
    if "password" in data.model_fields_set:
        camera.password_enc = crypto.encrypt(data.password)
    audit.record("camera.update", unit_id=camera.commune_id, object_type="camera", object_id=camera.id,
                 detail={"fields": sorted(set(values) | ({"password"} & data.model_fields_set))})
    db.session.commit()
    return camera


def decommission_camera(camera_id: int) -> Camera:
    camera = get_scoped(Camera, camera_id, "cameras.manage")
    camera.status = "decommissioned"
    audit.record("camera.decommission", unit_id=camera.commune_id, object_type="camera", object_id=camera.id)
    db.session.commit()
    return camera


def add_consent(camera_id: int, data) -> CameraConsent:
    """A new consent replaces the current one (which is revoked in the same transaction)."""
    camera = get_scoped(Camera, camera_id, "cameras.manage")
    if camera.ownership not in SHARED:
        raise ValidationFailed("ownership: consent records are for household or business cameras",
                               field="ownership")
    now = datetime.now(timezone.utc)
    for old in camera.consents:
        if old.revoked_at is None:
            old.revoked_at = now
    consent = CameraConsent(camera_id=camera.id, commune_id=camera.commune_id, **data.model_dump())
    db.session.add(consent)
    db.session.flush()
    audit.record("camera.consent", unit_id=camera.commune_id, object_type="camera", object_id=camera.id,
                 detail={"consent_id": consent.id, "shares": consent.shares})
    db.session.commit()
    return consent


def revoke_consent(camera_id: int, consent_id: int) -> CameraConsent:
    """Revocation stops capture at once: the camera drops out of ``capturable_cameras_query``."""
    camera = get_scoped(Camera, camera_id, "cameras.manage")
    consent = get_scoped(CameraConsent, consent_id, "cameras.manage")
    if consent.camera_id != camera.id:
        raise NotFoundError()
    if consent.revoked_at is None:
        consent.revoked_at = datetime.now(timezone.utc)
        audit.record("camera.consent.revoke", unit_id=camera.commune_id, object_type="camera",
                     object_id=camera.id, detail={"consent_id": consent.id})
    db.session.commit()
    db.session.refresh(camera)
    return consent
