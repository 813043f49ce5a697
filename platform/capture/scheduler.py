"""Which camera is due when: a heap of (due time, camera, slot) over the cameras this worker owns."""
from __future__ import annotations

import heapq
import time

import gevent
from gevent.queue import Full, Queue

from .sharding import score


class Scheduler:
    """Pops due (camera, slot) pairs into a bounded job queue: full, a capture is dropped and
    counted; a camera still busy with an earlier slot is skipped (docs/SCALING.md, "Capture worker")."""

    def __init__(self, membership, queue_max: int, stats):
        self.membership, self.stats = membership, stats
        self.jobs: Queue = Queue(queue_max)
        self.cameras: dict = {}
        self.scheduled: dict[int, int] = {}  # camera id -> last slot queued
        self.inflight: set[int] = set()
        self.heap: list = []
        self.generation = 0  # entries of an older heap are skipped

    @staticmethod
    def phase(cam) -> float:
        """Spread captures over the interval instead of all at its start."""
        return (score("phase", cam.id) % 10007) / 10007 * cam.interval

    def adopt(self, cameras: dict) -> None:
        self.cameras = cameras
        self.reschedule()

    def reschedule(self) -> None:
        """A new heap of the owned cameras' next slots (after a new list or a membership change)."""
        self.generation += 1
        now = time.time()
        heap = []
        for cam in self.cameras.values():
            if not self.membership.owns(cam.id):
                continue
            slot = int(now // cam.interval)
            if self.scheduled.get(cam.id, -1) >= slot:
                slot += 1
            due = max(now, slot * cam.interval + self.phase(cam))
            heap.append((due, self.generation, cam.id, slot))
        heapq.heapify(heap)
        self.heap = heap
        self.stats["owned"] = len(heap)

    def run(self, stopping) -> None:
        while not stopping.is_set():
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
                heapq.heappush(self.heap, (nxt * cam.interval + self.phase(cam), gen, cam_id, nxt))
            wait = self.heap[0][0] - time.time() if self.heap else 0.2
            gevent.sleep(min(0.2, max(0.005, wait)))

    def done(self, camera_id: int) -> None:
        self.inflight.discard(camera_id)
