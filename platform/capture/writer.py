"""Getting captures into the database: the batched writer, and the spool drained oldest first."""
from __future__ import annotations

import logging
from datetime import datetime

from gevent.queue import Empty
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..storage import StorageError
from ..streams.models import Camera, FaultTicket, Snapshot
from ..tenants.scope import system_scope
from .health import apply_transition
from .reference import reference_key
from .snapshot import CaptureResult
from .uptime import add_checks

log = logging.getLogger("camnet.worker")


class Writer:
    """One greenlet puts the results in the database in batches; another drains the spool."""

    def __init__(self, app, cfg, name: str, store, spool, results, stopping, stats):
        self.app, self.cfg, self.name = app, cfg, name
        self.store, self.spool, self.results = store, spool, results
        self.stopping, self.stats = stopping, stats

    def run(self) -> None:
        """Until a None in the queue: gather a batch (``write_linger``), write it, retry it while
        the database is away."""
        with self.app.app_context():
            while True:
                first = self.results.get()
                if first is None:
                    break
                batch = self._gather(first)
                for attempt in range(5):
                    try:
                        with system_scope():
                            write_results(batch, self.name, self.store)
                        self.stats["written"] += len(batch)
                        break
                    except Exception:  # noqa: BLE001 - database away: wait and retry the batch
                        log.exception("writing %d captures failed (attempt %d)", len(batch), attempt + 1)
                        db.session.rollback()
                        self.stopping.wait(1 + attempt)
                else:
                    self.stats["lost_rows"] += len(batch)
                db.session.remove()

    def _gather(self, first: CaptureResult) -> list[CaptureResult]:
        batch = [first]
        if self.cfg.write_linger > 0:
            self.stopping.wait(self.cfg.write_linger)
        while len(batch) < self.cfg.batch_max:
            try:
                item = self.results.get_nowait()
            except Empty:
                break
            if item is None:
                self.results.put(None)  # the stop: seen again by run() after this batch
                break
            batch.append(item)
        return batch

    def run_spool(self) -> None:
        with self.app.app_context():
            while not self.stopping.wait(self.cfg.spool_retry):
                self.drain_spool()

    def drain_spool(self) -> int:
        """Upload spooled snapshots oldest first, each followed by its row; stop at the first
        failure so the order holds. Returns how many left the spool."""
        done = 0
        for name, meta in self.spool.entries():
            try:
                self.store.put(meta["key"], self.spool.read(name), "image/jpeg")
                with system_scope():
                    insert_spooled(meta, self.name)
            except StorageError:
                break  # still away: keep the order, try again later
            except Exception:  # noqa: BLE001
                log.exception("unspooling %s failed", name)
                db.session.rollback()
                break
            self.spool.remove(name)
            done += 1
        self.stats["unspooled"] += done
        db.session.remove()
        return done


def _snapshot_row(result: CaptureResult, worker: str) -> Snapshot:
    return Snapshot(camera_id=result.camera.id, commune_id=result.camera.commune_id,
                    taken_at=result.taken_at, slot=result.slot, object_key=result.key,
                    size=result.size, sha256=result.sha256, width=result.width,
                    height=result.height, worker=worker, health=result.rule)


def write_results(results: list[CaptureResult], worker: str, store=None) -> None:
    """One transaction for a batch of captures (caller holds an app context and system_scope).

    A duplicate (camera, slot) can only come from two workers racing past their claims; the
    batch is then retried row by row and the loser's object removed.
    """
    try:
        _write(results, worker)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if len(results) == 1:
            log.warning("camera %s slot %s already captured", results[0].camera.id, results[0].slot)
            if store is not None and results[0].stored and results[0].key:
                _quiet_delete(store, results[0].key)
            return
        for one in results:
            write_results([one], worker, store)


def _write(results: list[CaptureResult], worker: str) -> None:
    rows = {}
    for r in results:
        if r.stored and r.key:
            rows[id(r)] = _snapshot_row(r, worker)
            db.session.add(rows[id(r)])
    if rows:
        db.session.flush()
    ids = {r.camera.id for r in results}
    cameras = {c.id: c for c in db.session.execute(select(Camera).where(Camera.id.in_(ids))).scalars()}
    for r in sorted(results, key=lambda r: r.taken_at):
        cam = cameras.get(r.camera.id)
        if cam is None:
            continue
        row = rows.get(id(r))
        if row is not None:
            cam.last_snapshot_at = r.taken_at
        if r.new_reference is not None and r.key:
            cam.reference_key = reference_key(r.camera)
        apply_transition(db.session, cam, r.rule, r.detail, r.taken_at,
                         snapshot_id=row.id if row is not None else None, evidence_key=r.key)
    add_checks(db.session, [(r.camera.id, r.camera.commune_id, r.taken_at.date(), r.rule == "ok")
                            for r in results])


def insert_spooled(meta: dict, worker: str) -> None:
    """The row of a snapshot whose object just left the spool (idempotent)."""
    taken = datetime.fromisoformat(meta["taken_at"])
    row = Snapshot(camera_id=meta["camera_id"], commune_id=meta["commune_id"], taken_at=taken,
                   slot=meta["slot"], object_key=meta["key"], size=meta.get("size", 0),
                   sha256=meta["sha256"], width=meta["width"], height=meta["height"],
                   worker=worker, health=meta["health"])
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # already inserted before a crash: done
        db.session.rollback()
        return
    db.session.execute(update(FaultTicket).where(FaultTicket.evidence_key == meta["key"],
                                                 FaultTicket.evidence_snapshot_id.is_(None))
                       .values(evidence_snapshot_id=row.id))
    db.session.execute(update(Camera).where(Camera.id == meta["camera_id"],
                                            (Camera.last_snapshot_at.is_(None)) | (Camera.last_snapshot_at < taken))
                       .values(last_snapshot_at=taken))
    db.session.commit()


def _quiet_delete(store, key: str) -> None:
    try:
        store.delete(key)
    except StorageError:
        log.warning("could not remove duplicate object %s", key)
