"""Live view proxied by the platform: the browser never learns a camera's address or password.

A camera with an MJPEG URL is streamed through ``connector`` (checked address, no redirects); any
other camera re-serves its newest snapshots as ``multipart/x-mixed-replace``.
"""
from __future__ import annotations

import time
from datetime import timezone

from flask import Response, current_app
from sqlalchemy import select

from ..clock import utc_now
from ..errors import ConflictError
from ..extensions import db
from ..tenants import audit
from ..tenants.access import get_scoped
from ..tenants.scope import current_scope, use_scope
from .. import crypto
from ..streams import urls
from ..streams.media import consent_gate, newest_snapshot_id, sleep
from ..streams.models import Camera, Snapshot
from . import connector

BOUNDARY = "camnetlive"
CHUNK = 16384


def live_view(camera_id: int, reason: str | None, max_seconds: int = 300, frames: int | None = None,
              fps: float = 1.0) -> Response:
    camera = get_scoped(Camera, camera_id, "media.view")
    consent_gate(camera, "live", reason)
    source = "mjpeg" if camera.mjpeg_url else "snapshots"
    if source == "mjpeg":
        target = _checked(camera.mjpeg_url)  # refuse before auditing a view
    app = current_app._get_current_object()
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if source == "mjpeg":
        user = camera.username
        password = crypto.decrypt_password(camera)
        upstream, ctype = _open_mjpeg(target, user, password)
        _audit_live(camera, reason, source)
        return Response(_pass_through(upstream, max_seconds, frames), headers=headers, content_type=ctype,
                        direct_passthrough=True)
    scope = current_scope()
    idle = 2 * max(camera.capture_interval or 60, 1) + 5
    if not _fresh(camera.id, idle):
        raise ConflictError("camera_id: chưa có hình mới, camera không đang được ghi / "
                            "no recent picture: the camera is not being captured", field="camera_id")
    _audit_live(camera, reason, source)
    gen = _replay_snapshots(app, scope, camera.id, max_seconds, frames, fps, idle)
    return Response(gen, headers=headers, content_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                    direct_passthrough=True)


def _audit_live(camera: Camera, reason: str | None, source: str) -> None:
    audit.media_access(unit_id=camera.commune_id, object_type="camera", object_id=camera.id,
                       action="media.live", reason=reason, detail={"source": source})


def _fresh(camera_id: int, idle: float) -> bool:
    newest = db.session.execute(select(Snapshot.taken_at).where(Snapshot.camera_id == camera_id)
                                .order_by(Snapshot.taken_at.desc()).limit(1)).scalar()
    if newest is None:
        return False
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=timezone.utc)
    return (utc_now() - newest).total_seconds() <= idle


def _checked(url: str) -> connector.Plan:
    try:
        return connector.plan(url)
    except connector.CameraError as exc:
        raise urls.UnsafeURL(exc.label) from None


def _open_mjpeg(target: connector.Plan, user: str | None, password: str | None):
    """The camera's stream through the connector: the checked address, no redirect followed.
    A failure is ``UnsafeURL`` with a fixed label (the API answers 409 and logs it)."""
    try:
        resp = connector.open_http(connector.live_manager(), target, user, password)
    except connector.CameraError as exc:
        raise urls.UnsafeURL(exc.label) from None
    ctype = resp.headers.get("Content-Type", "")
    if not ctype.startswith("multipart/"):
        resp.close()
        raise urls.UnsafeURL(connector.LABELS["http_error"])
    return resp, ctype


def _pass_through(resp, max_seconds: int, frames: int | None):
    boundary = b"--" + resp.headers.get("Content-Type", "").split("boundary=")[-1].strip('"').encode()
    until = time.monotonic() + max_seconds
    seen = 0
    try:
        while time.monotonic() < until:
            try:
                chunk = resp.read1(CHUNK)
            except Exception:  # noqa: BLE001 - the camera went away: end the stream
                break
            if not chunk:
                break
            yield chunk
            seen += chunk.count(boundary)
            if frames is not None and seen > frames:
                break
    finally:
        resp.close()


def _newest_frame(app, scope, camera_id: int) -> tuple[int | None, bytes | None]:
    """One short app context per frame: nothing (context, transaction) is held across a yield."""
    with app.app_context(), use_scope(scope):
        try:
            snap_id = newest_snapshot_id(camera_id)
            if snap_id is None:
                return None, None
            key = db.session.get(Snapshot, snap_id).object_key
        finally:
            db.session.remove()
    try:
        return snap_id, app.extensions["camnet.storage"].get(key)
    except Exception:  # noqa: BLE001 - a missing object skips one frame
        return snap_id, None


def _replay_snapshots(app, scope, camera_id: int, max_seconds: int, frames: int | None, fps: float,
                      idle: float):
    """Runs after the view returned, so it opens its own app context with the viewer's scope."""
    until = time.monotonic() + max_seconds
    sent, last = 0, None
    changed = time.monotonic()
    while time.monotonic() < until and (frames is None or sent < frames):
        snap_id, data = _newest_frame(app, scope, camera_id)
        if snap_id == last and time.monotonic() - changed > idle:
            break  # capture stopped: end the stream rather than show a stale picture forever
        if data and (snap_id != last or frames is not None):
            if snap_id != last:
                changed = time.monotonic()
            last = snap_id
            sent += 1
            yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                   f"Content-Length: {len(data)}\r\n\r\n").encode() + data + b"\r\n"
            if frames is not None and sent >= frames:
                break
        sleep(1.0 / fps)
