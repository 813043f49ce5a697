"""Camera registry: create, change, list, decommission cameras; consent of shared cameras.

Capture contract (for the capture worker): ``capturable_cameras_query()`` is the one query of
cameras that may be captured *now*. A camera leaves it the moment its status becomes planned or
decommissioned, or the consent of a shared (household/business) camera is revoked or does not
share ``live`` or ``snapshots``; the worker must re-run the query at least once per capture
interval and check ``may_capture(camera)`` again right before each grab.
"""
from __future__ import annotations

import functools
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import select

from ..clock import utc_now
from ..errors import ConflictError, NotFoundError, ValidationFailed
from ..extensions import db
from ..tenants import access, audit
from ..tenants.access import get_scoped
from ..tenants.idsets import dialect_name, ids_value, in_ids
from ..tenants.models import AdminUnit, Village
from ..tenants.scope import current_scope
from .. import crypto
from . import urls
from .models import Camera, CameraConsent

CAPTURABLE_STATUSES = ("active", "offline", "faulty")
URL_FIELDS = ("rtsp_main", "rtsp_sub", "snapshot_url", "mjpeg_url")
SOURCE_FIELDS = (*URL_FIELDS, "username")  # a camera's addresses: shown only where may_see_sources
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
    return _first_active(camera.consents)


def _first_active(consents) -> CameraConsent | None:
    return next((k for k in consents if k.revoked_at is None), None)


def may_capture(camera: Camera) -> bool:
    """The same rule as ``capturable_cameras_query`` for one loaded camera."""
    return capture_allowed(camera.status, camera.ownership, active_consent(camera))


def capture_allowed(status: str, ownership: str, consent) -> bool:
    if status not in CAPTURABLE_STATUSES:
        return False
    if ownership not in SHARED:
        return True
    return consent is not None and consent.shares in ("live", "snapshots")


def may_see_sources(commune_id: int) -> bool:
    """Camera addresses are for those who install and repair cameras, not for viewers."""
    return access.may("cameras.manage", commune_id) or access.may("faults.manage", commune_id)


def commune_for(unit_id: int, perm: str) -> AdminUnit:
    unit = get_scoped(AdminUnit, unit_id, perm)
    if not unit.is_commune:
        raise ValidationFailed("commune_id: cameras belong to a commune (xã, phường, thị trấn)",
                               field="commune_id")
    return unit


def _listing(kind: str, unit_id: int | None, status: str | None, q: str | None, perm: str):
    """A camera listing (``kind``: "cameras" for Camera objects, "rows" for ``LIST_COLUMNS``): its
    statement, built once per shape, and the parameters to run it with."""
    scope = current_scope()
    params = {}
    units = None if scope.system else scope.units_with(perm)
    if unit_id is not None and units is not None:
        if unit_id not in units:
            raise NotFoundError()  # another commune's unit, or one that does not exist
        units = scope.units_below(unit_id, perm)
    if units is not None:
        if len(units) == 1:  # one commune: straight off the (commune_id, code) index
            params["commune_id"] = next(iter(units))
        else:
            params["units"] = ids_value(units, dialect_name())
    if unit_id is not None and units is None:
        params["unit_id"] = unit_id  # the subtree, found by the database
    if status:
        params["status"] = status
    if q:
        params["like"] = f"%{q}%"
    stmt = _listing_statement(kind, dialect_name(), frozenset(params))
    return stmt, params


@functools.lru_cache(maxsize=64)
def _listing_statement(kind: str, dialect: str, given: frozenset):
    if kind == "cameras":
        stmt = select(Camera)
    else:
        village = select(Village.name).where(Village.id == Camera.village_id).scalar_subquery()
        stmt = select(*LIST_COLUMNS, village.label("village_name"))
    if "commune_id" in given:
        stmt = stmt.where(Camera.commune_id == sa.bindparam("commune_id"))
    if "units" in given:
        stmt = stmt.where(in_ids(Camera.commune_id, "units", dialect))
    if "unit_id" in given:
        parent = sa.orm.aliased(AdminUnit)
        stmt = stmt.where(Camera.commune_id.in_(
            select(AdminUnit.id).join(parent, AdminUnit.path.startswith(parent.path))
            .where(parent.id == sa.bindparam("unit_id"))))
    if "status" in given:
        stmt = stmt.where(Camera.status == sa.bindparam("status"))
    if "like" in given:
        like = sa.bindparam("like")
        stmt = stmt.where(sa.or_(Camera.code.ilike(like), Camera.name.ilike(like), Camera.road.ilike(like)))
    return stmt.order_by(Camera.commune_id, Camera.code).limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))


def list_cameras(unit_id: int | None = None, status: str | None = None, q: str | None = None,
                 limit: int = 500, offset: int = 0, perm: str = "cameras.read") -> list[Camera]:
    stmt, params = _listing("cameras", unit_id, status, q, perm)
    return list(db.session.execute(stmt, {**params, "limit": limit, "offset": offset}).scalars())


# What a listing shows of a camera: everything but the reference view and bookkeeping.
LIST_COLUMNS = tuple(getattr(Camera, c.key) for c in Camera.__table__.c
                     if c.key not in ("reference_key", "reference_reset_at", "created_at"))


def list_camera_rows(unit_id: int | None = None, status: str | None = None, q: str | None = None,
                     limit: int = 500, offset: int = 0, perm: str = "cameras.read") -> list[dict]:
    """A listing read as plain rows (each with its ``consents`` and ``village_name``), for
    ``schemas.CameraOut``: the API's camera list is read far more often than it is written, and
    building ORM objects for it cost more than the query."""
    stmt, params = _listing("rows", unit_id, status, q, perm)
    rows = db.session.execute(stmt, {**params, "limit": limit, "offset": offset}).all()
    shared = [r.id for r in rows if r.ownership in SHARED]  # only shared cameras carry consents
    consents: dict[int, list] = {}
    if shared:
        for k in db.session.execute(select(CameraConsent).where(CameraConsent.camera_id.in_(shared))
                                    .order_by(CameraConsent.id)).scalars():
            consents.setdefault(k.camera_id, []).append(k)
    return [{**r._mapping, "consents": consents.get(r.id, ())} for r in rows]


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
    now = utc_now()
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
        consent.revoked_at = utc_now()
        audit.record("camera.consent.revoke", unit_id=camera.commune_id, object_type="camera",
                     object_id=camera.id, detail={"consent_id": consent.id})
    db.session.commit()
    db.session.refresh(camera)
    return consent
