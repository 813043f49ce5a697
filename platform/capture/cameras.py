"""The worker's view of the camera register: plain ``CameraInfo`` values, read under system scope.

Jobs carry these values, not ORM objects: the slow part (the camera) runs with no database
session open.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..crypto import decrypt_password
from ..streams.models import Camera
from ..streams.registry import capturable_cameras_query

log = logging.getLogger("camnet.capture")


@dataclass
class CameraInfo:
    id: int
    commune_id: int
    interval: int
    snapshot_url: str | None
    mjpeg_url: str | None
    rtsp_url: str | None
    username: str | None = None
    password: str | None = None
    reference_key: str | None = None

    @property
    def sources(self) -> list[tuple[str, str]]:
        """Cheapest first: the camera's own JPEG, an MJPEG frame, then decoding the stream."""
        found = [("snapshot", self.snapshot_url), ("mjpeg", self.mjpeg_url), ("rtsp", self.rtsp_url)]
        return [(kind, url) for kind, url in found if url]


def load_cameras() -> dict[int, CameraInfo]:
    """Every camera that may be captured now (the caller holds system_scope)."""
    cams = {}
    for cam in db.session.execute(capturable_cameras_query()).scalars():
        try:
            password = decrypt_password(cam) if cam.password_enc else None
        except Exception:  # noqa: BLE001 - a bad token must not stop the others
            log.warning("camera %s: password cannot be decrypted", cam.id)
            password = None
        cams[cam.id] = CameraInfo(cam.id, cam.commune_id, max(1, cam.capture_interval or 60),
                                  cam.snapshot_url, cam.mjpeg_url, cam.rtsp_main or cam.rtsp_sub,
                                  cam.username, password, cam.reference_key)
    return cams


def reference_resets() -> dict:
    """Camera id -> when its reference was last reset (``streams.faults.reset_reference``; system scope)."""
    return dict(db.session.execute(select(Camera.id, Camera.reference_reset_at).where(
        Camera.reference_reset_at.is_not(None))).all())
