"""The store goes away: snapshots wait in a bounded local spool and are uploaded, oldest first, when it returns."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from camnet.extensions import db
from camsim.http_camera import HttpCameraSim
from camnet.streams.models import Camera, Snapshot
from camnet.capture.spool import Spool
from camnet.tenants.scope import system_scope

from .capture_rig import add_camera, allow, capture_now, free_port, in_process_worker, wait_for


def test_full_spool_drops_and_counts_and_keeps_order(tmp_path):
    spool = Spool(str(tmp_path / "spool"), max_bytes=3000)
    assert spool.put({"n": 1}, b"a" * 1000) and spool.put({"n": 2}, b"b" * 1000)
    assert not spool.put({"n": 3}, b"c" * 1000)
    assert spool.dropped == 1
    assert [meta["n"] for _, meta in spool.entries()] == [1, 2]
    name = next(spool.entries())[0]
    spool.remove(name)
    assert [meta["n"] for _, meta in spool.entries()] == [2] and len(spool) == 1
    # a restart finds what was left, and its size
    again = Spool(str(tmp_path / "spool"), max_bytes=3000)
    assert len(again) == 1 and again.bytes == spool.bytes


class MotoServer:
    def __init__(self, port: int):
        self.port = port
        self.proc = None

    def start(self):
        exe = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import urllib.request

        def up():
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1).read()
                return True
            except OSError:
                return False

        wait_for(up, 30, what="moto_server up")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def moto():
    server = MotoServer(free_port())
    server.start()
    yield server
    server.stop()


def _rows(camera_id):
    with system_scope():
        rows = db.session.execute(select(Snapshot).where(Snapshot.camera_id == camera_id)
                                  .order_by(Snapshot.id)).scalars().all()
        db.session.commit()
    return rows


def test_snapshots_survive_an_s3_outage_and_arrive_once_oldest_first(make_app, moto, tmp_path):
    sim = HttpCameraSim(port=0)
    sim.start()
    try:
        app = make_app("sqlite", {"S3_ENDPOINT": f"http://127.0.0.1:{moto.port}", "S3_ACCESS_KEY": "test",
                                  "S3_SECRET_KEY": "test-secret", "S3_BUCKET": "spool-test",
                                  **allow(sim.port)})
        with app.app_context():
            from tests.world import build_world

            world = build_world(app)
            cam_id = add_camera(world.id("a"), "SP1", snapshot_url=sim.snapshot_url("sp1")).id
            worker = in_process_worker(app)
            store = app.extensions["camnet.storage"]
            capture_now(worker, cam_id, 100)
            assert len(_rows(cam_id)) == 1

            moto.stop()  # the store is gone
            for slot in (101, 102, 103):
                batch = capture_now(worker, cam_id, slot)
                assert batch[0].rule == "ok" and not batch[0].stored
            assert len(_rows(cam_id)) == 1  # rows wait for their objects
            assert len(worker.spool) == 3
            assert worker.drain_spool() == 0 and len(worker.spool) == 3  # still away: nothing moves
            kept = tmp_path / "kept"
            shutil.copytree(worker.spool.dir, kept)

            moto.start()  # back, empty (moto keeps nothing): the bucket is made again
            assert worker.drain_spool() == 3
            rows = _rows(cam_id)
            assert [r.slot for r in rows] == [100, 101, 102, 103]  # oldest first
            for r in rows[1:]:
                assert store.get(r.object_key)[:2] == b"\xff\xd8"
                assert r.sha256 and r.width == 640 and r.height == 360
            assert len(worker.spool) == 0

            # a crash after the upload but before the spool files went: replaying changes nothing
            for f in kept.iterdir():
                shutil.copy(f, worker.spool.dir / f.name)
            assert worker.drain_spool() == 3
            assert [r.slot for r in _rows(cam_id)] == [100, 101, 102, 103]
            with system_scope():
                assert db.session.get(Camera, cam_id).last_snapshot_at is not None
    finally:
        sim.stop()
