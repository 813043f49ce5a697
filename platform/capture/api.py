"""Capture API: the live view, the one route of the web process that opens a camera (through ``connector``)."""
from __future__ import annotations

import logging

from flask import jsonify

from ..apispec import ApiBlueprint
from ..streams.schemas import LiveQuery
from ..streams.urls import UnsafeURL
from . import live

# Tagged "streams" like the rest of the camera API: clients see one camera API whatever package serves it.
bp = ApiBlueprint("capture_api", __name__, tag="streams")
log = logging.getLogger("camnet.capture.api")


@bp.operation("/cameras/<int:camera_id>/live", summary="Xem trực tiếp qua nền tảng (MJPEG) / Live view via the platform",
              perm="media.view", query=LiveQuery, binary="multipart/x-mixed-replace")
def live_view(camera_id: int, query: LiveQuery):
    try:
        return live.live_view(camera_id, query.reason, query.max_seconds, query.frames, query.fps)
    except UnsafeURL as exc:
        # The reason names the camera's address: it goes to the log, never to the browser.
        log.warning("live view of camera %s refused: %s", camera_id, exc)
        return jsonify({"error": "camera_unavailable",
                        "message": "Camera không phản hồi / The camera is not available"}), 409
