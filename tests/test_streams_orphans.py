"""Orphan objects (stored, then the worker died before its row): deleted after the grace period,
never one a row, a fault ticket or an evidence clip names, never one under legal hold; local and S3."""
import os
import uuid
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select

from camnet.extensions import db
from camnet.streams.models import Camera, Clip, FaultTicket, Snapshot
from camnet.streams.retention import sweep
from camnet.tenants.scope import system_scope

from .capture_rig import sweep_concurrently
from .world_streams import add_snapshot

OLD = datetime.now(timezone.utc) - timedelta(hours=3)


def _keys(store) -> set[str]:
    return {o.key for o in store.list("")}


def _plant(world, store, age_old):
    """Orphans and kept objects under commune a's camera; ``age_old(key)`` makes one 3 h old."""
    cam = world.streams["a"]["camera"]
    base = f"{cam.commune_id}/{cam.id}"
    orphans = [f"{base}/2025/01/01/000000.jpg", f"{base}/clips/2025/01/01/000000-999999.mp4"]
    young = f"{base}/2025/01/01/000001.jpg"
    with system_scope():
        snap = add_snapshot(db.session.get(Camera, cam.id), OLD)  # an old object with its row
        ticket_key = f"{base}/2025/01/02/000000.jpg"  # a fault ticket's evidence, its snapshot never written
        db.session.add(FaultTicket(camera_id=cam.id, commune_id=cam.commune_id, rule="dark", evidence_key=ticket_key))
        clip = Clip(camera_id=cam.id, commune_id=cam.commune_id, status="recording", evidence=True)
        db.session.add(clip)
        db.session.flush()
        # stored by a recorder killed before its row was updated, but the clip is evidence
        evidence_clip = f"{base}/clips/2025/01/01/000000-{clip.id}.mp4"
        db.session.commit()
        kept = [snap.object_key, ticket_key, evidence_clip,
                f"{cam.commune_id}/exports/1/export-1.zip", f"{base}/reference.png"]  # never snapshot/clip keys
    for key in orphans + [young] + kept[1:]:
        store.put(key, b"bytes", "application/octet-stream")
    for key in orphans + kept:
        age_old(key)
    return orphans, young, kept


def _age_local(store):
    def age(key):
        stamp = OLD.timestamp()
        os.utime(store.root / key, (stamp, stamp))
    return age


def test_old_orphans_go_young_ones_and_referenced_stay_local(any_app, world):
    store = current_app.extensions["camnet.storage"]
    orphans, young, kept = _plant(world, store, _age_local(store))
    cam = world.streams["a"]["camera"]
    part = f"{cam.commune_id}/{cam.id}/2025/01/01/000002.jpg.part"  # a put killed halfway
    (store.root / part).write_bytes(b"half a jpeg")
    _age_local(store)(part)
    before = _keys(store)
    listed = [o.key for o in store.list(f"{cam.commune_id}/{cam.id}/2025/")]
    assert listed == sorted(listed) and set(listed) >= {orphans[0], young, part}
    assert all(k.startswith(f"{cam.commune_id}/{cam.id}/2025/") for k in listed)

    result = sweep(current_app)  # grace: one hour
    assert (result.orphans, result.orphans_locked, result.errors) == (3, 0, [])
    assert result.objects_scanned == len(before)
    assert _keys(store) == before - set(orphans) - {part}
    assert sweep(current_app).orphans == 0  # twice: nothing more

    # two days on even the young orphan is old; every object a row names is still kept
    later = sweep(current_app, now=datetime.now(timezone.utc) + timedelta(days=2))
    assert later.orphans == 1 and not store.exists(young)
    assert _keys(store) == before - set(orphans) - {part, young}
    with system_scope():
        named = set(db.session.execute(select(Snapshot.object_key)).scalars())
        named |= set(db.session.execute(select(Clip.object_key).where(Clip.object_key.is_not(None))).scalars())
    assert named and all(store.exists(k) for k in named)
    assert all(store.exists(k) for k in kept)


def test_grace_period_is_a_setting_and_a_cli_option(make_app, live_services):
    from .world import build_world

    app = make_app("sqlite", {"RETENTION_ORPHAN_GRACE_SECONDS": 4 * 3600})
    with app.app_context():
        world = build_world(app)
        store = app.extensions["camnet.storage"]
        orphans, _, _ = _plant(world, store, _age_local(store))
        assert sweep(app).orphans == 0  # 3 h old < 4 h grace
        assert sweep(app, orphans=False).objects_scanned == 0
        out = app.test_cli_runner().invoke(args=["retention", "sweep", "--orphan-grace", "120"])
        assert out.exit_code == 0 and "orphans_deleted=2" in out.output, out.output
        assert not any(store.exists(k) for k in orphans)
        bad = app.test_cli_runner().invoke(args=["retention", "sweep", "--orphan-grace", "0"])
        assert bad.exit_code != 0  # a grace of nothing would race the workers


def test_concurrent_orphan_sweeps(pg_app, world):
    store = current_app.extensions["camnet.storage"]
    orphans, young, kept = _plant(world, store, _age_local(store))
    before = _keys(store)
    results = sweep_concurrently(current_app._get_current_object())
    assert not any(r.errors for r in results), results
    assert _keys(store) == before - set(orphans)


def test_orphans_on_s3_legal_hold_is_never_deleted(make_app, live_services):
    from .world import build_world

    app = make_app("postgres", {"S3_ENDPOINT": live_services["CAMNET_TEST_S3"],
                                "S3_BUCKET": f"orphans-{uuid.uuid4().hex[:10]}"})
    with app.app_context():
        world = build_world(app)
        store = app.extensions["camnet.storage"]
        assert store.kind == "s3"
        # S3 cannot date an object back: the sweeps below look from later instead
        orphans, young, kept = _plant(world, store, lambda key: None)
        cam = world.streams["a"]["camera"]
        locked = f"{cam.commune_id}/{cam.id}/2025/01/03/000000.jpg"
        store.put(locked, b"held", "image/jpeg")
        assert store.set_legal_hold(locked, True)
        with system_scope():
            evidence = add_snapshot(cam, OLD - timedelta(minutes=1), evidence=True, store=store)
            db.session.commit()
            evidence_key = evidence.object_key
        assert store.set_legal_hold(evidence_key, True)
        before = _keys(store)
        assert set(o.key for o in store.list(f"{cam.commune_id}/{cam.id}/clips/")) >= {orphans[1]}

        now = sweep(app)  # everything is minutes old: nothing goes
        assert (now.orphans, now.orphans_locked, now.errors) == (0, 0, [])
        assert now.objects_scanned == len(before) and _keys(store) == before

        later = sweep(app, now=datetime.now(timezone.utc) + timedelta(hours=2))
        assert (later.orphans, later.orphans_locked, later.errors) == (3, 1, [])  # 2 old orphans + the young one
        assert _keys(store) == before - set(orphans) - {young}
        assert store.exists(locked) and store.exists(evidence_key)
        assert all(store.exists(k) for k in kept)
        again = sweep(app, now=datetime.now(timezone.utc) + timedelta(hours=2))
        assert (again.orphans, again.orphans_locked) == (0, 1)
        store.set_legal_hold(locked, False)
        store.set_legal_hold(evidence_key, False)
