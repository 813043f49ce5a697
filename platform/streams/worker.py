"""The capture worker process (``camnet worker``): schedules, shards and captures cameras on gevent.

Layout, Frigate-style: a scheduler pops due (camera, slot) pairs into a bounded job queue
(full: dropped and counted), a fixed set of capture greenlets works it, OpenCV's blocking
calls run in a small thread pool so a slow stream never stalls the hub, and one writer
greenlet puts the rows in the database in batches. Membership and claims: ``sharding``.
"""
from __future__ import annotations

import heapq
import json
import logging
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..settings import numbers_from_config
from .sharding import Membership, _score, worker_name

log = logging.getLogger("camnet.worker")


@dataclass(frozen=True)
class WorkerSettings:
    """Typed worker settings (env or app config ``CAPTURE_<NAME>``)."""

    concurrency: int = 64       # captures in flight at once
    queue_max: int = 2000       # due captures waiting; beyond this they are dropped and counted
    rtsp_threads: int = 8       # threads decoding RTSP frames / JPEGs
    http_timeout: float = 5.0
    rtsp_timeout: float = 8.0
    heartbeat: float = 5.0      # seconds between heartbeats
    dead_after: float = 15.0    # a worker silent this long is dead; its cameras move
    refresh: float = 30.0       # seconds between re-reads of the camera list
    clip_poll: float = 2.0
    clip_concurrency: int = 4
    clip_max_seconds: int = 300
    spool_retry: float = 2.0
    batch_max: int = 200
    write_linger: float = 0.2   # seconds the writer waits to gather a batch (one commit for many)
    uploads: int = 16           # concurrent PUTs to the object store

    @classmethod
    def from_config(cls, config=None) -> "WorkerSettings":
        return numbers_from_config(cls, "CAPTURE", config)


class Worker:
    def __init__(self, app, name: str | None = None, embedded: bool = False):
        import cv2
        from gevent.event import Event
        from gevent.lock import BoundedSemaphore
        from gevent.queue import Queue
        from gevent.threadpool import ThreadPool

        from .grab import HttpGrabber
        from .health import HealthSettings
        from .spool import Spool

        cv2.setNumThreads(1)  # parallelism comes from the pool; OpenCV's own threads only add overhead
        self.app = app
        self.cfg = WorkerSettings.from_config(app.config)
        self.health_cfg = HealthSettings.from_config(app.config)
        self.name = name or worker_name()
        self.store = app.extensions["camnet.storage"]
        self.membership = Membership(app.extensions["camnet.coord"], self.name,
                                     self.cfg.heartbeat, self.cfg.dead_after)
        self.spool = Spool(app.config["SPOOL_DIR"], int(app.config["SPOOL_MAX_BYTES"]))
        self.http = HttpGrabber(self.cfg.http_timeout)
        self.pool = ThreadPool(self.cfg.rtsp_threads)
        self.jobs = Queue(self.cfg.queue_max)
        self.results = Queue()  # bounded in effect: at most `concurrency` producers
        self.uploads = BoundedSemaphore(self.cfg.uploads)
        self.stopping = Event()
        self.embedded = embedded
        self.parent = os.getppid()
        self.cameras: dict = {}
        self.states: dict = {}
        self.resets: dict | None = None  # camera id -> reference_reset_at seen at the last refresh
        self.scheduled: dict[int, int] = {}
        self.inflight: set[int] = set()
        self.heap: list = []
        self.generation = 0
        self.stats: Counter = Counter()
        self.by_commune: Counter = Counter()  # (commune id, taken|failed) -> snapshots, for /metrics

    # --- helpers ---------------------------------------------------------------------------
    def blocking(self, fn, *args):
        return self.pool.spawn(fn, *args).get()

    def _phase(self, cam) -> float:
        """Spread captures over the interval instead of all at its start."""
        return (_score("phase", cam.id) % 10007) / 10007 * cam.interval

    # --- scheduling ------------------------------------------------------------------------
    def reschedule(self) -> None:
        self.generation += 1
        now = time.time()
        heap = []
        for cam in self.cameras.values():
            if not self.membership.owns(cam.id):
                continue
            slot = int(now // cam.interval)
            if self.scheduled.get(cam.id, -1) >= slot:
                slot += 1
            due = max(now, slot * cam.interval + self._phase(cam))
            heap.append((due, self.generation, cam.id, slot))
        heapq.heapify(heap)
        self.heap = heap
        self.stats["owned"] = len(heap)

    def scheduler_loop(self) -> None:
        import gevent
        from gevent.queue import Full

        while not self.stopping.is_set():
            now = time.time()
            while self.heap and self.heap[0][0] <= now:
                _, gen, cam_id, slot = heapq.heappop(self.heap)
                cam = self.cameras.get(cam_id)
                if gen != self.generation or cam is None:
                    continue
                self.scheduled[cam_id] = slot
                if cam_id in self.inflight:  # still busy with an earlier slot: a slow camera
                    self.stats["skipped_busy"] += 1  # holds one capture, never the whole pool
                else:
                    try:
                        self.jobs.put_nowait((cam, slot))
                        self.inflight.add(cam_id)
                    except Full:
                        self.stats["dropped"] += 1
                nxt = slot + 1
                heapq.heappush(self.heap, (nxt * cam.interval + self._phase(cam), gen, cam_id, nxt))
            wait = self.heap[0][0] - time.time() if self.heap else 0.2
            gevent.sleep(min(0.2, max(0.005, wait)))

    def heartbeat_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                before = self.membership.live
                if self.membership.heartbeat() != before:
                    log.info("live workers: %s", ", ".join(self.membership.live))
                    self.reschedule()
                # the liveness probe (helm/templates/worker.yaml) reads this file's age
                Path(self.app.config["INSTANCE_DIR"], "worker.heartbeat").touch()
            except Exception:  # noqa: BLE001 - Redis hiccup: keep the last view
                log.exception("heartbeat failed")
            if self.embedded and os.getppid() != self.parent:
                log.info("parent process gone: stopping")
                self.stopping.set()
            self.stopping.wait(self.cfg.heartbeat)

    def refresh_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.refresh()
            except Exception:  # noqa: BLE001
                log.exception("camera list refresh failed")
            self.stopping.wait(self.cfg.refresh)

    def refresh(self) -> None:
        from ..extensions import db
        from ..tenants.scoping import system_scope
        from .capture import load_cameras
        from .faults import reference_resets

        with self.app.app_context(), system_scope():
            cameras, resets = load_cameras(), reference_resets()
            db.session.remove()
        self.adopt_camera_list(cameras, resets)

    def adopt_camera_list(self, cameras: dict, resets: dict) -> None:
        """Take a fresh camera list. A reference reset by staff since the last list
        (``faults.reset_reference``) makes the owner adopt its next healthy view; the first list
        only notes the marks (that reset already cleared the stored reference a worker loads)."""
        from .health import CameraHealthState

        for cam_id, cam in cameras.items():
            old = self.cameras.get(cam_id)
            if self.resets is not None and resets.get(cam_id) != self.resets.get(cam_id):
                self.stats["reference_resets"] += 1
                if cam_id in self.states and self.membership.owns(cam_id):
                    # never reload the stored key: it may name a view stored just before the reset
                    self.states[cam_id] = CameraHealthState(reference_loaded=True)
                else:  # not ours now: whoever captures next loads what the owner adopted
                    self.states.pop(cam_id, None)
            elif old is not None and old.reference_key != cam.reference_key:
                self.states.pop(cam_id, None)
        self.resets, self.cameras = resets, cameras
        self.reschedule()

    # --- capture ---------------------------------------------------------------------------
    def capture_loop(self) -> None:
        with self.app.app_context():
            while not self.stopping.is_set():
                job = self.jobs.get()
                if job is None:
                    break
                try:
                    self.capture(*job)
                except Exception:  # noqa: BLE001 - one camera's bug must not stop the loop
                    log.exception("capture of camera %s failed", job[0].id)
                    self.stats["errors"] += 1
                finally:
                    self.inflight.discard(job[0].id)

    def capture(self, cam, slot: int) -> None:
        from .capture import (CaptureResult, grab, object_key, sha256_of, store_or_spool, utc_now)
        from .grab import GrabError
        from .health import CameraHealthState, judge

        try:
            claimed = self.membership.claim(cam.id, slot, cam.interval * 2 + 10)
        except Exception:  # noqa: BLE001 - Redis down: capture anyway, the unique row is the wall
            claimed = True
        if not claimed:
            self.stats["claimed_elsewhere"] += 1
            return
        taken = utc_now()
        state = self.states.setdefault(cam.id, CameraHealthState())
        self._load_reference(cam, state)
        try:
            frame = grab(cam, self.http, self.blocking, self.cfg.rtsp_timeout)
        except GrabError as exc:
            self.stats["unreachable"] += 1
            self.by_commune[(cam.commune_id, "failed")] += 1
            self.results.put(CaptureResult(cam, slot, taken, "unreachable", {"error": str(exc)[:400]}))
            return
        sha = sha256_of(frame.jpeg)
        rule, detail = judge(frame.small, sha, state, self.health_cfg)
        result = CaptureResult(cam, slot, taken, rule, detail, object_key(cam, taken),
                               len(frame.jpeg), sha, frame.width, frame.height)
        if rule == "ok" and state.reference is None:
            self._set_reference(cam, state, frame.small, result)
        store_or_spool(result, frame.jpeg, self.store, self.spool, self.uploads)
        self.stats["captured_" + frame.source] += 1
        self.stats["stored" if result.stored else "spooled"] += 1
        self.by_commune[(cam.commune_id, "taken")] += 1
        self.results.put(result)

    def _load_reference(self, cam, state) -> None:
        if state.reference_loaded:
            return
        state.reference_loaded = True
        if not cam.reference_key:
            return
        try:
            import cv2
            import numpy as np

            from .health import reference_of

            img = cv2.imdecode(np.frombuffer(self.store.get(cam.reference_key), np.uint8),
                               cv2.IMREAD_GRAYSCALE)
            state.reference = reference_of(img) if img is not None else None
        except Exception:  # noqa: BLE001 - no reference yet: the next healthy frame sets one
            log.warning("camera %s: reference view unreadable", cam.id)

    def _set_reference(self, cam, state, small, result) -> None:
        import cv2

        from .capture import reference_key
        from .health import reference_of

        ok, png = cv2.imencode(".png", small)
        try:
            self.store.put(reference_key(cam), png.tobytes(), "image/png")
        except Exception:  # noqa: BLE001 - try again on a later healthy frame
            return
        state.reference = reference_of(small)
        result.new_reference = png.tobytes()

    # --- database --------------------------------------------------------------------------
    def writer_loop(self) -> None:
        from gevent.queue import Empty

        from ..extensions import db
        from ..tenants.scoping import system_scope
        from .capture import write_results

        with self.app.app_context():
            while True:
                first = self.results.get()
                if first is None:
                    break
                batch = [first]
                if self.cfg.write_linger > 0 and first is not None:
                    self.stopping.wait(self.cfg.write_linger)
                while len(batch) < self.cfg.batch_max:
                    try:
                        item = self.results.get_nowait()
                    except Empty:
                        break
                    if item is None:
                        self.results.put(None)
                        break
                    batch.append(item)
                for attempt in range(5):
                    try:
                        with system_scope():
                            write_results(batch, self.name, self.store)
                        self.stats["written"] += len(batch)
                        break
                    except Exception:  # noqa: BLE001 - database away: wait and retry the batch
                        log.exception("writing %d captures failed (attempt %d)", len(batch), attempt + 1)
                        db.session.rollback()
                        self.stopping.wait(1 + attempt)
                else:
                    self.stats["lost_rows"] += len(batch)
                db.session.remove()

    def spool_loop(self) -> None:
        with self.app.app_context():
            while not self.stopping.wait(self.cfg.spool_retry):
                self.drain_spool()

    def drain_spool(self) -> int:
        """Upload spooled snapshots oldest first, each followed by its row; stop at the first
        failure so the order holds. Returns how many left the spool."""
        from ..extensions import db
        from ..storage import StorageError
        from ..tenants.scoping import system_scope
        from .capture import insert_spooled

        done = 0
        for name, meta in self.spool.entries():
            try:
                self.store.put(meta["key"], self.spool.read(name), "image/jpeg")
                with system_scope():
                    insert_spooled(meta, self.name)
            except StorageError:
                break  # still away: keep the order, try again later
            except Exception:  # noqa: BLE001
                log.exception("unspooling %s failed", name)
                db.session.rollback()
                break
            self.spool.remove(name)
            done += 1
        self.stats["unspooled"] += done
        db.session.remove()
        return done

    def clip_loop(self) -> None:
        from .clips import poll_clips

        from gevent.pool import Pool

        pool = Pool(self.cfg.clip_concurrency)
        with self.app.app_context():
            while not self.stopping.wait(self.cfg.clip_poll):
                try:
                    poll_clips(self, pool)
                except Exception:  # noqa: BLE001
                    log.exception("clip poll failed")

    # --- lifecycle -------------------------------------------------------------------------
    def run(self) -> None:
        import gevent

        log.info("capture worker %s starting (shared=%s)", self.name, self.membership.shared)
        self.membership.heartbeat()
        port = int(self.app.config.get("WORKER_METRICS_PORT") or 0)
        if port:
            from .worker_metrics import serve_metrics

            serve_metrics(self, port)
        loops = [gevent.spawn(self.capture_loop) for _ in range(self.cfg.concurrency)]
        writer = gevent.spawn(self.writer_loop)
        side = [gevent.spawn(f) for f in (self.refresh_loop, self.heartbeat_loop, self.scheduler_loop,
                                          self.spool_loop, self.clip_loop)]
        for sig in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(sig, self.stopping.set)
        self.stopping.wait()
        log.info("capture worker %s stopping", self.name)
        try:
            self.membership.leave()  # the others take over at once instead of after dead_after
        except Exception:  # noqa: BLE001
            pass
        gevent.killall(side, timeout=5)
        while not self.jobs.empty():  # not started: leave them to the next owner
            self.jobs.get_nowait()
        for _ in loops:
            self.jobs.put(None)
        gevent.joinall(loops, timeout=3)
        gevent.killall(loops, timeout=2)  # a capture still hanging on a camera is abandoned
        self.results.put(None)
        writer.join(timeout=30)
        print("STATS " + json.dumps(dict(self.stats)), flush=True)


from .embedded import start_embedded  # noqa: E402,F401 - camnet.serve imports it from here
