"""Retention sweeper: delete expired snapshots and clips (object first, then the row), never evidence.

One run: release evidence holds whose period is over, delete what each commune's
retention has expired, fail clips a killed worker left ``recording``, then delete orphan
objects (a snapshot or clip object stored by a worker killed before its row was written).

Safe to run twice or concurrently: on PostgreSQL each batch is claimed with
``SELECT ... FOR UPDATE SKIP LOCKED`` so two sweepers never take the same rows; a row or object
already gone is simply skipped. Held from deletion: ``snapshot.evidence``, snapshots that an open
fault ticket points at, ``clip.evidence``, ``clip.legal_hold`` and whatever a hold check says is
held (incidents: items an evidence list still names, even after their hold is released); an
object the store keeps under legal hold is never deleted (the store refuses; it is counted as skipped).

Streams imports no feature above it: the features that hold media register hooks here in their
``init_app`` (``add_hold_check``, ``add_object_keys``, ``add_expired_hold_releaser``).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update

from ..clock import utc_now
from ..extensions import db
from ..storage import ObjectLockedError, StorageError
from ..tenants.models import AdminUnit, CommuneSettings
from ..tenants.scope import system_scope
from .models import Clip, FaultTicket, Snapshot

log = logging.getLogger("camnet.retention")
BATCH = 500
DEFAULT_SNAPSHOT_DAYS = 30
DEFAULT_CLIP_DAYS = 90
# An object younger than this may still be waiting for its row (the capture writer batches rows
# and retries a busy database; a spool drain puts first, then inserts).
DEFAULT_ORPHAN_GRACE = timedelta(hours=1)
ORPHAN_CHUNK = 1000  # keys checked against the database per query
STUCK_MIN_SECONDS = 600  # a clip may be "recording" for max(3 x duration, duration + this)

# Only keys the capture worker and the clip recorder build (capture.object_key, clips.clip_key):
# ``{commune}/{camera}/YYYY/MM/DD/<time>.jpg`` and ``{commune}/{camera}/clips/...-{clip id}.mp4``,
# plus the ``.part`` a killed local put leaves. Exports, references and attachments never match.
ORPHAN_KEY = re.compile(r"^(?P<commune>\d+)/(?P<camera>\d+)/(?:"
                        r"(?P<snap>\d{4}/\d{2}/\d{2}/[^/]+\.jpg)|(?P<clip>clips/(?:[^/]+/)*[^/]+\.mp4))"
                        r"(?:\.part)?$")
CLIP_ID = re.compile(r"-(\d+)\.mp4(?:\.part)?$")

# Hooks the features above streams register in their init_app:
# a hold check takes "snapshot" or "clip" and gives a SELECT of the ids it holds (never deleted);
HOLD_CHECKS: list[Callable[[str], object]] = []
# object keys gives a column of keys its rows name in the store (never orphans);
OBJECT_KEYS: list[Callable[[], object]] = []
# an expired-hold releaser lifts the holds whose period is over at ``now`` and says how many.
EXPIRED_HOLD_RELEASERS: list[Callable[[datetime], int]] = []
# a sweeper deletes a feature's own expired media (video's recorded segments): (app, now, result).
SWEEPERS: list[Callable] = []


def _add(hooks: list, hook) -> None:
    if hook not in hooks:  # an app built twice in one process registers once
        hooks.append(hook)


def add_hold_check(check: Callable[[str], object]) -> None:
    _add(HOLD_CHECKS, check)


def add_object_keys(column: Callable[[], object]) -> None:
    _add(OBJECT_KEYS, column)


def add_expired_hold_releaser(release: Callable[[datetime], int]) -> None:
    _add(EXPIRED_HOLD_RELEASERS, release)


def add_sweeper(sweeper: Callable) -> None:
    _add(SWEEPERS, sweeper)


@dataclass
class SweepResult:
    snapshots: int = 0
    clips: int = 0
    stuck_clips: int = 0  # left "recording" by a killed worker, now "failed"
    holds_released: int = 0  # evidence items whose hold period ended
    objects_scanned: int = 0  # objects listed by the orphan sweep
    orphans: int = 0  # objects without a row, deleted
    orphans_locked: int = 0  # orphans the store keeps under legal hold: skipped
    errors: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # what the sweepers of other features deleted, by name

    def as_dict(self) -> dict:
        return {"snapshots_deleted": self.snapshots, "clips_deleted": self.clips,
                "stuck_clips_failed": self.stuck_clips, "holds_released": self.holds_released,
                "objects_scanned": self.objects_scanned, "orphans_deleted": self.orphans,
                "orphans_locked": self.orphans_locked, "errors": len(self.errors),
                **{f"{name}_deleted": n for name, n in self.extra.items()}}


def _policies() -> list[tuple[int, int, int]]:
    """(commune id, snapshot days, clip days) for every commune; defaults where none is set."""
    settings = {s.commune_id: s for s in db.session.execute(select(CommuneSettings)).scalars()}
    out = []
    for cid in db.session.execute(select(AdminUnit.id).where(AdminUnit.is_commune.is_(True))).scalars():
        s = settings.get(cid)
        out.append((cid, s.snapshot_retention_days if s else DEFAULT_SNAPSHOT_DAYS,
                    s.clip_retention_days if s else DEFAULT_CLIP_DAYS))
    db.session.rollback()
    return out


def _claim(stmt, batch: int):
    # SQLite renders no FOR UPDATE (one writer at a time there anyway).
    return db.session.execute(stmt.limit(batch).with_for_update(skip_locked=True)).all()


def _drop_objects(store, rows, result: SweepResult) -> list[int]:
    """Delete each object; a missing object is fine; a store error keeps the row for the next run."""
    done = []
    for row_id, key in rows:
        try:
            if key:
                store.delete(key)
            done.append(row_id)
        except StorageError as exc:
            result.errors.append(f"{key}: {exc}")
            log.warning("retention: cannot delete %s: %s", key, exc)
    return done


def _sweep_expired(store, model, base, batch: int, result: SweepResult, before_delete=None) -> int:
    """Claim expired rows of ``model`` in batches (``base`` selects id and object_key), delete each
    object and then its row; a row whose object could not be deleted is kept and not claimed again.
    Returns how many rows went."""
    failed: set[int] = set()
    gone = 0
    while True:
        stmt = base.where(model.id.notin_(failed)) if failed else base
        rows = _claim(stmt, batch)
        if not rows:
            db.session.rollback()
            return gone
        done = _drop_objects(store, rows, result)
        failed.update(r[0] for r in rows if r[0] not in set(done))
        if done:
            if before_delete is not None:
                before_delete(done)
            count = db.session.execute(delete(model).where(model.id.in_(done)),
                                       execution_options={"synchronize_session": False}).rowcount
            gone += max(count or 0, 0)
        db.session.commit()
        if len(rows) < batch:
            return gone


def _sweep_snapshots(store, commune_id: int, cutoff: datetime, batch: int, result: SweepResult) -> None:
    held = select(FaultTicket.evidence_snapshot_id).where(
        FaultTicket.status == "open", FaultTicket.evidence_snapshot_id.is_not(None))
    base = (select(Snapshot.id, Snapshot.object_key)
            .where(Snapshot.commune_id == commune_id, Snapshot.taken_at < cutoff,
                   Snapshot.evidence.is_(False), Snapshot.id.notin_(held))
            .order_by(Snapshot.taken_at))
    for check in HOLD_CHECKS:
        base = base.where(Snapshot.id.notin_(check("snapshot")))

    def unlink_tickets(done):
        # Closed tickets keep their text; the picture they pointed at is gone.
        db.session.execute(update(FaultTicket).where(FaultTicket.evidence_snapshot_id.in_(done))
                           .values(evidence_snapshot_id=None), execution_options={"synchronize_session": False})

    result.snapshots += _sweep_expired(store, Snapshot, base, batch, result, unlink_tickets)


def _sweep_clips(store, commune_id: int, cutoff: datetime, batch: int, result: SweepResult) -> None:
    base = (select(Clip.id, Clip.object_key)
            .where(Clip.commune_id == commune_id, Clip.started_at < cutoff,
                   Clip.evidence.is_(False), Clip.legal_hold.is_(False))
            .order_by(Clip.started_at))
    for check in HOLD_CHECKS:
        base = base.where(Clip.id.notin_(check("clip")))
    result.clips += _sweep_expired(store, Clip, base, batch, result)


def stuck_after(duration_s: int | None) -> timedelta:
    """How long a clip may stay "recording": max(3 x duration, duration + 10 minutes)."""
    d = max(int(duration_s or 30), 1)
    return timedelta(seconds=max(3 * d, d + STUCK_MIN_SECONDS))


def _fail_stuck_clips(store, now: datetime, batch: int, result: SweepResult) -> None:
    """Mark clips "recording" for too long as failed; delete a partial object unless held.

    ``started_at`` is when the clip was requested (the recorder sets the real start only when it
    finishes), so the wait is counted from the request: the generous side. A recorder that is
    merely slow and finishes later sets "ready" again over "failed".
    """
    last_id = 0
    while True:
        rows = _claim(select(Clip.id, Clip.duration_s, Clip.started_at, Clip.object_key, Clip.evidence,
                             Clip.legal_hold)
                      .where(Clip.status == "recording", Clip.id > last_id,
                             Clip.started_at < now - timedelta(seconds=STUCK_MIN_SECONDS))
                      .order_by(Clip.id), batch)
        if not rows:
            db.session.rollback()
            return
        last_id = rows[-1].id
        for row in rows:
            limit = stuck_after(row.duration_s)
            started = row.started_at  # SQLite gives naive UTC back
            started = started if started.tzinfo else started.replace(tzinfo=timezone.utc)
            if started > now - limit:
                continue
            values = {"status": "failed", "error": (
                f"Ghi hình bị gián đoạn: quá {int(limit.total_seconds())} giây vẫn đang ghi / "
                f"recording interrupted: still recording after {int(limit.total_seconds())} s "
                "(the capture worker stopped)")}
            if row.object_key and not (row.evidence or row.legal_hold):
                try:
                    store.delete(row.object_key)
                    values.update(object_key=None, size=None, sha256=None)
                except StorageError as exc:  # the row keeps the key; age-based retention retries
                    result.errors.append(f"{row.object_key}: {exc}")
            done = db.session.execute(update(Clip).where(Clip.id == row.id, Clip.status == "recording")
                                      .values(**values), execution_options={"synchronize_session": False})
            result.stuck_clips += max(done.rowcount or 0, 0)
        db.session.commit()
        if len(rows) < batch:
            return


def _referenced(keys: list[str], cameras: set[int], clip_ids: set[int]) -> set[str]:
    """The keys some row still points at. First through the camera indexes (keys name their
    camera); what is left is confirmed by key alone, so a row filed under another camera still
    protects its object."""
    tables = [(Snapshot.object_key, Snapshot.camera_id), (Clip.object_key, Clip.camera_id),
              (FaultTicket.evidence_key, FaultTicket.camera_id)]
    found: set[str] = set()
    for column, camera in tables:
        found.update(db.session.execute(select(column).where(camera.in_(sorted(cameras)),
                                                             column.in_(keys))).scalars())
    rest = [k for k in keys if k not in found]
    if rest:
        columns = [Snapshot.object_key, Clip.object_key, FaultTicket.evidence_key, *(k() for k in OBJECT_KEYS)]
        for column in columns:
            found.update(db.session.execute(select(column).where(column.in_(rest))).scalars())
    if clip_ids:
        # The object of a clip marked as evidence while it was recording: never an orphan.
        held = set(db.session.execute(select(Clip.id).where(
            Clip.id.in_(sorted(clip_ids)), Clip.evidence.is_(True) | Clip.legal_hold.is_(True))).scalars())
        found.update(k for k in keys if (m := CLIP_ID.search(k)) and int(m.group(1)) in held)
    db.session.rollback()
    return found


def _drop_orphans(store, chunk: list[str], result: SweepResult) -> None:
    cameras = {int(ORPHAN_KEY.match(k).group("camera")) for k in chunk}
    clip_ids = {int(m.group(1)) for k in chunk if (m := CLIP_ID.search(k))}
    keep = _referenced(chunk, cameras, clip_ids)
    for key in chunk:
        if key in keep:
            continue
        try:
            store.delete(key)  # already gone (a concurrent sweep): fine
            result.orphans += 1
            log.info("retention: deleted orphan object %s", key)
        except ObjectLockedError:
            result.orphans_locked += 1
            log.warning("retention: orphan %s is under legal hold: kept", key)
        except StorageError as exc:
            result.errors.append(f"{key}: {exc}")
            log.warning("retention: cannot delete orphan %s: %s", key, exc)


def sweep_orphans(store, now: datetime, grace: timedelta, result: SweepResult,
                  chunk_size: int = ORPHAN_CHUNK) -> None:
    """Delete snapshot/clip objects older than ``grace`` that no row references."""
    cutoff = now - grace
    chunk: list[str] = []
    try:
        for obj in store.list(""):
            result.objects_scanned += 1
            if obj.last_modified >= cutoff or not ORPHAN_KEY.match(obj.key):
                continue
            chunk.append(obj.key)
            if len(chunk) >= chunk_size:
                _drop_orphans(store, chunk, result)
                chunk = []
    except StorageError as exc:
        result.errors.append(f"orphans: {exc}")
        log.warning("retention: cannot list objects: %s", exc)
    if chunk:
        _drop_orphans(store, chunk, result)


def _release_holds(now: datetime, result: SweepResult) -> None:
    for release in EXPIRED_HOLD_RELEASERS:
        try:
            result.holds_released += release(now)
        except Exception as exc:  # noqa: BLE001 - items stay held; retention still runs
            db.session.rollback()
            result.errors.append(f"release holds: {exc}")
            log.exception("retention: releasing expired holds failed")


def sweep(app, now: datetime | None = None, batch: int = BATCH, *, orphan_grace: timedelta | None = None,
          orphans: bool = True, release_holds: bool = True) -> SweepResult:
    """Release expired holds, delete what each commune's retention has expired, fail stuck clips,
    delete orphan objects. Needs an app context of ``app``. ``orphan_grace`` defaults to the
    setting ``RETENTION_ORPHAN_GRACE_SECONDS``, else one hour."""
    now = now or utc_now()
    store = app.extensions["camnet.storage"]
    if orphan_grace is None:
        orphan_grace = timedelta(seconds=int(app.config.get("RETENTION_ORPHAN_GRACE_SECONDS")
                                             or DEFAULT_ORPHAN_GRACE.total_seconds()))
    result = SweepResult()
    if release_holds:
        _release_holds(now, result)  # first: what it frees may go in this same run
    with system_scope():
        for commune_id, snap_days, clip_days in _policies():
            _sweep_snapshots(store, commune_id, now - timedelta(days=snap_days), batch, result)
            _sweep_clips(store, commune_id, now - timedelta(days=clip_days), batch, result)
        _fail_stuck_clips(store, now, batch, result)
        for sweeper in SWEEPERS:
            try:
                sweeper(app, now, result)
            except Exception as exc:  # noqa: BLE001 - one feature's failure leaves the rest to run
                db.session.rollback()
                result.errors.append(f"{getattr(sweeper, '__name__', 'sweeper')}: {exc}")
                log.exception("retention: a sweeper failed")
        if orphans and hasattr(store, "list"):
            sweep_orphans(store, now, orphan_grace, result)
    log.info("retention sweep: %s", result.as_dict())
    return result
