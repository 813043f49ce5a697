"""Live video of one camera for one viewer: authorise, audit, join the camera's restream, stream
fragmented MP4, and check again every ``LIVE_RECHECK_SECONDS`` that the viewer may still watch.

A viewer may watch while their session (or API token) is live, their grants still give
``media.view`` in the camera's commune, the camera is not decommissioned and a shared camera's
owner still consents to live viewing (``consent_gate``, a stated reason for "on request"). Any of
these ending ends the response within one re-check (2 s by default; the issue asks for 5).
"""
from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass

from flask import Response, current_app, g
from sqlalchemy import select

from ..clock import utc_now
from ..errors import ConflictError, DomainError
from ..extensions import db
from ..settings import numbers_from_config
from .. import crypto
from ..streams import urls
from ..streams.media import consent_gate
from ..streams.models import Camera
from ..tenants import audit, sessions
from ..tenants.access import get_scoped
from ..tenants.models import User, UserSession
from ..tenants.roles import scope_for_user
from ..tenants.scope import system_scope
from ..tenants.services import principal_for_token
from ..capture import connector
from .restream import END, Hub

log = logging.getLogger("camnet.video.live")

HUB_KEY = "camnet.video.hub"
SETTINGS_KEY = "camnet.video.live_settings"


@dataclass(frozen=True)
class LiveSettings:
    """Env or app config ``LIVE_<NAME>``."""

    recheck_seconds: float = 2.0  # a running view re-checks session, grants and consent this often
    idle_seconds: float = 10.0    # the upstream stays this long after its last viewer left
    frame_seconds: float = 5.0    # a restream publishes its newest keyframe for the worker this often
    start_timeout: float = 10.0   # a first viewer waits this long for the camera's init segment
    max_seconds: int = 3600       # one response lasts at most this long (the page reopens it)

    @classmethod
    def from_config(cls, config=None) -> "LiveSettings":
        return numbers_from_config(cls, "LIVE", config)


def settings(app=None) -> LiveSettings:
    return (app or current_app).extensions[SETTINGS_KEY]
H265_MESSAGE = ("Camera dùng H.265, trình duyệt không phát được: hiển thị ảnh chụp / "
                "H.265 camera: showing snapshots")


class NoLiveVideo(DomainError):
    """The camera has no stream the browser can play: the page shows snapshots instead."""

    status = 409

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def hub(app=None) -> Hub:
    return (app or current_app).extensions[HUB_KEY]


def source_url(camera: Camera, profile: str) -> str | None:
    if profile == "sub" and camera.rtsp_sub:
        return camera.rtsp_sub
    return camera.rtsp_main or camera.rtsp_sub


def _opener(target: connector.Plan, username: str | None, password: str | None):
    """For the restream: a fresh relay per (re)connection, pinned to the checked address."""
    def open_source():
        relay = connector.RtspRelay(target, timeout=10.0)
        return relay.url(username, password), relay.close
    return open_source


def _principal() -> dict:
    """What identifies the viewer for the re-checks: their session row, or their token."""
    from ..tenants.auth import bearer_secret
    from flask import request
    from flask_login import current_user

    who = {"user_id": current_user.id, "session_id": sessions.current_id(), "token": None}
    if g.get("auth_method") == "token":
        who["token"] = bearer_secret(request)
    return who


def still_allowed(who: dict, camera_id: int, reason: str | None) -> bool:
    """Re-check a running view (in an app context): session or token, grants, camera, consent."""
    with system_scope():
        try:
            if who["token"]:
                found = principal_for_token(who["token"])
                if found is None:
                    return False
                scope = found[1]
            else:
                user = db.session.get(User, who["user_id"])
                if user is None or not user.active:
                    return False
                if who["session_id"] is not None:
                    row = db.session.get(UserSession, who["session_id"])
                    if row is None:
                        return False
                    # watching is activity: only a revoked or expired session ends the view
                    if sessions.ended_because(row, {gr.role for gr in user.grants}, utc_now()) not in (None, "idle"):
                        return False
                scope = scope_for_user(user)
            camera = db.session.execute(select(Camera).where(Camera.id == camera_id)
                                        .execution_options(populate_existing=True)).scalar_one_or_none()
            if camera is None or camera.status == "decommissioned":
                return False
            if not scope.can("media.view", camera.commune_id):
                return False
            consent_gate(camera, "live", reason)
            return True
        except DomainError:
            return False
        finally:
            db.session.remove()


def open_view(camera_id: int, reason: str | None, profile: str = "main", max_seconds: int = 3600) -> Response:
    """Authorise, join the restream, audit, and answer with the fragmented MP4 stream."""
    camera = get_scoped(Camera, camera_id, "media.view")
    consent_gate(camera, "live", reason)
    if camera.status == "decommissioned":
        raise ConflictError("camera_id: camera đã ngừng sử dụng / the camera is decommissioned", field="camera_id")
    url = source_url(camera, profile)
    if not url:
        raise NoLiveVideo("no_rtsp", "Camera không có luồng RTSP: hiển thị ảnh chụp / "
                                     "No RTSP stream: showing snapshots")
    app = current_app._get_current_object()
    key = (camera.id, profile if profile == "sub" and camera.rtsp_sub else "main")
    the_hub = hub(app)
    if key in the_hub.h265 and the_hub.is_h265(camera.id):
        raise NoLiveVideo("h265", H265_MESSAGE)
    try:
        target = connector.plan(url)
    except connector.CameraError as exc:
        raise urls.UnsafeURL(exc.label) from None
    opener = _opener(target, camera.username, crypto.decrypt_password(camera))
    stream, viewer, start = the_hub.join(key, opener, timeout=settings(app).start_timeout)
    if viewer is None:
        if stream.state == "h265":
            raise NoLiveVideo("h265", H265_MESSAGE)
        raise urls.UnsafeURL(connector.LABELS["no_picture"])
    try:
        audit.media_access(unit_id=camera.commune_id, object_type="camera", object_id=camera.id,
                           action="media.live", reason=reason,
                           detail={"source": "restream", "profile": key[1], "codec": stream.codec})
    except Exception:
        stream.leave(viewer)
        raise
    who = _principal()
    gen = _stream(app, stream, viewer, start, who, camera.id, reason, settings(app).recheck_seconds,
                  min(max_seconds, settings(app).max_seconds))
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "X-Camnet-Codec": stream.codec or "",
               "X-Content-Type-Options": "nosniff"}
    return Response(gen, headers=headers, content_type="video/mp4", direct_passthrough=True)


def _stream(app, stream, viewer, start, who, camera_id, reason, recheck, max_seconds):
    """Runs after the view returned: its own app context for each re-check, nothing held across a yield."""
    until = time.monotonic() + max_seconds
    checked = time.monotonic()
    try:
        for chunk in start:
            yield chunk
        while time.monotonic() < until:
            if time.monotonic() - checked >= recheck:
                checked = time.monotonic()
                with app.app_context():
                    if not still_allowed(who, camera_id, reason):
                        log.info("live view of camera %s ended: no longer allowed", camera_id)
                        return
            try:
                item = viewer.queue.get(timeout=min(recheck, 1.0))
            except queue.Empty:
                continue
            if item is END:
                return
            yield item
    finally:
        stream.leave(viewer)


# ---- the capture worker's question: a live frame of camera X newer than N s? ----------------------

FRAME_KEY = "video:live-frame:{}"


def publisher(app):
    """Where restreams put their newest keyframe for the capture worker (the coordination store:
    Redis when configured, shared with the worker; in-process otherwise)."""
    coord = app.extensions["camnet.coord"]
    ttl = max(2, int(settings(app).frame_seconds * 3))

    def publish(key, when: float, data: bytes) -> None:
        payload = b"%.3f\n" % when + data
        client = getattr(coord, "client", None)
        if client is not None:  # redis: bytes as they are
            client.set(coord.k(FRAME_KEY.format(key[0])), payload, ex=ttl)
        else:
            coord.set(FRAME_KEY.format(key[0]), payload, ttl)
    return publish


ACTIVE: dict = {}  # "app": the app of this process (the worker builds one), for the capture hook


def live_frame_hook(camera_id: int, max_age: float):
    """Registered with capture (``grab.LIVE_FRAME_SOURCES``): runs in the worker's thread pool."""
    app = ACTIVE.get("app")
    if app is None:
        return None
    return live_frame(app, camera_id, max_age)


def live_frame(app, camera_id: int, max_age: float):
    """The newest keyframe of a restreamed camera as a capture ``Frame``, when one newer than
    ``max_age`` seconds is at hand; else None (the worker then opens the camera itself)."""
    data = hub(app).live_keyframe(camera_id, max_age)
    if data is None:
        coord = app.extensions["camnet.coord"]
        client = getattr(coord, "client", None)
        try:
            payload = (client.get(coord.k(FRAME_KEY.format(camera_id))) if client is not None
                       else coord.get(FRAME_KEY.format(camera_id)))
        except Exception:  # noqa: BLE001 - the store away: no live frame
            return None
        if not payload:
            return None
        when, _, body = bytes(payload).partition(b"\n")
        if time.time() - float(when) > max_age:
            return None
        data = body
    from .frames import decode_keyframe

    return decode_keyframe(data)
