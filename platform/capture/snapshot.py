"""One snapshot, end to end: claim the slot, grab, judge, store (or spool), hand the row to the writer."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

import cv2
from gevent.lock import BoundedSemaphore
from gevent.threadpool import ThreadPool

from ..clock import utc_now
from ..storage import StorageError
from .cameras import CameraInfo
from .frame import GrabError
from .grab import HttpGrabber, grab_frame

log = logging.getLogger("camnet.worker")


@dataclass
class CaptureResult:
    camera: CameraInfo
    slot: int
    taken_at: datetime
    rule: str
    detail: dict = field(default_factory=dict)
    key: str | None = None
    size: int = 0
    sha256: str | None = None
    width: int = 0
    height: int = 0
    stored: bool = False  # False with a key: spooled, the row comes when the object is stored
    new_reference: bytes | None = None  # PNG of the reference view to keep


def object_key(cam: CameraInfo, taken_at: datetime) -> str:
    return f"{cam.commune_id}/{cam.id}/{taken_at:%Y/%m/%d/%H%M%S}.jpg"


def store_or_spool(result: CaptureResult, data: bytes, store, spool, uploads=None) -> None:
    """Put the JPEG; if the store is away, keep it in the spool. ``uploads`` bounds concurrent
    PUTs to what the store client's connection pool holds (beyond it, connections churn)."""
    try:
        if uploads is not None:
            with uploads:
                store.put(result.key, data, "image/jpeg")
        else:
            store.put(result.key, data, "image/jpeg")
        result.stored = True
    except StorageError as exc:
        if spool is None:
            raise
        meta = {"camera_id": result.camera.id, "commune_id": result.camera.commune_id,
                "slot": result.slot, "taken_at": result.taken_at.isoformat(), "key": result.key,
                "sha256": result.sha256, "size": result.size, "width": result.width, "height": result.height,
                "health": result.rule}
        if not spool.put(meta, data):
            log.error("spool full: snapshot %s dropped (%s)", result.key, exc)
            result.key = None


class Capturer:
    """The capture greenlets' work. OpenCV's blocking calls run in a small thread pool so a slow
    stream never stalls the hub; results go to the writer's queue."""

    def __init__(self, cfg, membership, health, store, spool, results, stats, by_commune):
        cv2.setNumThreads(1)  # parallelism comes from the pool; OpenCV's own threads only add overhead
        self.cfg, self.membership, self.health = cfg, membership, health
        self.store, self.spool, self.results = store, spool, results
        self.stats, self.by_commune = stats, by_commune  # by_commune: (commune id, taken|failed) -> snapshots
        self.http = HttpGrabber(cfg.http_timeout)
        self.pool = ThreadPool(cfg.rtsp_threads)
        self.uploads = BoundedSemaphore(cfg.uploads)

    def blocking(self, fn, *args):
        return self.pool.spawn(fn, *args).get()

    def run(self, app, scheduler, stopping) -> None:
        """One capture greenlet: take due jobs until a None (or the stop) ends it."""
        with app.app_context():
            while not stopping.is_set():
                job = scheduler.jobs.get()
                if job is None:
                    break
                try:
                    self.capture(*job)
                except Exception:  # noqa: BLE001 - one camera's bug must not stop the loop
                    log.exception("capture of camera %s failed", job[0].id)
                    self.stats["errors"] += 1
                finally:
                    scheduler.done(job[0].id)

    def capture(self, cam: CameraInfo, slot: int) -> None:
        try:
            claimed = self.membership.claim(cam.id, slot, cam.interval * 2 + 10)
        except Exception:  # noqa: BLE001 - Redis down: capture anyway, the unique row is the wall
            claimed = True
        if not claimed:
            self.stats["claimed_elsewhere"] += 1
            return
        taken = utc_now()
        state = self.health.state_of(cam)
        try:
            frame = grab_frame(cam, self.http, self.blocking, self.cfg.rtsp_timeout)
        except GrabError as exc:
            self.stats["unreachable"] += 1
            self.by_commune[(cam.commune_id, "failed")] += 1
            self.results.put(CaptureResult(cam, slot, taken, "unreachable", {"error": str(exc)[:400]}))
            return
        sha = hashlib.sha256(frame.jpeg).hexdigest()
        rule, detail, new_reference = self.health.judge(cam, state, frame.small, sha)
        result = CaptureResult(cam, slot, taken, rule, detail, object_key(cam, taken),
                               len(frame.jpeg), sha, frame.width, frame.height, new_reference=new_reference)
        store_or_spool(result, frame.jpeg, self.store, self.spool, self.uploads)
        self.stats["captured_" + frame.source] += 1
        self.stats["stored" if result.stored else "spooled"] += 1
        self.by_commune[(cam.commune_id, "taken")] += 1
        self.results.put(result)
