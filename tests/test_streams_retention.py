"""Retention: expired snapshots and clips go (object and row), evidence never, safe twice and concurrently."""
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import func, select

from camnet.extensions import db
from camnet.streams.models import Camera, Clip, FaultTicket, Snapshot
from camnet.streams.retention import sweep
from camnet.tenants.models import CommuneSettings
from camnet.tenants.scope import system_scope

from .capture_rig import sweep_concurrently
from .world_streams import add_snapshot


def _seed(world, days_old, n, **kw):
    now = datetime.now(timezone.utc)
    with system_scope():
        cam = db.session.get(Camera, world.streams["a"]["camera"].id)
        snaps = [add_snapshot(cam, now - timedelta(days=days_old, minutes=i), **kw) for i in range(n)]
        db.session.commit()
        return [(s.id, s.object_key) for s in snaps]


def _exists(ids):
    with system_scope():
        found = set(db.session.execute(select(Snapshot.id).where(Snapshot.id.in_(ids))).scalars())
        db.session.rollback()
    return found


def test_sweep_deletes_expired_and_keeps_evidence_and_fresh(any_app, world):
    store = current_app.extensions["camnet.storage"]
    old = _seed(world, 40, 5)
    fresh = _seed(world, 2, 2)
    held = _seed(world, 40, 1, evidence=True)
    ticketed = _seed(world, 41, 1)
    now = datetime.now(timezone.utc)
    with system_scope():
        cam = world.streams["a"]["camera"]
        db.session.add(FaultTicket(camera_id=cam.id, commune_id=cam.commune_id, rule="dark",
                                   evidence_snapshot_id=ticketed[0][0]))
        closed_ref = _seed(world, 42, 1)
        db.session.add(FaultTicket(camera_id=cam.id, commune_id=cam.commune_id, rule="blur", status="closed",
                                   evidence_snapshot_id=closed_ref[0][0]))
        old_clip = Clip(camera_id=cam.id, commune_id=cam.commune_id, status="ready", object_key="x/old.mp4",
                        started_at=now - timedelta(days=100))
        held_clip = Clip(camera_id=cam.id, commune_id=cam.commune_id, status="ready", object_key="x/held.mp4",
                         started_at=now - timedelta(days=100), evidence=True, legal_hold=True)
        db.session.add_all([old_clip, held_clip])
        db.session.commit()
        clip_ids = (old_clip.id, held_clip.id)
    store.put("x/held.mp4", b"mp4", "video/mp4")  # x/old.mp4 is missing: that is fine
    store.delete(old[0][1])  # an object already gone: its row still goes
    result = sweep(current_app, batch=2)
    assert result.snapshots == 6 and result.clips == 1 and not result.errors
    assert _exists([i for i, _ in old + closed_ref]) == set()
    assert not any(store.exists(k) for _, k in old)
    keep = fresh + held + ticketed
    assert _exists([i for i, _ in keep]) == {i for i, _ in keep}
    assert all(store.exists(k) for _, k in keep)
    with system_scope():
        assert db.session.get(Clip, clip_ids[0]) is None and db.session.get(Clip, clip_ids[1]) is not None
    assert store.exists("x/held.mp4")
    # the world's own snapshots are minutes old: untouched; a second run finds nothing
    again = sweep(current_app)
    assert again.snapshots == 0 and again.clips == 0


def test_per_commune_retention_setting(app, world):
    _seed(world, 10, 3)
    with system_scope():
        db.session.add(CommuneSettings(commune_id=world.id("a"), snapshot_retention_days=7, clip_retention_days=7))
        db.session.commit()
    assert sweep(current_app).snapshots == 3


def test_two_concurrent_sweeps_delete_each_row_once(pg_app, world):
    with system_scope():
        baseline = db.session.execute(select(func.count()).select_from(Snapshot)).scalar()
        db.session.rollback()
    old = _seed(world, 60, 60)
    results = sweep_concurrently(current_app._get_current_object(), batch=7)
    assert sum(r.snapshots for r in results) == 60
    assert _exists([i for i, _ in old]) == set()
    with system_scope():
        assert db.session.execute(select(func.count()).select_from(Snapshot)).scalar() == baseline


def test_cli_retention_sweep(app, world):
    _seed(world, 45, 2)
    result = app.test_cli_runner().invoke(args=["retention", "sweep"])
    assert result.exit_code == 0 and "snapshots_deleted=2" in result.output


def _clip(cam, started, **kw):
    clip = Clip(camera_id=cam.id, commune_id=cam.commune_id, started_at=started, **kw)
    db.session.add(clip)
    db.session.flush()
    return clip


def test_sweep_fails_clips_left_recording_and_keeps_recent_ones(any_app, world):
    store = current_app.extensions["camnet.storage"]
    now = datetime.now(timezone.utc)
    cam = world.streams["a"]["camera"]
    with system_scope():
        stuck = _clip(cam, now - timedelta(hours=2), status="recording", duration_s=30,
                      object_key=f"{cam.commune_id}/{cam.id}/clips/partial-stuck.mp4")
        held = _clip(cam, now - timedelta(hours=2), status="recording", duration_s=30, evidence=True,
                     object_key=f"{cam.commune_id}/{cam.id}/clips/partial-held.mp4")
        recent = _clip(cam, now - timedelta(minutes=2), status="recording", duration_s=30)
        long = _clip(cam, now - timedelta(hours=2), status="recording", duration_s=3600)  # may take 3 h
        pending = _clip(cam, now - timedelta(hours=2), status="pending", duration_s=30)
        db.session.commit()
        ids = {n: c.id for n, c in (("stuck", stuck), ("held", held), ("recent", recent), ("long", long),
                                    ("pending", pending))}
        keys = (stuck.object_key, held.object_key)
    for key in keys:
        store.put(key, b"half an mp4", "video/mp4")
    result = sweep(current_app)
    assert result.stuck_clips == 2 and result.clips == 0 and not result.errors
    with system_scope():
        got = {n: db.session.get(Clip, i) for n, i in ids.items()}
        assert got["stuck"].status == "failed" and "recording interrupted" in got["stuck"].error
        assert got["stuck"].object_key is None
        assert got["held"].status == "failed" and got["held"].object_key == keys[1]
        assert [got[n].status for n in ("recent", "long", "pending")] == ["recording", "recording", "pending"]
        db.session.rollback()
    assert not store.exists(keys[0]) and store.exists(keys[1])
    assert sweep(current_app).stuck_clips == 0
    # half an hour on, the recent clip is given up; the hour-long one may take 3 h: not yet
    assert sweep(current_app, now=now + timedelta(minutes=30)).stuck_clips == 1
    assert sweep(current_app, now=now + timedelta(hours=1, minutes=1)).stuck_clips == 1  # the hour-long one
    with system_scope():
        assert {db.session.get(Clip, ids[n]).status for n in ("recent", "long")} == {"failed"}
        assert db.session.get(Clip, ids["pending"]).status == "pending"


def _close_incident_long_ago(world, days):
    from camnet.incidents.models import Incident

    with system_scope():
        incident = db.session.get(Incident, world.extra["incident"]["a"][0].id)
        incident.status, incident.closed_at = "resolved", datetime.now(timezone.utc) - timedelta(days=days)
        snap = db.session.get(Snapshot, world.extra["incident_snapshot"]["a"][0].id)
        snap.taken_at = datetime.now(timezone.utc) - timedelta(days=days)  # long past retention too
        db.session.commit()
        return snap.id, snap.object_key


def test_sweep_releases_expired_evidence_holds_and_the_cli_prints_the_counts(any_app, world):
    snap_id, key = _close_incident_long_ago(world, 400)  # hold period: 365 days after closing
    open_snap = world.extra["incident_snapshot"]["b"][0].id  # its incident is still open
    _seed(world, 45, 2)
    result = any_app.test_cli_runner().invoke(args=["retention", "sweep"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Chứng cứ hết hạn giữ đã bỏ giữ / evidence holds released: 1" in out
    assert "Ảnh hết hạn đã xóa / expired snapshots deleted: 2" in out
    assert "Đoạn ghi hình bị treo, đánh dấu lỗi / clips stuck recording marked failed: 0" in out
    assert "Đối tượng mồ côi đã xóa / orphan objects deleted: 0" in out
    assert "holds_released=1" in out and "snapshots_deleted=2" in out and "errors=0" in out
    assert out.index("Chứng cứ") < out.index("evidence holds")  # Vietnamese first
    with system_scope():
        snap = db.session.get(Snapshot, snap_id)
        # released, but the incident's evidence list still names it: kept, and no foreign key broke
        assert snap is not None and snap.evidence is False
        assert db.session.get(Snapshot, open_snap).evidence is True
        db.session.rollback()
    assert current_app.extensions["camnet.storage"].exists(key)
    again = any_app.test_cli_runner().invoke(args=["retention", "sweep"])
    assert again.exit_code == 0 and "holds_released=0" in again.output


def test_sweep_without_release_leaves_holds(app, world):
    snap_id, _ = _close_incident_long_ago(world, 400)
    assert sweep(current_app, release_holds=False).holds_released == 0
    with system_scope():
        assert db.session.get(Snapshot, snap_id).evidence is True
