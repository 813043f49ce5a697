"""Capturing HTTP cameras: the snapshot row and object, MJPEG, refused addresses, and a slow camera
that must not hold up the others (a real `camnet worker` process, embedded mode without Redis)."""
from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timezone

from sqlalchemy import select

from camnet.extensions import db
from camsim.http_camera import HttpCameraSim
from camnet.capture.frame import jpeg_size
from camnet.streams.models import Camera, CameraConsent, Snapshot
from camnet.tenants.scope import system_scope

from .capture_rig import (add_camera, allow, capture_now, in_process_worker, start_worker, stop,
                          wait_for, worker_env)


def test_jpeg_size_reads_the_frame_header_without_decoding():
    import cv2
    import numpy as np

    for w, h in ((640, 360), (1920, 1080), (17, 9)):
        ok, buf = cv2.imencode(".jpg", np.zeros((h, w, 3), np.uint8))
        assert jpeg_size(buf.tobytes()) == (w, h)


def test_snapshot_is_stored_under_commune_camera_date_with_its_row(make_app):
    sim = HttpCameraSim(port=0)
    sim.start()
    try:
        app = make_app("sqlite", allow(sim.port))
        with app.app_context():
            from tests.world import build_world

            world = build_world(app)
            commune = world.id("a")
            cam = add_camera(commune, "HT1", snapshot_url=sim.snapshot_url("ht1"))
            mj = add_camera(commune, "MJ1", mjpeg_url=sim.mjpeg_url("mj1"))
            worker = in_process_worker(app, "w-http")
            capture_now(worker, cam.id, 7)
            capture_now(worker, mj.id, 7)
            store = app.extensions["camnet.storage"]
            with system_scope():
                snap = db.session.execute(select(Snapshot).where(Snapshot.camera_id == cam.id)).scalar_one()
                data = store.get(snap.object_key)
                assert re.fullmatch(rf"{commune}/{cam.id}/\d{{4}}/\d\d/\d\d/\d{{6}}\.jpg", snap.object_key)
                assert snap.object_key.endswith(snap.taken_at.astimezone(timezone.utc).strftime("%Y/%m/%d/%H%M%S.jpg"))
                assert (snap.size, snap.sha256) == (len(data), hashlib.sha256(data).hexdigest())
                assert (snap.width, snap.height, snap.worker, snap.slot, snap.health) == (640, 360, "w-http", 7, "ok")
                camera = db.session.get(Camera, cam.id)
                assert camera.last_snapshot_at and camera.last_ok_at and camera.health == "ok"
                mj_snap = db.session.execute(select(Snapshot).where(Snapshot.camera_id == mj.id)).scalar_one()
                assert store.get(mj_snap.object_key)[:2] == b"\xff\xd8" and mj_snap.width == 640
    finally:
        sim.stop()


def test_worker_metrics_count_snapshots_per_commune_and_the_spool(make_app):
    import urllib.request

    from camnet.capture.metrics import serve_metrics

    from .capture_rig import free_port

    sim = HttpCameraSim(port=0)
    sim.start()
    try:
        app = make_app("sqlite", allow(sim.port))
        with app.app_context():
            from tests.world import build_world

            world = build_world(app)
            good = add_camera(world.id("a"), "MT1", snapshot_url=sim.snapshot_url("mt1"))
            dead = add_camera(world.id("a"), "MT2", snapshot_url=sim.snapshot_url("mt2"))
            sim.set_mode("mt2", "offline")
            worker = in_process_worker(app, "w-metrics")
            capture_now(worker, good.id, 3)
            capture_now(worker, dead.id, 3)
            port = free_port()
            serve_metrics(worker, port)
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        commune = world.id("a")
        assert f'camnet_worker_snapshots_total{{commune_id="{commune}",outcome="taken"}} 1.0' in text
        assert f'camnet_worker_snapshots_total{{commune_id="{commune}",outcome="failed"}} 1.0' in text
        assert "camnet_worker_spool_depth 0.0" in text
    finally:
        sim.stop()


def test_camera_outside_allowed_networks_is_never_contacted(make_app):
    sim = HttpCameraSim(port=0)
    sim.start()
    try:
        app = make_app("sqlite")  # the simulator's port is not allowed here
        with app.app_context():
            from tests.world import build_world

            world = build_world(app)
            cam = add_camera(world.id("a"), "BAD", snapshot_url=sim.snapshot_url("bad"))
            batch = capture_now(in_process_worker(app), cam.id, 1)
            # a fixed label: why it was refused goes to the server log, not to the fault ticket
            assert batch[0].rule == "unreachable"
            assert batch[0].detail["error"] == "snapshot: địa chỉ không được phép / address not allowed"
            assert sim.mode("bad") == "normal" and "bad" not in sim._cams  # no request reached it
    finally:
        sim.stop()


def test_slow_camera_does_not_delay_others_and_revoked_consent_stops_capture(make_app, tmp_path):
    sim = HttpCameraSim(port=0, slow_delay=30)
    sim.start()
    proc = None
    try:
        app = make_app("sqlite", {**allow(sim.port), "REDIS_URL": None})
        with app.app_context():
            from tests.world import build_world

            world = build_world(app)
            commune = world.id("a")
            slow = add_camera(commune, "SLOW", interval=2, snapshot_url=sim.snapshot_url("slow"))
            fast = add_camera(commune, "FAST", interval=2, snapshot_url=sim.snapshot_url("fast"))
            shared = add_camera(commune, "HOUSE", interval=2, snapshot_url=sim.snapshot_url("house"))
            with system_scope():
                db.session.get(Camera, shared.id).ownership = "household"
                consent = CameraConsent(camera_id=shared.id, commune_id=commune, shares="snapshots",
                                        granted_by="Hộ ông Nguyễn Văn A", since=datetime.now(timezone.utc).date())
                db.session.add(consent)
                db.session.commit()
            sim.set_mode("slow", "slow")
            env = worker_env(app, REDIS_URL="", CAPTURE_REFRESH=1, CAPTURE_HTTP_TIMEOUT=20,
                             CAPTURE_CONCURRENCY=4)
            proc = start_worker(env, "solo", tmp_path)

            def slots(cam_id):
                with system_scope():
                    s = db.session.execute(select(Snapshot.slot).where(Snapshot.camera_id == cam_id)).scalars().all()
                    db.session.commit()
                return sorted(s)

            # while the slow camera's first request hangs (20 s timeout), the others keep their schedule
            wait_for(lambda: len(slots(fast.id)) >= 4, 40, what="fast camera captured")
            assert slots(slow.id) == []
            got = slots(fast.id)
            assert got[-1] - got[0] <= len(got)  # consecutive slots, at most one missed at start-up
            assert slots(shared.id)

            with system_scope():
                db.session.get(CameraConsent, consent.id).revoked_at = datetime.now(timezone.utc)
                db.session.commit()
            revoked_at = int(time.time() // 2)
            wait_for(lambda: max(slots(fast.id)) >= revoked_at + 3, 30, what="time passing")
            assert max(slots(shared.id)) <= revoked_at + 1  # at most the slot already in flight
    finally:
        if proc:
            stop(proc)
        sim.stop()
        for log in tmp_path.glob("*.log"):
            print(log.read_text(errors="replace")[-3000:])
