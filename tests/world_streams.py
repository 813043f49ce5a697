"""Streams objects for the isolation matrix: per commune a camera, a shared camera with consent,
a snapshot (real JPEG bytes in the store), a clip and a fault ticket."""
from __future__ import annotations

import functools
import hashlib
from datetime import date, datetime, timedelta, timezone

from flask import current_app

from camnet.extensions import db
from camnet.streams.models import Camera, CameraConsent, Clip, FaultTicket, Snapshot

from .world import FOREIGN

PARAMS = {"camera_id": "camera", "consent_id": "consent", "snapshot_id": "snapshot", "clip_id": "clip",
          "ticket_id": "ticket"}


@functools.lru_cache(maxsize=4)
def jpeg_bytes(level: int = 120, w: int = 64, h: int = 48) -> bytes:
    """A real JPEG (a grey gradient) made with OpenCV."""
    import cv2
    import numpy as np

    img = np.tile(np.linspace(level // 2, level, w, dtype=np.uint8), (h, 1))
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def add_snapshot(camera: Camera, taken_at: datetime, *, evidence: bool = False, data: bytes | None = None,
                 store=None) -> Snapshot:
    """Put a JPEG in the store and its metadata row, as the capture worker would."""
    data = data or jpeg_bytes()
    store = store or current_app.extensions["camnet.storage"]
    key = f"{camera.commune_id}/{camera.id}/{taken_at:%Y/%m/%d/%H%M%S%f}.jpg"
    store.put(key, data, "image/jpeg")
    snap = Snapshot(camera_id=camera.id, commune_id=camera.commune_id, taken_at=taken_at,
                    slot=int(taken_at.timestamp() * 1_000_000), object_key=key, size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), width=64, height=48, worker="test", evidence=evidence)
    db.session.add(snap)
    db.session.flush()
    return snap


def build(w) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    store = current_app.extensions["camnet.storage"]
    for key in ("a", "b", "c", "d"):
        unit = w.units[key]
        mark = "" if key == "a" else f" {FOREIGN}"
        cam = Camera(commune_id=unit.id, code=f"CAM-{key.upper()}1", name=f"Ngã tư chợ{mark} {key}",
                     road=f"Đường làng{mark}", status="active", snapshot_url="http://10.0.0.5/snap.jpg")
        shared = Camera(commune_id=unit.id, code=f"CAM-{key.upper()}2", name=f"Cổng nhà hàng{mark} {key}",
                        ownership="business", owner_name=f"Cửa hàng{mark}", status="active",
                        snapshot_url="http://10.0.0.6/snap.jpg")
        db.session.add_all([cam, shared])
        db.session.flush()
        consent = CameraConsent(camera_id=shared.id, commune_id=unit.id, shares="live",
                                granted_by=f"Chủ cửa hàng{mark}", since=date(2026, 1, 1))
        db.session.add(consent)
        snap = add_snapshot(cam, now - timedelta(minutes=5), store=store)
        clip_key = f"{unit.id}/{cam.id}/clips/{now:%Y%m%d%H%M%S}.mp4"
        store.put(clip_key, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4")
        clip = Clip(camera_id=cam.id, commune_id=unit.id, duration_s=10, status="ready", object_key=clip_key,
                    size=82, sha256="0" * 64, started_at=now - timedelta(minutes=3))
        ticket = FaultTicket(camera_id=cam.id, commune_id=unit.id, rule="dark", status="open",
                             evidence_snapshot_id=snap.id, detail={"mean": 0.5})
        db.session.add_all([clip, ticket])
        db.session.flush()
        for kind, obj in (("camera", cam), ("camera", shared), ("consent", consent), ("snapshot", snap),
                          ("clip", clip), ("ticket", ticket)):
            w.add(kind, key, obj)
        # the same objects by role, for this feature's tests (other features add cameras too)
        w.__dict__.setdefault("streams", {})[key] = {"camera": cam, "shared": shared}
