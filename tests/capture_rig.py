"""Helpers for the capture tests: cameras on the simulators, worker processes, waiting."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from camnet.extensions import db
from camnet.streams.models import Camera, Snapshot
from camnet.tenants.scope import system_scope

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll until true; the timeout only bounds a hung test, it is not what is asserted."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(interval)


def allow(*ports: int) -> dict:
    return {"CAMERA_ALLOWED_NETWORKS": [f"127.0.0.1:{p}" for p in ports]}


def add_camera(commune_id: int, code: str, interval: int = 60, **sources) -> Camera:
    with system_scope():
        cam = Camera(commune_id=commune_id, code=code, name=f"Camera {code}", status="active",
                     capture_interval=interval, **sources)
        db.session.add(cam)
        db.session.commit()
        return cam


def snapshot_count(camera_id: int | None = None) -> int:
    with system_scope():
        stmt = select(func.count()).select_from(Snapshot)
        if camera_id is not None:
            stmt = stmt.where(Snapshot.camera_id == camera_id)
        n = db.session.execute(stmt).scalar()
        db.session.commit()
        return n


def worker_env(app, **extra) -> dict:
    """The environment a ``camnet worker`` subprocess needs to join this test app."""
    cfg = app.config
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "MINIO_", "CAMNET_"))}
    env.update({
        "PYTHONSAFEPATH": "1",
        "CAMNET_INSTANCE": cfg["INSTANCE_DIR"],
        "DATABASE_URL": cfg["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": cfg["SECRET_KEY"],
        "CAMERA_SECRET_KEY": cfg["CAMERA_SECRET_KEY"],
        "CAMERA_ALLOWED_NETWORKS": ",".join(cfg["CAMERA_ALLOWED_NETWORKS"]),
        "CAMNET_OBJECT_DIR": cfg["OBJECT_DIR"],
        "CAMNET_SPOOL_DIR": cfg["SPOOL_DIR"],
        "REDIS_URL": cfg.get("REDIS_URL") or "",
        "REDIS_PREFIX": cfg.get("REDIS_PREFIX") or "",
    })
    if cfg.get("SCOPE_SIGNING_KEY"):  # PostgreSQL checks the scope's MAC: the worker signs with the same key
        env["SCOPE_SIGNING_KEY"] = cfg["SCOPE_SIGNING_KEY"]
    if cfg.get("S3_ENDPOINT"):
        env.update({"S3_ENDPOINT": cfg["S3_ENDPOINT"], "S3_ACCESS_KEY": cfg["S3_ACCESS_KEY"],
                    "S3_SECRET_KEY": cfg["S3_SECRET_KEY"], "S3_BUCKET": cfg["S3_BUCKET"]})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(env: dict, name: str, log_dir: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("camnet")
    log = open(log_dir / f"{name}.log", "wb")
    return subprocess.Popen([str(exe), "worker", "--name", name], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd="/")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def in_process_worker(app, name: str = "test-worker"):
    """A Worker whose ``capture()`` the test calls itself (no scheduler running)."""
    from camnet.capture.worker import Worker

    return Worker(app, name)


def capture_now(worker, camera_id: int, slot: int):
    """Capture one slot in this process and write the rows, as the worker's loops would."""
    from camnet.capture.cameras import load_cameras
    from camnet.capture.writer import write_results

    with system_scope():
        cams = load_cameras()
        db.session.commit()
    cam = cams[camera_id]
    worker.capture(cam, slot)
    batch = []
    while not worker.results.empty():
        batch.append(worker.results.get())
    with system_scope():
        write_results(batch, worker.name, worker.store)
    return batch


def sweep_concurrently(app, runs: int = 2, **kwargs) -> list:
    """Start ``runs`` retention sweeps at the same moment, each in its own thread and app
    context; return their results (any exception fails the caller's test)."""
    import threading

    from camnet.streams.retention import sweep

    results, errors = [], []
    barrier = threading.Barrier(runs)

    def run():
        try:
            with app.app_context():
                barrier.wait()
                results.append(sweep(app, **kwargs))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results
