"""Transparency services: the logs of a commune, checkpoints, proof bundles, the full audit, the ledger backfill."""
from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from hashlib import sha256

from flask import current_app
from sqlalchemy import insert, select

from ..clock import utc_now
from ..errors import NotFoundError, ValidationFailed
from ..tenants.models import AdminUnit
from . import keys, merkle, store
from .models import KINDS, LogCheckpoint, LogCosignature, LogLeaf, TransparencyLog
from .note import Checkpoint, parse_note, sign_note

CPS, COSIGS, LEAVES, LOGS = (LogCheckpoint.__table__, LogCosignature.__table__, LogLeaf.__table__,
                             TransparencyLog.__table__)
_UNSAFE = re.compile(r"[\s+]")  # key names (= origins) carry no spaces and no '+'
CHAIN_HEAD = "camnet-ledger-chain-head"  # extension line: the old hash chain's head at the migration


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def origin_for(conn, commune_id: int, kind: str) -> str:
    code = conn.execute(select(AdminUnit.__table__.c.code).where(AdminUnit.__table__.c.id == commune_id)).scalar()
    if code is None:
        raise NotFoundError()
    host = current_app.config.get("TLOG_ORIGIN_HOST") or "camnet.example"
    return f"{host}/{_UNSAFE.sub('-', code)}/{kind}"


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFoundError()
    return kind


def get_log(conn, commune_id: int, kind: str, create: bool = False):
    check_kind(kind)
    row = store.find_log(conn, commune_id, kind)
    if row is None and create:
        row = store.ensure_log(conn, commune_id, kind, origin_for(conn, commune_id, kind))
    if row is None:
        raise NotFoundError("Xã chưa có nhật ký này / This commune has no such log yet")
    return row


def log_by_code(conn, code: str, kind: str):
    check_kind(kind)
    t = AdminUnit.__table__
    unit_id = conn.execute(select(t.c.id).where(t.c.code == code, t.c.is_commune.is_(True))).scalar()
    if unit_id is None:
        raise NotFoundError()
    return get_log(conn, unit_id, kind)


def log_ids() -> dict:
    """(commune id, kind) -> log id, remembered per app (a stale id only sends an append the slow way)."""
    return current_app.extensions.setdefault("camnet.tlog_ids", {})


def append_entry(conn, commune_id: int, kind: str, ref_id: int, payload: bytes) -> tuple[int, bytes]:
    cache = log_ids()
    log_id = cache.get((commune_id, kind))
    if log_id is None:
        log_id = cache[(commune_id, kind)] = get_log(conn, commune_id, kind, create=True).id
    try:
        return store.append(conn, log_id, commune_id, ref_id, payload)
    except store.LogError:
        cache.pop((commune_id, kind), None)
        raise


# ---- checkpoints ----------------------------------------------------------------------------

def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def latest_checkpoint(conn, log_id: int):
    return conn.execute(select(CPS).where(CPS.c.log_id == log_id).order_by(CPS.c.size.desc()).limit(1)).first()


def checkpoint_at(conn, log_id: int, size: int):
    row = conn.execute(select(CPS).where(CPS.c.log_id == log_id, CPS.c.size == size)).first()
    if row is None:
        raise NotFoundError("Không có checkpoint ở kích thước này / No checkpoint at this size", field="size")
    return row


def issue_checkpoint(conn, log, *, force: bool = False, extensions: tuple[str, ...] = ()):
    """Sign a checkpoint of the log's current size when it grew, at most every
    ``TLOG_CHECKPOINT_INTERVAL`` seconds unless ``force``; the latest checkpoint (None for an empty log)."""
    latest = latest_checkpoint(conn, log.id)
    size = conn.execute(select(LOGS.c.size).where(LOGS.c.id == log.id)).scalar_one()
    if size == 0 or (latest is not None and latest.size >= size):
        return latest
    interval = int(current_app.config.get("TLOG_CHECKPOINT_INTERVAL", 60))
    if not force and latest is not None:
        age = (utc_now() - _aware(latest.created_at)).total_seconds()
        if age < interval:
            return latest
    root = store.Tree(conn, log.id).root(size)
    body = Checkpoint(log.origin, size, root, tuple(extensions)).body()
    note = sign_note(body, keys.signer(log.origin))
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    commune_id = conn.execute(select(LOGS.c.commune_id).where(LOGS.c.id == log.id)).scalar_one()
    conn.execute(upsert(CPS).values(log_id=log.id, commune_id=commune_id, size=size, root=root, note=note,
                                    created_at=utc_now()).on_conflict_do_nothing())
    return checkpoint_at(conn, log.id, size)


def served_note(conn, cp) -> str:
    """The checkpoint's signed note with the witnesses' cosignature lines added."""
    lines = conn.execute(select(COSIGS.c.line).where(COSIGS.c.checkpoint_id == cp.id)
                         .order_by(COSIGS.c.id)).scalars().all()
    return cp.note + "".join(lines)


def add_cosignatures(conn, cp, witness_lines: str) -> int:
    """Store a witness's cosignature lines for ``cp`` (checked against the body by the caller)."""
    added = 0
    for line in witness_lines.splitlines():
        if not line.strip():
            continue
        note = parse_note(cp.note.split("\n\n", 1)[0] + "\n\n" + line + "\n")
        name = note.sigs[0][0]
        exists = conn.execute(select(COSIGS.c.id).where(COSIGS.c.checkpoint_id == cp.id,
                                                        COSIGS.c.witness == name)).first()
        if exists is None:
            conn.execute(insert(COSIGS).values(checkpoint_id=cp.id, commune_id=cp.commune_id, witness=name,
                                               line=line + "\n", created_at=utc_now()))
            added += 1
    return added


# ---- proofs ---------------------------------------------------------------------------------

def checkpoint_covering(conn, log, index: int, size: int | None):
    if size is not None:
        cp = checkpoint_at(conn, log.id, size)
    else:
        cp = latest_checkpoint(conn, log.id)
        if cp is None or cp.size <= index:
            cp = issue_checkpoint(conn, log, force=True)  # on demand: the entry is newer than the last one
    if cp is None or cp.size <= index:
        raise ValidationFailed("size: the checkpoint does not contain this entry yet", field="size")
    return cp


def leaf_bundle(conn, log, leaf, size: int | None = None) -> dict:
    """Everything a holder needs to check one entry offline: data, salt, index, proof and checkpoint."""
    cp = checkpoint_covering(conn, log, leaf.idx, size)
    proof = store.Tree(conn, log.id).inclusion(leaf.idx, cp.size)
    payload = bytes(leaf.payload)
    return {"origin": log.origin, "index": leaf.idx, "size": cp.size, "leaf_hash": b64(bytes(leaf.leaf_hash)),
            "salt": b64(bytes(leaf.salt)), "payload": b64(payload),
            "payload_text": payload.decode("utf-8", "replace"), "proof": [b64(h) for h in proof],
            "checkpoint": served_note(conn, cp), "verifier_key": keys.verifier_key(log.origin)}


def leaf_by_ref(conn, log, ref_id: int):
    row = conn.execute(select(LEAVES).where(LEAVES.c.log_id == log.id, LEAVES.c.ref_id == ref_id)
                       .order_by(LEAVES.c.idx).limit(1)).first()
    if row is None:
        raise NotFoundError("Mục chưa có trong nhật ký / Entry not in the log")
    return row


def inclusion_by_hash(conn, log, leaf_hash: bytes, size: int | None) -> dict:
    """Public: the index and proof of a leaf its holder already knows (no salt, no payload)."""
    idx = conn.execute(select(LEAVES.c.idx).where(LEAVES.c.log_id == log.id, LEAVES.c.leaf_hash == leaf_hash)
                       .order_by(LEAVES.c.idx).limit(1)).scalar()
    if idx is None:
        raise NotFoundError("Không có mục này trong nhật ký / No such entry in the log")
    cp = checkpoint_covering(conn, log, idx, size)
    proof = store.Tree(conn, log.id).inclusion(idx, cp.size)
    return {"origin": log.origin, "index": idx, "size": cp.size, "leaf_hash": b64(leaf_hash),
            "proof": [b64(h) for h in proof], "checkpoint": served_note(conn, cp)}


def consistency(conn, log, old: int, new: int) -> dict:
    cp_new = checkpoint_at(conn, log.id, new)
    if not 0 < old <= new:
        raise ValidationFailed("old: must be between 1 and the new size", field="old")
    proof = store.Tree(conn, log.id).consistency(old, new)
    return {"origin": log.origin, "old": old, "new": new, "proof": [b64(h) for h in proof],
            "checkpoint": served_note(conn, cp_new)}


# ---- full audit -----------------------------------------------------------------------------

AUDIT_BATCH = 1 << 14  # leaves per batch: a power of two, so each batch is a complete subtree


def audit(conn, log, batch: int = AUDIT_BATCH) -> dict:
    """Re-hash every leaf, recompute the root at the latest checkpoint, check its signature.

    Batches of 2**14 leaves are complete subtrees: each is hashed up to its root while the next
    batch is being read (a reader thread; psycopg lets go of the GIL while it waits), then the
    batch roots are folded like any other stored subtrees."""
    from .note import Verifier, open_checkpoint

    cp = latest_checkpoint(conn, log.id)
    if cp is None:
        return {"ok": True, "size": 0, "problems": []}
    checked = open_checkpoint(cp.note, Verifier.parse(keys.verifier_key(log.origin)))
    problems: list[str] = []
    roots: list[bytes] = []
    seen = 0
    for rows in _leaf_batches(conn, log.id, cp.size, batch):
        digests = [sha256(data).digest() for data, _stored in rows]
        if digests != [bytes(stored) for _data, stored in rows]:
            bad = next(i for i, (d, (_x, st)) in enumerate(zip(digests, rows, strict=True)) if d != bytes(st))
            problems.append(f"leaf {seen + bad}: its data does not hash to the stored leaf hash")
        roots.append(merkle.root_of(digests))
        seen += len(rows)
    if seen != cp.size:
        problems.append(f"{seen} leaves found, the checkpoint says {cp.size}")
    elif _fold(roots, cp.size, batch) != checked.root:
        problems.append("the recomputed root differs from the checkpoint's")
    return {"ok": not problems, "size": cp.size, "problems": problems[:20]}


def _fold(batch_roots: list[bytes], size: int, batch: int) -> bytes:
    """The tree hash from the roots of consecutive batches (all complete but maybe the last): the
    complete subtrees made of whole batches, then the partial batch's own root, folded right to left."""
    if not batch_roots:
        return merkle.root_of([])
    full = size // batch
    parts = [merkle.root_of(batch_roots[idx << lv:(idx + 1) << lv]) for lv, idx in merkle.complete_subtrees(0, full)]
    if size % batch:
        parts.append(batch_roots[-1])
    h = parts.pop()
    while parts:
        h = merkle.node_hash(parts.pop(), h)
    return h


def _leaf_batches(conn, log_id: int, size: int, batch: int):
    """Lists of (0x00 || salt || payload, stored leaf hash) in index order, read ahead by a thread."""
    import queue
    import threading

    sql = ("SELECT {pre} || salt || payload, leaf_hash FROM tlog_leaves WHERE log_id = {p} AND idx < {p} "
           "ORDER BY idx")
    if conn.dialect.name != "postgresql":
        rows = conn.exec_driver_sql("SELECT salt, payload, leaf_hash FROM tlog_leaves WHERE log_id = ? AND idx < ? "
                                    "ORDER BY idx", (log_id, size)).all()
        for i in range(0, len(rows), batch):
            yield [(b"\x00" + salt + payload, leaf) for salt, payload, leaf in rows[i:i + batch]]
        return
    raw = conn.connection.driver_connection
    out: queue.Queue = queue.Queue(maxsize=4)

    def read():
        try:
            with raw.cursor(name="tlog_audit", binary=True) as cur:
                cur.execute(sql.format(pre="'\\x00'::bytea", p="%s"), (log_id, size))
                while rows := cur.fetchmany(batch):
                    out.put(rows)
            out.put(None)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer
            out.put(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while (rows := out.get()) is not None:
        if isinstance(rows, Exception):
            raise rows
        yield rows
    reader.join()


# ---- witnesses ------------------------------------------------------------------------------

def cosign(conn, log, send, witness_key: str) -> dict:
    """Ask a witness (``send``: request body -> witness.Answer) to cosign the latest checkpoint,
    proving consistency from the last size it saw; store its cosignature line."""
    from .note import Verifier, verified_by
    from .witness import build_request

    witness = Verifier.parse(witness_key)
    cp = issue_checkpoint(conn, log, force=True)
    if cp is None:
        raise ValidationFailed("log: empty, nothing to cosign", field="log")
    old = conn.execute(select(CPS.c.size).join(COSIGS, COSIGS.c.checkpoint_id == CPS.c.id)
                       .where(CPS.c.log_id == log.id, COSIGS.c.witness == witness.name)
                       .order_by(CPS.c.size.desc()).limit(1)).scalar() or 0
    tree = store.Tree(conn, log.id)
    for attempt in range(2):
        proof = tree.consistency(old, cp.size) if 0 < old < cp.size else []
        answer = send(build_request(old, proof, cp.note))
        if answer.status == 409 and attempt == 0 and answer.body.strip().isdigit():
            old = int(answer.body.strip())  # the witness saw another size last: prove from there
            if old > cp.size:
                break
            continue
        break
    if answer.status != 200:
        raise ValidationFailed(f"witness {witness.name}: refused ({answer.status}) {answer.body.strip()[:200]}",
                               field="witness")
    body = cp.note.split("\n\n", 1)[0] + "\n"
    if not verified_by(parse_note(body + "\n" + answer.body), witness):
        raise ValidationFailed(f"witness {witness.name}: the cosignature does not verify", field="witness")
    add_cosignatures(conn, cp, answer.body)
    return {"origin": log.origin, "size": cp.size, "witness": witness.name}
