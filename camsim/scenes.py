"""Scene files: which cameras a simulator knows and how each one looks.

A scene file is JSON ``{"cameras": {"<camera id>": "<mode>", ...}}`` (modes of
``camsim.http_camera.HTTP_MODES``). A simulator started with one answers only the cameras it
lists (or that a control request named since) and answers any other name with 404, so a
mistyped camera address looks broken, not healthy. The file is read again when it changes, so
a demo loaded while the simulator runs is picked up within a second.

    write_scene("instance/camsim-scenes.json", {"NUIDOI-003": "dark", "NUIDOI-004": "normal"})
    python -m camsim.http_camera --port 8090 --scenes instance/camsim-scenes.json
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time

__all__ = ["SceneFile", "write_scene"]


def write_scene(path: str, cameras: dict[str, str]) -> None:
    """Write (atomically) the scene of ``cameras``: camera id -> mode."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".camsim-scene-", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"cameras": dict(sorted(cameras.items()))}, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


class SceneFile:
    """A scene file watched for changes (its modification time, looked at once a second at most)."""

    def __init__(self, path: str, recheck: float = 1.0):
        self.path = path
        self.recheck = recheck
        self._stamp: tuple | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def changed(self) -> dict[str, str] | None:
        """The cameras of the file when it changed since the last call (an empty dict when it is
        missing or unreadable after having been there), else None."""
        now = time.monotonic()
        if now - self._checked < self.recheck and self._stamp is not None:
            return None
        with self._lock:
            self._checked = now
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size)
            except OSError:
                stamp = ("missing",)
            if stamp == self._stamp:
                return None
            self._stamp = stamp
            if stamp == ("missing",):
                return {}
            try:
                with open(self.path, encoding="utf-8") as fh:
                    data = json.load(fh)
                cameras = data.get("cameras", {}) if isinstance(data, dict) else {}
                return {str(k): str(v) for k, v in cameras.items()}
            except (OSError, ValueError):
                self._stamp = None  # half written: read it again next time
                return None
