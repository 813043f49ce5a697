"""Capturing RTSP cameras from the real GStreamer RTSP simulator, and its fault modes end to end."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from camnet.extensions import db
from camnet.capture.health import HealthSettings
from camnet.streams.models import FaultTicket, Snapshot
from camnet.tenants.scope import system_scope

from .capture_rig import add_camera, allow, capture_now, in_process_worker


@pytest.fixture(scope="module")
def rtsp_sim():
    from camsim.control import RtspSimUnavailable, start_rtsp_sim

    try:
        sim = start_rtsp_sim(port=0, n=4)
    except RtspSimUnavailable as exc:
        pytest.skip(str(exc))
    yield sim
    sim.stop()


@pytest.mark.parametrize("mode,rule", [("dark", "dark"), ("blur", "blur"), ("freeze", "frozen"),
                                       ("offline", "unreachable")])
def test_rtsp_camera_is_decoded_judged_and_recovers(make_app, rtsp_sim, mode, rule):
    n = ("dark", "blur", "freeze", "offline").index(mode) + 1
    rtsp_sim.set_mode(n, "normal")
    app = make_app("sqlite", allow(rtsp_sim.port))
    with app.app_context():
        from tests.world import build_world

        world = build_world(app)
        cam_id = add_camera(world.id("a"), f"R{n}", rtsp_main=rtsp_sim.url(n)).id
        worker = in_process_worker(app)
        first = capture_now(worker, cam_id, 1)[0]
        assert (first.rule, first.width, first.height) == ("ok", 640, 360), first.detail
        capture_now(worker, cam_id, 2)  # a second healthy frame, different from the first
        rtsp_sim.set_mode(n, mode)
        time.sleep(0.3)  # let the encoder pick the change up
        for slot in range(3, 3 + (HealthSettings().freeze_frames if mode == "freeze" else 1)):
            result = capture_now(worker, cam_id, slot)[0]
        assert result.rule == rule, result.detail
        rtsp_sim.set_mode(n, "normal")
        time.sleep(0.3)
        assert capture_now(worker, cam_id, 10)[0].rule == "ok"
        with system_scope():
            tickets = db.session.execute(select(FaultTicket).where(FaultTicket.camera_id == cam_id)).scalars().all()
            assert [(t.rule, t.status) for t in tickets] == [(rule, "closed")]
            snaps = db.session.execute(select(Snapshot).where(Snapshot.camera_id == cam_id)).scalars().all()
            store = app.extensions["camnet.storage"]
            assert all(store.get(s.object_key)[:2] == b"\xff\xd8" for s in snaps)
            assert worker.stats["captured_rtsp"] == len(snaps)
