"""Sharding cameras across capture workers: heartbeats, rendezvous hashing, per-slot claims.

Why it holds while workers come and go: docs/SCALING.md, "Capture sharding".
"""
from __future__ import annotations

import hashlib
import os
import socket
import time


def worker_name() -> str:
    return f"{socket.gethostname()[:50]}-{os.getpid()}"


def score(worker: str, camera_id: int) -> int:
    """A stable 64-bit hash of (worker, camera): the rendezvous weight, and the capture phase."""
    digest = hashlib.blake2b(f"{worker}\0{camera_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner_of(camera_id: int, workers) -> str | None:
    """Rendezvous (highest random weight) hashing."""
    return max(workers, key=lambda w: score(w, camera_id), default=None)


class Membership:
    """Who is alive, and the per-slot claim, over Redis (or alone without it)."""

    def __init__(self, coord, name: str, heartbeat: float = 5.0, dead_after: float = 15.0):
        self.coord = coord
        self.client = getattr(coord, "client", None)  # None: in-process store, a single worker
        self.name = name
        self.heartbeat_every = heartbeat
        self.dead_after = dead_after
        self.live: tuple[str, ...] = (name,)
        self._local_claims: dict[str, float] = {}

    @property
    def shared(self) -> bool:
        return self.client is not None

    def _key(self, key: str) -> str:
        return self.coord.k(key)

    def heartbeat(self) -> tuple[str, ...]:
        """Announce this worker, forget the dead, and return the live workers (sorted)."""
        if not self.shared:
            return self.live
        now = time.time()
        key = self._key("capture:workers")
        self.client.zadd(key, {self.name: now})
        self.client.zremrangebyscore(key, "-inf", now - self.dead_after)
        members = self.client.zrangebyscore(key, now - self.dead_after, "+inf")
        live = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        self.live = tuple(live) if self.name in live else tuple(sorted({*live, self.name}))
        return self.live

    def leave(self) -> None:
        if self.shared:
            self.client.zrem(self._key("capture:workers"), self.name)

    def owns(self, camera_id: int) -> bool:
        return owner_of(camera_id, self.live) == self.name

    def claim(self, camera_id: int, slot: int, ttl: int) -> bool:
        """True if this worker may capture (camera, slot): the first to ask wins."""
        key = f"capture:claim:{camera_id}:{slot}"
        if self.shared:
            return bool(self.client.set(self._key(key), self.name, nx=True, ex=max(1, int(ttl))))
        now = time.monotonic()
        if len(self._local_claims) > 10000:
            self._local_claims = {k: v for k, v in self._local_claims.items() if v > now}
        if self._local_claims.get(key, 0) > now:
            return False
        self._local_claims[key] = now + ttl
        return True
