"""The capture worker process (``camnet worker``): its lifecycle, and the loops of its collaborators.

How the loops share the work (scheduler, capture greenlets, writer): docs/SCALING.md,
"Capture worker: loops and queues"; membership and claims: ``sharding``.
"""
from __future__ import annotations

import json
import logging
import os
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import gevent
from gevent.event import Event
from gevent.queue import Queue

from ..extensions import db
from ..tenants.scope import system_scope
from .cameras import load_cameras, reference_resets
from .clips import ClipRecorder
from .health import HealthChecker, HealthSettings
from .metrics import serve_metrics
from .reference import ReferenceKeeper
from .scheduler import Scheduler
from .settings import WorkerSettings
from .sharding import Membership, worker_name
from .snapshot import Capturer
from .spool import Spool
from .writer import Writer

log = logging.getLogger("camnet.worker")

# Loops a feature above capture runs in every worker (video's recorder), registered in its init_app:
# each takes the worker and gives the callable a greenlet runs until ``worker.stopping`` is set.
LOOPS: list[Callable] = []


def add_loop(factory: Callable) -> None:
    if factory not in LOOPS:  # an app built twice in one process registers once
        LOOPS.append(factory)


class Worker:
    """Starts, watches and stops the loops: heartbeat, camera list, scheduler, captures, writer,
    spool and clips."""

    def __init__(self, app, name: str | None = None, embedded: bool = False):
        self.app = app
        self.cfg = WorkerSettings.from_config(app.config)
        self.name = name or worker_name()
        self.embedded = embedded
        self.parent = os.getppid()
        self.store = app.extensions["camnet.storage"]
        self.stopping = Event()
        self.stats: Counter = Counter()
        self.by_commune: Counter = Counter()  # (commune id, taken|failed) -> snapshots, for /metrics
        self.membership = Membership(app.extensions["camnet.coord"], self.name,
                                     self.cfg.heartbeat, self.cfg.dead_after)
        self.spool = Spool(app.config["SPOOL_DIR"], int(app.config["SPOOL_MAX_BYTES"]))
        self.results = Queue()  # bounded in effect: at most `concurrency` producers
        self.scheduler = Scheduler(self.membership, self.cfg.queue_max, self.stats)
        self.health = HealthChecker(HealthSettings.from_config(app.config), ReferenceKeeper(self.store))
        self.capturer = Capturer(self.cfg, self.membership, self.health, self.store, self.spool,
                                 self.results, self.stats, self.by_commune)
        self.writer = Writer(app, self.cfg, self.name, self.store, self.spool, self.results,
                             self.stopping, self.stats)
        self.clips = ClipRecorder(self)

    @property
    def cameras(self) -> dict:
        return self.scheduler.cameras

    @cameras.setter
    def cameras(self, cameras: dict) -> None:
        self.scheduler.cameras = cameras

    def capture(self, cam, slot: int) -> None:
        self.capturer.capture(cam, slot)

    def drain_spool(self) -> int:
        return self.writer.drain_spool()

    # --- the camera list and the membership -----------------------------------------------
    def refresh(self) -> None:
        with self.app.app_context(), system_scope():
            cameras, resets = load_cameras(), reference_resets()
            db.session.remove()
        self.adopt_camera_list(cameras, resets)

    def adopt_camera_list(self, cameras: dict, resets: dict) -> None:
        seen = self.health.adopt(self.scheduler.cameras, cameras, resets, self.membership.owns)
        if seen:
            self.stats["reference_resets"] += seen
        self.scheduler.adopt(cameras)

    def refresh_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.refresh()
            except Exception:  # noqa: BLE001
                log.exception("camera list refresh failed")
            self.stopping.wait(self.cfg.refresh)

    def heartbeat_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                before = self.membership.live
                if self.membership.heartbeat() != before:
                    log.info("live workers: %s", ", ".join(self.membership.live))
                    self.scheduler.reschedule()
                # the liveness probe (helm/templates/worker.yaml) reads this file's age
                Path(self.app.config["INSTANCE_DIR"], "worker.heartbeat").touch()
            except Exception:  # noqa: BLE001 - Redis hiccup: keep the last view
                log.exception("heartbeat failed")
            if self.embedded and os.getppid() != self.parent:
                log.info("parent process gone: stopping")
                self.stopping.set()
            self.stopping.wait(self.cfg.heartbeat)

    # --- lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        log.info("capture worker %s starting (shared=%s)", self.name, self.membership.shared)
        self.membership.heartbeat()
        port = int(self.app.config.get("WORKER_METRICS_PORT") or 0)
        if port:
            serve_metrics(self, port)
        loops = [gevent.spawn(self.capturer.run, self.app, self.scheduler, self.stopping)
                 for _ in range(self.cfg.concurrency)]
        writer = gevent.spawn(self.writer.run)
        side = [gevent.spawn(self.refresh_loop), gevent.spawn(self.heartbeat_loop),
                gevent.spawn(self.scheduler.run, self.stopping), gevent.spawn(self.writer.run_spool),
                gevent.spawn(self.clips.run)] + [gevent.spawn(factory(self)) for factory in LOOPS]
        for sig in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(sig, self.stopping.set)
        self.stopping.wait()
        log.info("capture worker %s stopping", self.name)
        try:
            self.membership.leave()  # the others take over at once instead of after dead_after
        except Exception:  # noqa: BLE001
            pass
        gevent.killall(side, timeout=5)
        jobs = self.scheduler.jobs
        while not jobs.empty():  # not started: leave them to the next owner
            jobs.get_nowait()
        for _ in loops:
            jobs.put(None)
        gevent.joinall(loops, timeout=3)
        gevent.killall(loops, timeout=2)  # a capture still hanging on a camera is abandoned
        self.results.put(None)
        writer.join(timeout=30)
        print("STATS " + json.dumps(dict(self.stats)), flush=True)
