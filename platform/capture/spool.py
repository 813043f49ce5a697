"""A bounded local spool for snapshots taken while the object store is unreachable.

An entry is a JPEG plus a JSON sidecar written last; names sort oldest first. Why nothing is
lost or stored twice across a crash: docs/SCALING.md, "Capture spool".
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path


class Spool:
    def __init__(self, directory: str, max_bytes: int):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.dropped = 0
        self._last = 0
        for stale in self.dir.glob("*.tmp"):  # left by a crash mid-write
            stale.unlink(missing_ok=True)
        self.bytes = sum(p.stat().st_size for p in self.dir.iterdir() if p.is_file())

    def _name(self) -> str:
        stamp = max(time.time_ns(), self._last + 1)  # strictly increasing within a process
        self._last = stamp
        return f"{stamp:020d}-{os.getpid()}"

    def put(self, meta: dict, data: bytes) -> bool:
        """Keep one snapshot; False (and counted) if the spool is full."""
        body = json.dumps(meta).encode()
        if self.bytes + len(data) + len(body) > self.max_bytes:
            self.dropped += 1
            return False
        name = self._name()
        for suffix, payload in ((".jpg", data), (".json", body)):
            tmp = self.dir / f"{name}{suffix}.tmp"
            tmp.write_bytes(payload)
            os.replace(tmp, self.dir / f"{name}{suffix}")
        self.bytes += len(data) + len(body)
        return True

    def entries(self):
        """(name, meta) of complete entries, oldest first."""
        for path in sorted(self.dir.glob("*.json")):
            try:
                yield path.stem, json.loads(path.read_text())
            except (OSError, ValueError):
                continue

    def read(self, name: str) -> bytes:
        return (self.dir / f"{name}.jpg").read_bytes()

    def remove(self, name: str) -> None:
        for suffix in (".json", ".jpg"):  # sidecar first: a half-removed entry is never replayed
            path = self.dir / f"{name}{suffix}"
            try:
                size = path.stat().st_size
                path.unlink()
                self.bytes -= size
            except FileNotFoundError:
                pass

    def __len__(self) -> int:
        return sum(1 for _ in self.dir.glob("*.json"))
