"""The capture side of the demo: the built-in simulator shows each demo camera as the register
says it is (dark, covered, moved, offline...), so the embedded capture worker keeps the demo's
trouble instead of "recovering" it; the moved cameras get the reference view they were moved
from; and the month of uptime history gets the low-uptime tickets the worker would have opened."""
from __future__ import annotations

import os

from flask import current_app
from sqlalchemy import or_, select

from ..clock import utc_now
from ..extensions import db
from ..streams.demo import SIM_HTTP, SIM_MODES
from ..streams.models import Camera, CameraUptimeDay
from ..tenants.scope import system_scope
from .embedded import SCENE_FILE
from .health import HealthSettings
from .reference import reference_key
from .uptime import low_uptime_tickets

SIM_PREFIX = SIM_HTTP.split("{", 1)[0]  # http://127.0.0.1:8090/cam/


def _sim_id(url: str | None) -> str | None:
    if not url or not url.startswith(SIM_PREFIX):
        return None
    return url[len(SIM_PREFIX):].split("/", 1)[0]


def scene_of(cameras) -> dict[str, str]:
    """Simulator camera id -> mode for every camera whose address is the built-in simulator:
    the mode that shows the rule the camera is in (``streams.demo.SIM_MODES``), else normal."""
    scene = {}
    for cam in cameras:
        if cam.status not in ("active", "offline", "faulty"):
            continue
        for url in (cam.snapshot_url, cam.mjpeg_url):
            sim_id = _sim_id(url)
            if sim_id and sim_id == cam.code:  # a mistyped address stays unknown (404)
                scene[sim_id] = SIM_MODES.get(cam.health or "", "normal")
    return scene


def _reference(cam) -> None:
    """A moved camera's reference view: the simulator's normal picture of it, as the worker keeps
    it (the small grayscale copy of the JPEG)."""
    import cv2

    from camsim.http_camera import look_of, render_frame

    from .grab import small_from_jpeg

    jpeg = cv2.imencode(".jpg", render_frame(look_of(cam.code), 640, 360, 0, "normal"))[1].tobytes()
    png = cv2.imencode(".png", small_from_jpeg(jpeg))[1].tobytes()
    cam.reference_key = reference_key(cam)
    current_app.extensions["camnet.storage"].put(cam.reference_key, png, "image/png")


def load() -> dict:
    """Idempotent: the scene file is written again, references and tickets only once."""
    with system_scope():
        cameras = list(db.session.execute(select(Camera).where(or_(
            Camera.snapshot_url.startswith(SIM_PREFIX), Camera.mjpeg_url.startswith(SIM_PREFIX)))).scalars())
        for cam in cameras:
            if cam.health == "moved" and not cam.reference_key:
                _reference(cam)
        rows = list(db.session.execute(select(CameraUptimeDay).where(
            CameraUptimeDay.day < utc_now().date())).scalars())
        opened = low_uptime_tickets(db.session, rows, HealthSettings.from_config(current_app.config))
        db.session.commit()
        scene = scene_of(cameras)
    from camsim.scenes import write_scene

    write_scene(os.path.join(current_app.config["INSTANCE_DIR"], SCENE_FILE), scene)
    return {"simulated_cameras": len(scene), "low_uptime_tickets": len(opened)}
