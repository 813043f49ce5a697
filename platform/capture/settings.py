"""The capture worker's typed settings (env or app config ``CAPTURE_<NAME>``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..settings import numbers_from_config


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
