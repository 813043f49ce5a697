"""Video benchmark, recorder phase: seconds of video pulled from a recorder per second of wall time.

    PYTHONSAFEPATH=1 .venv/bin/python bench/video.py --only recorder [--seconds 20]

A pull of ``--pull-minutes`` (default 10) of one channel from the RTSP simulator's recorder mode
(camsim/nvr.py, Hikvision URL template; the simulator serves a download as fast as it encodes)
runs through the whole pull path of ``camnet.video.recorder.run_pull``: the connector's RTSP relay,
ffmpeg stream copy with progress written to the row, SHA-256, the PUT to the object store and the
clip row. The bare tool is ``ffmpeg -rtsp_transport tcp -i <playback URL> -c copy -f mp4`` of the
same range straight from the simulator. Figures: seconds of video per second of wall time through
the platform and bare (goal: the platform at least 0.8x of the bare tool), and the platform's CPU
per minute of video (this process and its ffmpeg child; the simulator's encoding is not counted).
"""
from __future__ import annotations

import resource
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _app(tmp: Path, sim_port: int):
    from flask_migrate import upgrade

    from camnet import create_app

    app = create_app({"INSTANCE_DIR": str(tmp), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                      "OBJECT_DIR": str(tmp / "objects"), "SPOOL_DIR": str(tmp / "spool"), "REDIS_URL": "",
                      "SECRET_KEY": "bench", "CAMERA_SECRET_KEY": "oV2Qh3pEo7k1rO1V0m8S6t1Vb9yqY3oWl6c1cQm6d1Q=",
                      "TESTING": True, "MFA_REQUIRED_ROLES": "", "RECORDER_PULL_MAX_MINUTES": 600,
                      "CAMERA_ALLOWED_NETWORKS": [f"127.0.0.1:{sim_port}"]})
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
    return app


def _pull_row(app, sim, start: datetime, end: datetime) -> int:
    from camnet.extensions import db
    from camnet.streams.models import Camera
    from camnet.tenants.models import AdminUnit
    from camnet.tenants.scope import system_scope
    from camnet.video.recorder import Recorder, RecorderPull

    with app.app_context(), system_scope():
        unit = AdminUnit(code="BENCHNVR", name="Xã Đầu Ghi", level="xã", is_commune=True, path="/")
        db.session.add(unit)
        db.session.flush()
        unit.path = f"/{unit.id}/"
        cam = Camera(commune_id=unit.id, code="NVR1-1", name="Kênh 1", status="active", recorder="NVR-1",
                     channel=1)
        rec = Recorder(commune_id=unit.id, name="NVR-1", family="hikvision", url=f"rtsp://127.0.0.1:{sim.port}")
        db.session.add_all([cam, rec])
        db.session.flush()
        pull = RecorderPull(camera_id=cam.id, commune_id=unit.id, recorder_id=rec.id, channel=1,
                            family="hikvision", start_at=start, end_at=end,
                            seconds_asked=int((end - start).total_seconds()), status="pending",
                            reason="benchmark", seconds_fetched=0.0)
        db.session.add(pull)
        db.session.commit()
        return pull.id


def run(args) -> list:
    from camsim.control import start_rtsp_sim

    from camnet.video.recorder import RecorderPull, playback_url, run_pull

    minutes = int(getattr(args, "pull_minutes", 10) or 10)
    sim = start_rtsp_sim(port=0, n=2)
    try:
        with tempfile.TemporaryDirectory(prefix="camnet-bench-nvr-") as tmp:
            tmp = Path(tmp)
            app = _app(tmp, sim.port)
            start = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)
            end = start + timedelta(minutes=minutes)
            pull_id = _pull_row(app, sim, start, end)
            c0, w0 = _cpu(), time.monotonic()
            run_pull(app, pull_id)
            wall, cpu = time.monotonic() - w0, _cpu() - c0
            with app.app_context():
                from camnet.extensions import db
                from camnet.tenants.scope import system_scope
                from camnet.video.recorder import Recorder

                with system_scope():
                    pull = db.session.get(RecorderPull, pull_id)
                    status, fetched, err = pull.status, pull.seconds_fetched, pull.error
                    url = playback_url(db.session.get(Recorder, pull.recorder_id), 1, start, end)
            if status != "ready":
                raise RuntimeError(f"the pull ended {status}: {err}")
            out = tmp / "bare.mp4"
            w1 = time.monotonic()
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-rtsp_transport", "tcp", "-i", url,
                            "-map", "0:v:0", "-c", "copy", "-f", "mp4", str(out)], check=True)
            bare_wall = time.monotonic() - w1
    finally:
        sim.stop()
    rate, bare_rate = fetched / wall, minutes * 60 / bare_wall
    print(f"[recorder] pulled {fetched:.0f} s of video in {wall:.2f} s ({rate:.1f} s/s); bare ffmpeg "
          f"{bare_wall:.2f} s ({bare_rate:.1f} s/s); platform CPU {cpu:.2f} s", flush=True)
    return [
        (f"recorder pull: seconds of video per wall second ({minutes} min, Hikvision)", round(rate, 1),
         round(0.8 * bare_rate, 1), round(0.8 * bare_rate / rate, 2)),
        ("recorder pull: bare ffmpeg, seconds of video per wall second", round(bare_rate, 1), None, None),
        ("recorder pull: platform CPU s per minute of video", round(cpu / (fetched / 60), 3), None, None),
    ]


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--pull-minutes", type=int, default=10)
    for row in run(ap.parse_args()):
        print(row)
