"""Recorded video for the isolation matrix: per commune one stored segment of its first camera."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from flask import current_app

from camnet.extensions import db
from camnet.video.segments import RecordingSegment

PARAMS = {"segment_id": "recording_segment"}
DATA = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64


def build(w) -> None:
    store = current_app.extensions["camnet.storage"]
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
    for key in ("a", "b", "c", "d"):
        cam = w.extra["camera"][key][0]
        object_key = f"{cam.commune_id}/{cam.id}/rec/{start:%Y/%m/%d/%H%M%S}.000-world.mp4"
        store.put(object_key, DATA, "video/mp4")
        seg = RecordingSegment(camera_id=cam.id, commune_id=cam.commune_id, started_at=start,
                               ended_at=start + timedelta(seconds=60), object_key=object_key, size=len(DATA),
                               sha256=hashlib.sha256(DATA).hexdigest(), worker="world")
        db.session.add(seg)
        db.session.flush()
        w.add("recording_segment", key, seg)
