"""A small in-process cache for aggregates that may be a few seconds old (dashboards).

Each web worker keeps its own entries. A fresh entry is served as is; a stale one is served
while one request (and only one) recomputes it, and kept if that recomputation fails; a
missing or expired one is computed once while the other requests for the same key wait for
that result instead of computing it too.
Keys must carry everything the value depends on, the caller's visible units included, so an
entry is never served to someone who could not have computed it themselves.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

log = logging.getLogger("camnet.aggregates")


class AggregateCache:
    def __init__(self, fresh_seconds: float, stale_seconds: float, max_entries: int = 64):
        self.fresh = fresh_seconds
        self.stale = stale_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._locks: dict[Any, threading.Lock] = {}
        self._refreshing: set = set()
        self._guard = threading.Lock()
        self.computed = 0

    def _lock_for(self, key) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _store(self, key, value) -> None:
        with self._guard:
            self._entries[key] = (time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                old, _ = self._entries.popitem(last=False)
                self._locks.pop(old, None)

    def get(self, key, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None:
            age = now - entry[0]
            if age < self.fresh:
                return entry[1]
            if age < self.fresh + self.stale:
                with self._guard:
                    mine = key not in self._refreshing
                    if mine:
                        self._refreshing.add(key)
                if not mine:
                    return entry[1]  # someone is refreshing it: the stale value will do
                try:
                    value = compute()
                    self.computed += 1
                    self._store(key, value)
                    return value
                except Exception:  # noqa: BLE001 - a failed refresh keeps the last good answer
                    log.exception("refreshing %r failed; serving the previous answer", key[0] if
                                  isinstance(key, tuple) else key)
                    return entry[1]
                finally:
                    with self._guard:
                        self._refreshing.discard(key)
        with self._lock_for(key):
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry[0] < self.fresh:
                return entry[1]
            value = compute()
            self.computed += 1
            self._store(key, value)
            return value

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()
            self._locks.clear()


def aggregate_cache(app=None) -> AggregateCache:
    """The application's cache of dashboard aggregates (one per app, so per web worker)."""
    from flask import current_app

    app = app or current_app
    cache = app.extensions.get("camnet_aggregates")
    if cache is None:
        seconds = app.config.get("OVERVIEW_CACHE_SECONDS", 30)
        cache = app.extensions["camnet_aggregates"] = AggregateCache(seconds, seconds)
    return cache
