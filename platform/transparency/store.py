"""The log in the database: appends (leaf + full-tile nodes), tree hashes read from tiles, proofs.

Everything here takes a SQLAlchemy connection, so the same code runs inside a posting
transaction, inside a mapper event of a flush (evidence exports, audit rows) and in the CLI.
An append is two statements (``UPDATE ... RETURNING size`` under the log row's lock, then the
leaf) plus, once every 256 leaves, one node per completed tile level.
"""
from __future__ import annotations

import secrets
from collections import defaultdict

from sqlalchemy import insert, select, update

from ..clock import utc_now
from . import merkle
from .models import LogLeaf, LogNode, TransparencyLog

LOGS, LEAVES, NODES = TransparencyLog.__table__, LogLeaf.__table__, LogNode.__table__
H = merkle.TILE_HEIGHT


class LogError(RuntimeError):
    """The stored log is inconsistent with what is asked of it."""


def new_salt() -> bytes:
    return secrets.token_bytes(32)


def leaf_data(salt: bytes, payload: bytes) -> bytes:
    """What the leaf hash covers: a 32-byte secret salt, then the entry's canonical bytes."""
    return salt + payload


def find_log(conn, commune_id: int, kind: str):
    return conn.execute(select(LOGS.c.id, LOGS.c.size, LOGS.c.origin)
                        .where(LOGS.c.commune_id == commune_id, LOGS.c.kind == kind)).first()


def ensure_log(conn, commune_id: int, kind: str, origin: str):
    """(id, size, origin) of the commune's log, created on first use (concurrent creators agree)."""
    row = find_log(conn, commune_id, kind)
    if row is not None:
        return row

    values = {"commune_id": commune_id, "kind": kind, "origin": origin, "size": 0, "created_at": utc_now()}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    conn.execute(upsert(LOGS).values(**values).on_conflict_do_nothing())
    return find_log(conn, commune_id, kind)


def append(conn, log_id: int, commune_id: int, ref_id: int, payload: bytes, *,
           expect_index: int | None = None) -> tuple[int, bytes] | None:
    """Append one salted leaf; (index, leaf hash). With ``expect_index`` the append only happens
    when the log has exactly that many leaves (None otherwise, nothing written)."""
    stmt = update(LOGS).where(LOGS.c.id == log_id)
    if expect_index is not None:
        stmt = stmt.where(LOGS.c.size == expect_index)
    size = conn.execute(stmt.values(size=LOGS.c.size + 1).returning(LOGS.c.size)).scalar()
    if size is None:
        if expect_index is not None:
            return None
        raise LogError(f"log {log_id} does not exist")
    salt = new_salt()
    digest = merkle.leaf_hash(leaf_data(salt, payload))
    conn.execute(insert(LEAVES).values(log_id=log_id, idx=size - 1, commune_id=commune_id, ref_id=ref_id,
                                       leaf_hash=digest, salt=salt, payload=payload))
    if size % merkle.TILE_WIDTH == 0:
        _complete_tiles(conn, log_id, commune_id, size)
    return size - 1, digest


def append_many(conn, log_id: int, commune_id: int, entries, batch: int = 10_000) -> int:
    """Append ``(ref_id, payload)`` entries in order, in batches (backfill, bulk loads); the new size."""
    size = conn.execute(select(LOGS.c.size).where(LOGS.c.id == log_id).with_for_update()).scalar_one()
    # the right edge of every tile level still open, so the nodes of completed tiles are computed here
    open_tiles: dict[int, list[bytes]] = {}
    for level in range(0, 64, H):
        count = size >> level
        start = count - count % merkle.TILE_WIDTH
        if count == 0:
            break
        open_tiles[level] = read_stored(conn, log_id, level, start, count)
    rows, nodes = [], []

    def flush():
        if rows:
            insert_leaves(conn, rows)
            rows.clear()
        if nodes:
            conn.execute(insert(NODES), nodes)
            nodes.clear()

    for ref_id, payload in entries:
        salt = new_salt()
        digest = merkle.leaf_hash(salt + payload)
        rows.append({"log_id": log_id, "idx": size, "commune_id": commune_id, "ref_id": ref_id,
                     "leaf_hash": digest, "salt": salt, "payload": payload})
        size += 1
        level, h = 0, digest
        while True:
            tile = open_tiles.setdefault(level, [])
            tile.append(h)
            if len(tile) < merkle.TILE_WIDTH:
                break
            h = merkle.root_of(tile)
            tile.clear()
            level += H
            nodes.append({"log_id": log_id, "level": level, "idx": (size >> level) - 1, "commune_id": commune_id,
                          "hash": h})
        if len(rows) >= batch:
            flush()
    flush()
    conn.execute(update(LOGS).where(LOGS.c.id == log_id).values(size=size))
    return size


def insert_leaves(conn, rows: list[dict]) -> None:
    # (not COPY: PostgreSQL refuses COPY FROM into a table under row-level security)
    conn.execute(insert(LEAVES), rows)


def _complete_tiles(conn, log_id: int, commune_id: int, size: int) -> None:
    """``size`` leaves complete the last tile: store its root, and upwards while tiles complete."""
    level = 0
    while (size >> level) % merkle.TILE_WIDTH == 0 and size >> level:
        end = size >> level
        hashes = read_stored(conn, log_id, level, end - merkle.TILE_WIDTH, end)
        if len(hashes) != merkle.TILE_WIDTH:
            raise LogError(f"log {log_id}: tile at level {level} ending at {end} is incomplete")
        conn.execute(insert(NODES).values(log_id=log_id, level=level + H, idx=(end >> H) - 1,
                                          commune_id=commune_id, hash=merkle.root_of(hashes)))
        level += H


def read_stored(conn, log_id: int, level: int, lo: int, hi: int) -> list[bytes]:
    """Hashes stored at tile level ``level`` (0 = leaves) for indexes [lo, hi), in order."""
    if hi <= lo:
        return []
    if level == 0:
        stmt = (select(LEAVES.c.leaf_hash).where(LEAVES.c.log_id == log_id, LEAVES.c.idx >= lo, LEAVES.c.idx < hi)
                .order_by(LEAVES.c.idx))
    else:
        stmt = (select(NODES.c.hash).where(NODES.c.log_id == log_id, NODES.c.level == level,
                                           NODES.c.idx >= lo, NODES.c.idx < hi).order_by(NODES.c.idx))
    return [bytes(h) for h in conn.execute(stmt).scalars()]


class Tree:
    """Tree hashes of one log, resolved from stored tiles with one query per batch of requests."""

    def __init__(self, conn, log_id: int):
        self.conn, self.log_id = conn, log_id
        self.cache: dict[tuple[int, int], bytes] = {}  # (stored level, index) -> hash

    def _fetch(self, subtrees) -> None:
        wanted: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for level, idx in subtrees:
            base, r = merkle.stored_levels(level)
            lo, hi = idx << r, (idx + 1) << r
            if any((base, i) not in self.cache for i in range(lo, hi)):
                wanted[base].append((lo, hi))
        # plain SQL with the (integer) bounds written in: a statement compiled per proof cost more
        # than the index scans themselves
        leaf_ranges = wanted.pop(0, [])
        log = int(self.log_id)
        if leaf_ranges:
            cond = " OR ".join(f"(idx >= {int(lo)} AND idx < {int(hi)})" for lo, hi in _merge(leaf_ranges))
            for idx, h in self.conn.exec_driver_sql(
                    f"SELECT idx, leaf_hash FROM tlog_leaves WHERE log_id = {log} AND ({cond})"):  # nosec B608
                self.cache[(0, idx)] = bytes(h)
        if wanted:
            cond = " OR ".join(f"(level = {int(base)} AND idx >= {int(lo)} AND idx < {int(hi)})"
                               for base, ranges in wanted.items() for lo, hi in _merge(ranges))
            for level, idx, h in self.conn.exec_driver_sql(
                    f"SELECT level, idx, hash FROM tlog_nodes WHERE log_id = {log} AND ({cond})"):  # nosec B608
                self.cache[(level, idx)] = bytes(h)

    def node(self, level: int, idx: int) -> bytes:
        base, r = merkle.stored_levels(level)
        try:
            hashes = [self.cache[(base, i)] for i in range(idx << r, (idx + 1) << r)]
        except KeyError:
            raise LogError(f"log {self.log_id}: subtree ({level}, {idx}) is not stored") from None
        return merkle.root_of(hashes)

    def hashes(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        self._fetch([s for lo, hi in ranges for s in merkle.complete_subtrees(lo, hi)])
        return [merkle.range_hash(lo, hi, self.node) for lo, hi in ranges]

    def root(self, size: int) -> bytes:
        if size == 0:
            return merkle.root_of([])
        return self.hashes([(0, size)])[0]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return self.hashes(merkle.inclusion_ranges(index, size))

    def consistency(self, old: int, new: int) -> list[bytes]:
        return self.hashes(merkle.consistency_ranges(old, new))


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]
