"""Coordination, cache and throttling counters: Redis (Cluster) when configured, else in-process.

Keys that must live together in a Redis Cluster share a ``{hash tag}``.
"""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit, urlunsplit


class InProcessStore:
    """A dict with expiry: the embedded default (one process, one worker)."""

    def __init__(self):
        self._data: dict[str, tuple[object, float | None]] = {}
        self._lock = threading.Lock()

    def _live(self, key):
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._data[key]
            return None
        return item

    def incr(self, key: str, ttl: int) -> int:
        """Increment a counter; the window starts at the first increment."""
        with self._lock:
            item = self._live(key)
            if item is None:
                self._data[key] = (1, time.monotonic() + ttl)
                return 1
            value, expires = item
            self._data[key] = (int(value) + 1, expires)
            return int(value) + 1

    def get(self, key: str):
        with self._lock:
            item = self._live(key)
            return None if item is None else item[0]

    def set(self, key: str, value, ttl: int | None = None, nx: bool = False) -> bool:
        with self._lock:
            if nx and self._live(key) is not None:
                return False
            self._data[key] = (value, None if ttl is None else time.monotonic() + ttl)
            return True

    def ttl(self, key: str) -> int:
        with self._lock:
            item = self._live(key)
            if item is None:
                return -2
            return -1 if item[1] is None else max(0, int(item[1] - time.monotonic() + 0.999))

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def ping(self) -> bool:
        return True


class RedisStore:
    """The same interface over redis-py: ``redis.cluster.RedisCluster`` or a single ``Redis``."""

    def __init__(self, client, prefix: str = ""):
        self.client = client
        self.prefix = prefix  # lets several installs (or test runs) share one cluster

    @classmethod
    def from_url(cls, url: str, prefix: str = "") -> "RedisStore":
        return cls(redis_client(url), prefix)

    def k(self, key: str) -> str:
        return self.prefix + key

    def incr(self, key: str, ttl: int) -> int:
        count = self.client.incr(self.k(key))
        if count == 1:
            self.client.expire(self.k(key), ttl)
        return int(count)

    def get(self, key: str):
        value = self.client.get(self.k(key))
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value, ttl: int | None = None, nx: bool = False) -> bool:
        return bool(self.client.set(self.k(key), value, ex=ttl, nx=nx))

    def ttl(self, key: str) -> int:
        return int(self.client.ttl(self.k(key)))

    def delete(self, *keys: str) -> None:
        for key in keys:  # one by one: keys may sit in different cluster slots
            self.client.delete(self.k(key))

    def ping(self) -> bool:
        return bool(self.client.ping())


def redis_client(url: str):
    """``redis+cluster://host:port`` (or ``?cluster=1``) gives a RedisCluster, else a Redis."""
    import redis
    from redis.cluster import RedisCluster

    parts = urlsplit(url)
    cluster = parts.scheme.endswith("+cluster") or "cluster=1" in parts.query or "cluster=true" in parts.query
    scheme = "rediss" if parts.scheme.startswith("rediss") else "redis"
    query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("cluster="))
    clean = urlunsplit((scheme, parts.netloc, parts.path, query, ""))
    if cluster:
        return RedisCluster.from_url(clean, socket_timeout=2, socket_connect_timeout=2)
    return redis.Redis.from_url(clean, socket_timeout=2, socket_connect_timeout=2)


def store_for(config):
    url = config.get("REDIS_URL")
    return RedisStore.from_url(url, config.get("REDIS_PREFIX", "camnet:")) if url else InProcessStore()
