"""Several real `camnet worker` processes share the cameras through the real Redis Cluster."""
from __future__ import annotations

import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from camnet.extensions import db
from camsim.http_camera import HttpCameraSim
from camnet.streams.models import Snapshot
from camnet.capture.sharding import owner_of
from camnet.tenants.scope import system_scope

from .capture_rig import add_camera, allow, start_worker, stop, wait_for, worker_env

INTERVAL = 2


def test_rendezvous_moves_only_the_dead_workers_cameras():
    before = {c: owner_of(c, ["w1", "w2", "w3"]) for c in range(300)}
    after = {c: owner_of(c, ["w2", "w3"]) for c in range(300)}
    assert {c for c in before if before[c] != after[c]} == {c for c in before if before[c] == "w1"}
    assert all(n > 60 for n in (list(before.values()).count(w) for w in ("w1", "w2", "w3")))


def _snapshots(cams):
    with system_scope():
        rows = db.session.execute(select(Snapshot.camera_id, Snapshot.slot, Snapshot.worker,
                                         Snapshot.object_key).where(Snapshot.camera_id.in_(cams))).all()
        db.session.commit()
    return rows


def _latest_by_camera(rows):
    latest = {}
    for cam, slot, worker, _ in rows:
        if cam not in latest or slot > latest[cam][0]:
            latest[cam] = (slot, worker)
    return latest


@pytest.mark.postgres
def test_workers_share_cameras_take_over_from_a_killed_one_and_never_capture_a_slot_twice(
        make_app, tmp_path):
    sim = HttpCameraSim(port=0)
    sim.start()
    procs = {}
    try:
        app = make_app("postgres", allow(sim.port))
        with app.app_context():
            from tests.world import build_world

            world = build_world(app)
            cams = [add_camera(world.id("a" if i % 2 else "b"), f"S{i}", interval=INTERVAL,
                               snapshot_url=sim.snapshot_url(f"s{i}")).id for i in range(12)]
            env = worker_env(app, CAPTURE_HEARTBEAT=0.5, CAPTURE_DEAD_AFTER=1.5, CAPTURE_REFRESH=1,
                             CAPTURE_CONCURRENCY=8)
            for name in ("w1", "w2"):
                procs[name] = start_worker(env, name, tmp_path)

            def all_captured_by_two():
                latest = _latest_by_camera(_snapshots(cams))
                return len(latest) == len(cams) and {w for _, w in latest.values()} == {"w1", "w2"}

            wait_for(all_captured_by_two, 60, what="both workers capturing")

            # a third worker joins and gets a share
            procs["w3"] = start_worker(env, "w3", tmp_path)
            wait_for(lambda: any(w == "w3" for _, _, w, _ in _snapshots(cams)), 30, what="w3 capturing")

            # kill -9 one worker: no goodbye, its heartbeat just stops
            victim_cams = {c for c, (s, w) in _latest_by_camera(_snapshots(cams)).items() if w == "w1"}
            assert victim_cams
            procs["w1"].send_signal(signal.SIGKILL)
            procs["w1"].wait()
            kill_slot = int(time.time() // INTERVAL)

            def taken_over():
                by_cam = defaultdict(list)
                for cam, slot, worker, _ in _snapshots(cams):
                    if cam in victim_cams and slot >= kill_slot and worker != "w1":
                        by_cam[cam].append(slot)
                return by_cam if set(by_cam) == victim_cams else None

            taken = wait_for(taken_over, 60, what="takeover of w1's cameras")
            first_after = {cam: min(slots) for cam, slots in taken.items()}
            # within two capture intervals of the kill
            assert all(slot <= kill_slot + 2 for slot in first_after.values()), (kill_slot, first_after)

            time.sleep(2 * INTERVAL)  # let the survivors run a little after the takeover
            for name in ("w2", "w3"):
                stop(procs[name])
            rows = _snapshots(cams)
            pairs = [(cam, slot) for cam, slot, _, _ in rows]
            assert len(pairs) == len(set(pairs))  # no (camera, slot) captured twice
            # every row has its object; an object without a row can only be one the killed worker
            # stored in its last moment before writing the row (at most one per camera it owned)
            root = Path(app.config["OBJECT_DIR"])
            files = {str(p.relative_to(root)) for c in cams for p in root.glob(f"*/{c}/**/*.jpg")}
            keys = {key for _, _, _, key in rows}
            assert keys <= files
            orphans = files - keys
            assert len(orphans) <= len(victim_cams)
            assert all(int(o.split("/")[1]) in victim_cams for o in orphans), orphans
            # after the takeover, each camera has one owner at a time: within one slot only one worker
            by_slot = defaultdict(set)
            for cam, slot, worker, _ in rows:
                by_slot[(cam, slot)].add(worker)
            assert all(len(w) == 1 for w in by_slot.values())
    finally:
        for proc in procs.values():
            stop(proc)
        sim.stop()
        for log in sorted(tmp_path.glob("*.log")):  # shown by pytest only on failure
            print(f"--- {log.name} ---\n" + log.read_text(errors="replace")[-3000:])
