"""Clips: a pending clip is picked up once by the worker owning its camera and recorded with ffmpeg."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest
from gevent.pool import Pool

from camnet.extensions import db
from camsim.http_camera import HttpCameraSim
from camnet.capture.cameras import load_cameras
from camnet.capture.clips import poll_clips
from camnet.streams.models import Clip
from camnet.tenants.scope import system_scope

from .capture_rig import add_camera, allow, in_process_worker

pytestmark = pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg (Debian package) missing")


@pytest.fixture(scope="module")
def rtsp_sim():
    from camsim.control import RtspSimUnavailable, start_rtsp_sim

    try:
        sim = start_rtsp_sim(port=0, n=1)
    except RtspSimUnavailable as exc:
        pytest.skip(str(exc))
    yield sim
    sim.stop()


def _probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_clips_are_recorded_by_stream_copy_or_reencoded_from_mjpeg(make_app, rtsp_sim, tmp_path):
    sim = HttpCameraSim(port=0)
    sim.start()
    try:
        app = make_app("sqlite", allow(rtsp_sim.port, sim.port))
        with app.app_context():
            from tests.world import build_world

            world = build_world(app)
            commune = world.id("a")
            rtsp_cam = add_camera(commune, "CLR", rtsp_main=rtsp_sim.url(1))
            mjpeg_cam = add_camera(commune, "CLM", mjpeg_url=sim.mjpeg_url("clm"))
            snap_only = add_camera(commune, "CLS", snapshot_url=sim.snapshot_url("cls"))
            with system_scope():
                clips = [Clip(camera_id=c.id, commune_id=commune, duration_s=2, status="pending")
                         for c in (rtsp_cam, mjpeg_cam, snap_only)]
                db.session.add_all(clips)
                db.session.commit()
                ids = [c.id for c in clips]
                worker = in_process_worker(app)
                worker.cameras = load_cameras()
                db.session.commit()
            pool = Pool(4)
            poll_clips(worker, pool)
            poll_clips(worker, pool)  # already claimed: nothing more starts
            pool.join()
            store = app.extensions["camnet.storage"]
            with system_scope():
                rtsp_clip, mjpeg_clip, failed = (db.session.get(Clip, i) for i in ids)
                for clip in (rtsp_clip, mjpeg_clip):
                    db.session.refresh(clip)
                    assert clip.status == "ready", clip.error
                    data = store.get(clip.object_key)
                    assert (clip.size, clip.sha256) == (len(data), hashlib.sha256(data).hexdigest())
                    assert clip.object_key.startswith(f"{commune}/{clip.camera_id}/clips/")
                    path = tmp_path / f"{clip.id}.mp4"
                    path.write_bytes(data)
                    info = _probe(str(path))
                    video = [s for s in info["streams"] if s["codec_type"] == "video"]
                    assert video[0]["codec_name"] == "h264" and len(info["streams"]) == 1
                    assert 1.0 <= float(info["format"]["duration"]) <= 3.5
                    assert data[4:8] == b"ftyp"
                assert rtsp_clip.reencoded is False  # the camera's own H.264, copied
                assert mjpeg_clip.reencoded is True
                db.session.refresh(failed)
                assert failed.status == "failed" and "no stream source" in failed.error
    finally:
        sim.stop()
