"""Video benchmark, recording phase: continuous recording CPU per camera against bare ``ffmpeg -c copy``
of the same streams, cameras recorded per core at 2 Mbit/s, and playback seek → first frame.

    PYTHONSAFEPATH=1 .venv/bin/python bench/video.py --only recording [--cameras 4] [--seconds 20]

Recording: the recorder loop of a capture worker (``camnet.video.recording.Recorder``: one ffmpeg
segmenter per camera behind the connector's RTSP relay, hashing, S3 PUT, index rows) records N
simulator cameras for S seconds; its CPU (this process: relay threads, hashing, uploads, ticks; plus
its ffmpeg children) is compared with N bare ``ffmpeg -rtsp_transport tcp -i rtsp://... -map 0:v:0
-c copy -f mp4`` processes over the same time. The simulators run in their own process (not counted).
Cameras per core at 2 Mbit/s scales the measured CPU per camera by 2 Mbit/s ÷ the measured bitrate
(stream copy costs per byte and packet).

Playback: a day of one-minute segments (1,440 index rows) of a real 2 Mbit/s recording; for random
moments, the time from the seek to the first decoded frame: the day's listing through the app, the
segment's bytes through the audited endpoint from the object store (MinIO), and ffmpeg decoding
the first frame at the moment (the browser's MSE append + decode is of the same order). Only the
segments sought into are stored (the store's GET does not depend on how many other objects exist).
"""
from __future__ import annotations

import hashlib
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _app(tmp: Path, sim_port: int, s3: str):
    from flask_migrate import upgrade

    from camnet import create_app

    app = create_app({"INSTANCE_DIR": str(tmp), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                      "S3_ENDPOINT": s3, "S3_BUCKET": f"bench-rec-{uuid.uuid4().hex[:8]}",
                      "SPOOL_DIR": str(tmp / "spool"), "REDIS_URL": "", "SECRET_KEY": "bench",
                      "CAMERA_SECRET_KEY": "oV2Qh3pEo7k1rO1V0m8S6t1Vb9yqY3oWl6c1cQm6d1Q=",
                      "MFA_REQUIRED_ROLES": "", "WTF_CSRF_ENABLED": False, "TESTING": True,
                      "CAMERA_ALLOWED_NETWORKS": [f"127.0.0.1:{sim_port}"], "RECORDING_SEGMENT_SECONDS": 60})
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
    return app


def _world(app, cams: int, sim):
    from camnet.extensions import db
    from camnet.streams.models import Camera
    from camnet.tenants.models import AdminUnit, RoleGrant, User
    from camnet.tenants.passwords import hash_password
    from camnet.tenants.scope import system_scope
    from camnet.video.segments import RecordingSetting

    with app.app_context(), system_scope():
        unit = AdminUnit(code="BENCHREC", name="Xã Ghi Hình", level="xã", is_commune=True, path="/")
        db.session.add(unit)
        db.session.flush()
        unit.path = f"/{unit.id}/"
        user = User(username="bench_op", full_name="Bench", unit_id=unit.id, password_hash=hash_password("bench-pass-2026"))
        db.session.add(user)
        db.session.flush()
        db.session.add(RoleGrant(user_id=user.id, role="operator", unit_id=unit.id))
        ids = []
        for i in range(cams):
            cam = Camera(commune_id=unit.id, code=f"R{i}", name=f"Rec {i}", status="active",
                         rtsp_main=sim.url(i + 1))
            db.session.add(cam)
            db.session.flush()
            db.session.add(RecordingSetting(camera_id=cam.id, commune_id=unit.id, mode="continuous",
                                            pre_roll_s=0, post_roll_s=0))
            ids.append(cam.id)
        db.session.commit()
        return unit.id, ids


def _record(app, seconds: float) -> tuple[float, int, int]:
    """CPU seconds (self + children) of the recorder over ``seconds``, bytes and segments stored."""
    from camnet.capture.cameras import load_cameras
    from camnet.capture.worker import Worker
    from camnet.extensions import db
    from camnet.tenants.scope import system_scope
    from camnet.video.segments import RecordingSegment
    from sqlalchemy import func, select

    with app.app_context():
        worker = Worker(app, "bench-rec")
        with system_scope():
            worker.cameras = load_cameras()
            db.session.commit()
        from camnet.video.recording import Recorder

        rec = Recorder(worker)
        rec.seconds = 5  # stored segments every 5 s so the upload path runs inside the window
        c0, k0 = _cpu_self(), _cpu_children()
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            rec.tick()
            time.sleep(1.0)
        rec.stop_all()
        own, kids = _cpu_self() - c0, _cpu_children() - k0
        cpu = own + kids
        print(f"recording CPU: this process (relay threads, hashing, uploads) {own:.2f} s, "
              f"ffmpeg segmenters {kids:.2f} s", flush=True)
        with system_scope():
            size, count = db.session.execute(select(func.coalesce(func.sum(RecordingSegment.size), 0),
                                                    func.count())).one()
            db.session.commit()
    return cpu, int(size), int(count)


def _bare(urls: list[str], seconds: float) -> float:
    k0 = _cpu_children()
    procs = [subprocess.Popen(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
                               "-i", u, "-map", "0:v:0", "-c", "copy", "-an", "-f", "mp4",
                               "-movflags", "frag_keyframe+empty_moov", "-y", os.devnull],
                              stdin=subprocess.DEVNULL) for u in urls]
    time.sleep(seconds)
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(10)
    return _cpu_children() - k0


def _day_segment(tmp: Path) -> Path:
    """One minute of 2 Mbit/s H.264 (keyframe every second) as the recorder writes it."""
    out = tmp / "minute.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "testsrc2=size=1280x720:rate=15", "-t", "60", "-c:v", "libx264", "-preset", "veryfast",
                    "-b:v", "2M", "-maxrate", "2M", "-bufsize", "2M", "-g", "15", "-pix_fmt", "yuv420p",
                    "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", str(out)], check=True)
    return out


def _seek_bench(app, commune_id: int, camera_id: int, tmp: Path, trials: int) -> list[float]:
    from camnet.extensions import db
    from camnet.tenants.scope import system_scope
    from camnet.video.segments import RecordingSegment, segment_key

    data = _day_segment(tmp).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    day0 = datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)  # 00:00 on 2 Dec in Vietnam
    store = app.extensions["camnet.storage"]
    moments = sorted(random.Random(7).uniform(0, 86340) for _ in range(trials))
    with app.app_context(), system_scope():
        rows = []
        for minute in range(1440):
            start = day0 + timedelta(minutes=minute)
            rows.append(RecordingSegment(camera_id=camera_id, commune_id=commune_id, started_at=start,
                                         ended_at=start + timedelta(seconds=60), size=len(data), sha256=sha,
                                         object_key=segment_key(commune_id, camera_id, start, "bench"), worker="bench"))
        db.session.add_all(rows)
        db.session.commit()
        for m in moments:
            store.put(rows[int(m // 60)].object_key, data, "video/mp4")
    client = app.test_client()
    client.post("/login", data={"username": "bench_op", "password": "bench-pass-2026"})
    times, parts = [], []
    for m in moments:
        t0 = time.monotonic()
        day = client.get(f"/api/v1/video/cameras/{camera_id}/recordings?day=2026-12-02").get_json()
        seg = day["segments"][int(m // 60)]
        t1 = time.monotonic()
        body = client.get(f"/api/v1/video/segments/{seg['id']}/media").data
        path = tmp / "seek.mp4"
        path.write_bytes(body)
        t2 = time.monotonic()
        subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-ss", f"{m % 60:.3f}",
                        "-i", str(path), "-frames:v", "1", "-f", "null", "-"], check=True)
        t3 = time.monotonic()
        times.append(t3 - t0)
        parts.append((t1 - t0, t2 - t1, t3 - t2))
    print("seek parts (median s): listing %.3f, segment bytes %.3f, decode %.3f" % tuple(
        statistics.median(p[i] for p in parts) for i in range(3)), flush=True)
    return times


def run(args) -> list[tuple[str, float, float | None, float | None]]:
    from camsim.control import start_rtsp_sim
    from tests.services import ensure_started

    cams = min(int(getattr(args, "cameras", 4) or 4), 8)
    seconds = float(getattr(args, "seconds", 20) or 20)
    s3 = ensure_started()["CAMNET_TEST_S3"]
    sim = start_rtsp_sim(port=0, n=cams)
    out = []
    try:
        with tempfile.TemporaryDirectory(prefix="camnet-bench-rec-") as tmpdir:
            tmp = Path(tmpdir)
            app = _app(tmp, sim.port, s3)
            commune_id, ids = _world(app, cams, sim)
            for n in range(cams):  # start every simulated camera's source (a real camera runs anyway)
                try:
                    subprocess.run(["ffprobe", "-v", "quiet", "-rtsp_transport", "tcp", sim.url(n + 1)], timeout=20,
                                   check=False)
                except subprocess.TimeoutExpired:
                    pass  # the simulator sometimes keeps a first client waiting; the source runs anyway
            bare = _bare([sim.url(n + 1) for n in range(cams)], seconds)
            print(f"bare ffmpeg -c copy: {bare:.2f} s CPU for {cams} cameras x {seconds:.0f} s", flush=True)
            cpu, size, segs = _record(app, seconds)
            per_cam = cpu / cams / seconds  # cores per camera
            bare_per_cam = bare / cams / seconds
            mbit = size * 8 / cams / seconds / 1e6 if size else 0.0
            per_core_2m = (1 / per_cam) * (mbit / 2.0) if per_cam and mbit else 0.0
            out.append((f"recording CPU per camera vs bare ffmpeg -c copy ({cams} cams)", per_cam / bare_per_cam
                        if bare_per_cam else float("inf"), 1.2, (per_cam / bare_per_cam / 1.2) if bare_per_cam else None))
            out.append((f"recording: CPU % of a core per camera (bitrate {mbit:.2f} Mbit/s)", per_cam * 100, None, None))
            out.append(("recording: segments stored in the run", float(segs), None, None))
            out.append(("cameras recorded per core at 2 Mbit/s", per_core_2m, None, None))
            with app.app_context():
                times = _seek_bench(app, commune_id, ids[0], tmp, trials=12)
            p50 = statistics.median(times)
            worst = max(times)
            out.append(("playback seek -> first frame p50 (s, day of 1,440 segments)", p50, 1.0, p50 / 1.0))
            out.append(("playback seek -> first frame max (s)", worst, 1.0, worst / 1.0))
    finally:
        sim.stop()
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    for row in run(ap.parse_args()):
        print(row)
