"""Capturing RTSP cameras from the real GStreamer RTSP simulator, and its fault modes end to end."""
from __future__ import annotations

import socket
import threading
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
    from camsim.control import start_rtsp_sim

    sim = start_rtsp_sim(port=0, n=4)  # no skip: a missing simulator fails the test
    yield sim
    sim.stop()


class SilentCamera:
    """Accepts RTSP connections, reads what comes, never answers: a camera that stalls."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reached = threading.Event()
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            try:
                if conn.recv(4096):
                    self.reached.set()
            except OSError:
                pass

    def close(self):
        for conn in [self.sock, *self.conns]:
            conn.close()


def test_a_stalled_rtsp_camera_does_not_hold_up_the_others(make_app, rtsp_sim):
    """OpenCV took one process-wide lock for the whole of every open, so while one camera stalled
    (here up to its 3 s timeout) no other RTSP capture of the worker could even start: the grabs of
    a worker ran one at a time (~4 snapshots/s at most) and one stalled camera stopped them all."""
    from camnet.capture.connector import plan
    from camnet.capture.grab import rtsp_frame

    silent = SilentCamera()
    try:
        app = make_app("sqlite", allow(rtsp_sim.port, silent.port))
        stalled_done = threading.Event()
        healthy = {}

        def stalled():
            try:
                rtsp_frame(plan(f"rtsp://127.0.0.1:{silent.port}/stall", app.config), timeout=3.0)
            except Exception:  # noqa: BLE001 - it times out: that is the point
                pass
            finally:
                stalled_done.set()

        threading.Thread(target=stalled, daemon=True).start()
        assert silent.reached.wait(10), "the stalled grab never reached its camera"
        frame = rtsp_frame(plan(rtsp_sim.url(1), app.config))  # meanwhile, another camera
        healthy["stalled_still_open"] = not stalled_done.is_set()
        assert (frame.width, frame.height) == (640, 360)
        assert healthy["stalled_still_open"], "the healthy grab waited for the stalled camera to time out"
        stalled_done.wait(15)
    finally:
        silent.close()


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
