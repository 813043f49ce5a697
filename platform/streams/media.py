"""Viewing camera media: latest snapshots, history, downloads, clips, evidence and the live proxy.

Every view or download passes the role and tenant check, the consent of a shared camera, and
writes an audit row (``audit.media_access``) before the bytes or the URL leave. Media leaves as
an S3 presigned URL of at most 300 s, or, on the local store, through the app's own route with a
signed link of the same lifetime.
"""
from __future__ import annotations

import time

from flask import current_app, redirect, url_for
from sqlalchemy import select
from sqlalchemy.orm import lazyload

from ..clock import utc_now
from ..errors import ConflictError, DomainError, ForbiddenError, ValidationFailed
from ..extensions import db
from ..tenants import audit
from ..tenants.access import get_scoped
from ..tenants.idsets import member_of
from ..tenants.models import AdminUnit
from ..tenants.scope import current_scope
from ..storage import StorageError
from .models import Camera, Clip, Snapshot
from .registry import SHARED, active_consent

class StorageUnavailable(DomainError):
    status = 503
    code = "storage_unavailable"

    def __init__(self):
        super().__init__("Kho lưu trữ tạm thời không truy cập được / Object store unavailable")


CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "mp4": "video/mp4"}


def link_seconds() -> int:
    return max(1, min(int(current_app.config.get("PRESIGN_SECONDS", 300)), 300))


def consent_gate(camera: Camera, what: str, reason: str | None, held: bool = False) -> None:
    """What a shared camera's owner agreed to: ``what`` is "snapshots" or "live" (video, clips).

    Consent "on_request" gives media only with a stated reason. Evidence already held stays
    viewable after a revocation (it is kept for the case, not for watching).
    """
    if camera.ownership not in SHARED:
        return
    consent = active_consent(camera)
    if consent is None:
        if held:
            return
        raise ForbiddenError("Chủ camera đã thu hồi đồng ý chia sẻ / The owner revoked consent")
    if consent.shares == "on_request":
        if not (reason or "").strip():
            raise ValidationFailed("reason: camera chia sẻ khi có yêu cầu, cần nêu lý do / "
                                   "this shared camera gives media only with a reason", field="reason")
        return
    if what == "live" and consent.shares != "live":
        raise ForbiddenError("Chủ camera chỉ chia sẻ ảnh chụp / The owner shares snapshots only")


def _camera(camera_id: int) -> Camera:
    return db.session.execute(
        select(Camera).where(Camera.id == camera_id).execution_options(populate_existing=True)
    ).scalar_one()


def deliver(*, unit_id: int, object_type: str, object_id, key: str, reason: str | None,
            action: str = "media.view", detail: dict | None = None):
    """Audit, then redirect to a short-lived URL for the object."""
    store = current_app.extensions["camnet.storage"]
    audit.media_access(unit_id=unit_id, object_type=object_type, object_id=object_id, action=action,
                       reason=reason, detail=detail)
    seconds = link_seconds()
    try:
        url = store.presigned_url(key, expires=seconds)
    except StorageError as exc:
        raise StorageUnavailable() from exc
    if url is None:  # local store: the app serves it after checking its own signature
        url = url_for("streams.local_object", key=key, s=store.sign(key, seconds))
    resp = redirect(url, code=302)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# ---- snapshots -------------------------------------------------------------------------------

def latest_snapshots(unit_id: int | None = None) -> list[tuple[Camera, Snapshot | None]]:
    """The newest snapshot of each camera the user may view (one indexed lookup per camera)."""
    scope = current_scope()
    stmt = select(Camera).where(Camera.status != "decommissioned").order_by(Camera.commune_id, Camera.code)
    if not scope.system:
        stmt = stmt.where(member_of(Camera.commune_id, scope.units_with("media.view")))
    if unit_id is not None:
        unit = get_scoped(AdminUnit, unit_id, "media.view")
        stmt = stmt.where(Camera.commune_id.in_(
            select(AdminUnit.id).where(AdminUnit.path.startswith(unit.path, autoescape=True))))
    cameras = list(db.session.execute(stmt).scalars())
    newest = (select(Snapshot.id).where(Snapshot.camera_id == Camera.id)
              .order_by(Snapshot.taken_at.desc()).limit(1).correlate(Camera).scalar_subquery())
    ids = dict(db.session.execute(
        select(Camera.id, newest).where(Camera.id.in_([c.id for c in cameras]))).all()) if cameras else {}
    snaps = {s.id: s for s in db.session.execute(
        select(Snapshot).where(Snapshot.id.in_([i for i in ids.values() if i]))).scalars()} if ids else {}
    return [(c, snaps.get(ids.get(c.id))) for c in cameras]


def history(camera_id: int, before=None, after=None, limit: int = 50) -> tuple[Camera, list[Snapshot]]:
    """A camera's snapshots by time, newest first, paged by ``before`` (index camera_id, taken_at)."""
    camera = get_scoped(Camera, camera_id, "media.view", options=(lazyload(Camera.consents),))
    # plain rows, not tracked objects: a page of metadata is read, never changed
    stmt = select(*Snapshot.__table__.c).where(Snapshot.camera_id == camera.id)
    if before is not None:
        stmt = stmt.where(Snapshot.taken_at < before)
    if after is not None:
        stmt = stmt.where(Snapshot.taken_at > after)
    rows = db.session.execute(stmt.order_by(Snapshot.taken_at.desc(), Snapshot.id.desc()).limit(limit))
    return camera, list(rows)


def view_snapshot(snapshot_id: int, reason: str | None, perm: str = "media.view", via: str | None = None):
    snap = get_scoped(Snapshot, snapshot_id, perm)
    consent_gate(_camera(snap.camera_id), "snapshots", reason, held=snap.evidence)
    return deliver(unit_id=snap.commune_id, object_type="snapshot", object_id=snap.id, key=snap.object_key,
                   reason=reason, detail={"camera_id": snap.camera_id, **({"via": via} if via else {})})


# Set by a higher feature (incidents) at start-up: ``release(kind, item, reason)`` releases an item a
# case holds, or raises; it returns False when no case holds it, and the flag is cleared here.
HOLD_RELEASE = "camnet.evidence_hold_release"


def _released_by_case(kind: str, item, reason: str | None) -> bool:
    release = current_app.extensions.get(HOLD_RELEASE)
    return bool(release and release(kind, item, reason))


def set_snapshot_evidence(snapshot_id: int, evidence: bool, reason: str | None = None) -> Snapshot:
    snap = get_scoped(Snapshot, snapshot_id, "incidents.manage")
    if not evidence and _released_by_case("snapshot", snap, reason):
        return snap
    snap.evidence = evidence
    audit.record("snapshot.evidence", unit_id=snap.commune_id, object_type="snapshot", object_id=snap.id,
                 reason=reason, detail={"evidence": evidence})
    db.session.commit()
    return snap


# ---- clips -----------------------------------------------------------------------------------

def request_clip(camera_id: int, seconds: int, reason: str | None) -> Clip:
    """A pending clip row; the capture worker records it and sets status, object_key, sha256."""
    camera = get_scoped(Camera, camera_id, "media.view")
    if camera.status in ("planned", "decommissioned"):
        raise ValidationFailed("camera_id: camera is not in service", field="camera_id")
    consent_gate(camera, "live", reason)
    clip = Clip(camera_id=camera.id, commune_id=camera.commune_id, duration_s=seconds, status="pending",
                requested_by_id=current_scope().user_id, started_at=utc_now())
    db.session.add(clip)
    db.session.flush()
    audit.record("clip.request", unit_id=camera.commune_id, object_type="clip", object_id=clip.id,
                 reason=reason, detail={"camera_id": camera.id, "seconds": seconds})
    db.session.commit()
    return clip


def view_clip(clip_id: int, reason: str | None):
    clip = get_scoped(Clip, clip_id, "media.view")
    consent_gate(_camera(clip.camera_id), "live", reason, held=clip.evidence)
    if clip.status != "ready" or not clip.object_key:
        raise ConflictError(f"status: clip is {clip.status}, not ready", field="status")
    return deliver(unit_id=clip.commune_id, object_type="clip", object_id=clip.id, key=clip.object_key,
                   reason=reason, action="media.download", detail={"camera_id": clip.camera_id})


def set_clip_evidence(clip_id: int, evidence: bool, reason: str | None = None) -> Clip:
    """Evidence is held in the database always, and by an object-lock legal hold where the store has one."""
    clip = get_scoped(Clip, clip_id, "incidents.manage")
    if not evidence and _released_by_case("clip", clip, reason):
        return clip
    store = current_app.extensions["camnet.storage"]
    on_store = False
    if clip.object_key:
        try:
            on_store = bool(store.set_legal_hold(clip.object_key, evidence))
        except StorageError as exc:
            raise ConflictError(f"evidence: the object store refused the legal hold ({exc})",
                                field="evidence") from None
    clip.evidence = evidence
    clip.legal_hold = evidence
    audit.record("clip.evidence", unit_id=clip.commune_id, object_type="clip", object_id=clip.id,
                 reason=reason, detail={"evidence": evidence, "store_hold": on_store})
    db.session.commit()
    return clip


def newest_snapshot_id(camera_id: int) -> int | None:
    return db.session.execute(
        select(Snapshot.id).where(Snapshot.camera_id == camera_id)
        .order_by(Snapshot.taken_at.desc(), Snapshot.id.desc()).limit(1)).scalar()


def sleep(seconds: float) -> None:
    time.sleep(seconds)  # cooperative under gevent (serve patches the time module)


