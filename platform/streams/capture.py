"""One capture, end to end: grab, judge, store (or spool), and the batched database write.

Jobs carry plain ``CameraInfo`` values, not ORM objects: the slow part (the camera) runs with
no database session open, and the rows are written in batches by one writer.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..storage import StorageError
from .grab import Frame, GrabError, jpeg_size, small_from_jpeg, strip_credentials
from .models import Camera, FaultTicket, Snapshot

log = logging.getLogger("camnet.capture")


@dataclass
class CameraInfo:
    id: int
    commune_id: int
    interval: int
    snapshot_url: str | None
    mjpeg_url: str | None
    rtsp_url: str | None
    username: str | None = None
    password: str | None = None
    reference_key: str | None = None

    @property
    def sources(self) -> list[tuple[str, str]]:
        """Cheapest first: the camera's own JPEG, an MJPEG frame, then decoding the stream."""
        found = [("snapshot", self.snapshot_url), ("mjpeg", self.mjpeg_url), ("rtsp", self.rtsp_url)]
        return [(kind, url) for kind, url in found if url]


@dataclass
class CaptureResult:
    camera: CameraInfo
    slot: int
    taken_at: datetime
    rule: str
    detail: dict = field(default_factory=dict)
    key: str | None = None
    size: int = 0
    sha256: str | None = None
    width: int = 0
    height: int = 0
    stored: bool = False  # False with a key: spooled, the row comes when the object is stored
    new_reference: bytes | None = None  # PNG of the reference view to keep


def check_target(url: str) -> None:
    """Re-check the address right before connecting (DNS may have changed since it was saved)."""
    from .urls import check_connect_target

    check_connect_target(url)


def load_cameras() -> dict[int, CameraInfo]:
    """Every camera that may be captured now (the caller holds system_scope)."""
    from .crypto import decrypt_password
    from .registry import capturable_cameras_query

    cams = {}
    for cam in db.session.execute(capturable_cameras_query()).scalars():
        try:
            password = decrypt_password(cam) if cam.password_enc else None
        except Exception:  # noqa: BLE001 - a bad token must not stop the others
            log.warning("camera %s: password cannot be decrypted", cam.id)
            password = None
        cams[cam.id] = CameraInfo(cam.id, cam.commune_id, max(1, cam.capture_interval or 60),
                                  cam.snapshot_url, cam.mjpeg_url, cam.rtsp_main or cam.rtsp_sub,
                                  cam.username, password, cam.reference_key)
    return cams


def object_key(cam: CameraInfo, taken_at: datetime) -> str:
    return f"{cam.commune_id}/{cam.id}/{taken_at:%Y/%m/%d/%H%M%S}.jpg"


def reference_key(cam: CameraInfo) -> str:
    return f"{cam.commune_id}/{cam.id}/reference.png"


def grab(cam: CameraInfo, http, run_blocking, rtsp_timeout: float, check=check_target) -> Frame:
    """The first source that answers, cheapest first. ``run_blocking`` runs a call in a thread."""
    from .grab import rtsp_frame, with_credentials

    errors = []
    for kind, url in cam.sources:
        try:
            check(url)
            if kind == "rtsp":
                return run_blocking(rtsp_frame, with_credentials(url, cam.username, cam.password),
                                    rtsp_timeout)
            data = (http.snapshot if kind == "snapshot" else http.mjpeg_frame)(url, cam.username, cam.password)
            width, height = jpeg_size(data)
            # A 1/4-scale decode takes about half a millisecond: cheaper inline than a thread hop.
            return Frame(data, width, height, small_from_jpeg(data), kind)
        except Exception as exc:  # noqa: BLE001 - every failure means "try the next source"
            errors.append(f"{kind} {strip_credentials(url)}: {str(exc)[:160]}")
    raise GrabError("; ".join(errors) or "no source configured")


def store_or_spool(result: CaptureResult, data: bytes, store, spool, uploads=None) -> None:
    """Put the JPEG; if the store is away, keep it in the spool. ``uploads`` bounds concurrent
    PUTs to what the store client's connection pool holds (beyond it, connections churn)."""
    try:
        if uploads is not None:
            with uploads:
                store.put(result.key, data, "image/jpeg")
        else:
            store.put(result.key, data, "image/jpeg")
        result.stored = True
    except StorageError as exc:
        if spool is None:
            raise
        meta = {"camera_id": result.camera.id, "commune_id": result.camera.commune_id,
                "slot": result.slot, "taken_at": result.taken_at.isoformat(), "key": result.key,
                "sha256": result.sha256, "size": result.size, "width": result.width, "height": result.height,
                "health": result.rule}
        if not spool.put(meta, data):
            log.error("spool full: snapshot %s dropped (%s)", result.key, exc)
            result.key = None


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
    from .health import apply_transition
    from .uptime import add_checks

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


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
