"""Publish a log as C2SP tlog-tiles in the object store: ``tlog/<commune id>/<kind>/checkpoint`` and
``.../tile/<L>/<N>[.p/<W>]`` (hash tiles only: entry bundles would hand out every salt and payload)."""
from __future__ import annotations

from sqlalchemy import select

from . import merkle, services, store
from .note import NoteError, parse_checkpoint, parse_note

W = merkle.TILE_WIDTH


def prefix(commune_id: int, kind: str) -> str:
    return f"tlog/{commune_id}/{kind}/"


def publish(conn, objects, commune_id: int, kind: str) -> dict:
    """Write the tiles the latest checkpoint needs that the store lacks, then the checkpoint itself."""
    log = services.get_log(conn, commune_id, kind)
    cp = services.issue_checkpoint(conn, log)  # a new one when the log grew and the interval passed
    if cp is None:
        return {"size": 0, "tiles": 0}
    base = prefix(commune_id, kind)
    old = 0
    if objects.exists(base + "checkpoint"):
        try:
            old = parse_checkpoint(parse_note(objects.get(base + "checkpoint").decode()).body).size
        except (NoteError, UnicodeDecodeError):
            old = 0
    written = 0
    size, level = cp.size, 0
    while size >> level:
        count, was = size >> level, old >> level
        first_tile = was // W  # the tile that was partial (or the next) at the old size
        for n in range(first_tile, (count + W - 1) // W):
            lo, hi = n * W, min(count, (n + 1) * W)
            if hi == lo or (hi - lo == W and (n + 1) * W <= was):
                continue
            data = b"".join(store.read_stored(conn, log.id, level, lo, hi))
            objects.put(base + merkle.tile_path(level // merkle.TILE_HEIGHT, n, hi - lo), data,
                        "application/octet-stream")
            written += 1
        level += merkle.TILE_HEIGHT
        if count < W:
            break
    objects.put(base + "checkpoint", services.served_note(conn, cp).encode(), "text/plain; charset=utf-8")
    return {"size": cp.size, "tiles": written, "prefix": base}


def all_logs(conn):
    return conn.execute(select(store.LOGS.c.commune_id, store.LOGS.c.kind).order_by(store.LOGS.c.id)).all()
