"""Fault tests on loopback: a Redis Cluster master dies, PostgreSQL restarts. Each prints what it measured."""
import json
import signal
import time
from datetime import datetime, timezone

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from camnet.extensions import db
from camsim.http_camera import HttpCameraSim
from camnet.streams.models import Snapshot
from camnet.tenants.models import AdminUnit
from camnet.tenants.scope import system_scope

from .capture_rig import add_camera, allow, start_worker, worker_env
from .fault_rig import PrivatePostgres, ReplicatedRedisCluster, free_port, wait_for

INTERVAL = 1  # capture every second: an outage of a few seconds spans several slots


@pytest.fixture
def replicated_cluster(tmp_path):
    cluster = ReplicatedRedisCluster(tmp_path / "redis", 7301).start()
    yield cluster
    cluster.stop()


def test_web_keeps_serving_sign_ins_while_a_redis_master_fails_over(make_app, replicated_cluster):
    from .world import build_world

    app = make_app("sqlite", {"REDIS_URL": f"redis+cluster://127.0.0.1:{replicated_cluster.ports[0]}"})
    with app.app_context():
        world = build_world(app)
    client = app.test_client()

    def sign_in():
        return client.post("/login", data={"username": "operator_a", "password": world.password}).status_code

    assert sign_in() == 302
    victim = replicated_cluster.masters()[0]
    killed = time.monotonic()
    replicated_cluster.kill(victim)
    answers = []
    while time.monotonic() - killed < 20:
        answers.append(sign_in())
        if replicated_cluster.healthy() and len(answers) > 5:
            break
        time.sleep(0.2)
    failover = time.monotonic() - killed
    assert set(answers) == {302}, answers  # no request failed during the failover
    wait_for(replicated_cluster.healthy, 30)
    assert victim not in replicated_cluster.masters()
    # The web's client learns the new master on its next call to that slot (that one call is
    # counted in process, as during the failover); once it answers, throttling is back on the
    # cluster: five failures lock the account.
    store = app.extensions["camnet.coord"]

    def store_answers():
        try:
            store.ttl("login:{acct:chairman_a}:lock")
            return True
        except Exception:  # noqa: BLE001 - whatever redis-py raises while it refreshes its slot map
            return False

    assert wait_for(store_answers, 30)
    for _ in range(5):
        client.post("/login", data={"username": "chairman_a", "password": "wrong"})
    assert client.post("/login", data={"username": "chairman_a", "password": world.password}).status_code == 401
    print(f"\n[fault] redis master {victim} killed: {len(answers)} sign-ins all served, "
          f"cluster healthy again after {failover:.1f} s")


def test_web_recovers_after_postgres_restarts_without_its_own_restart(tmp_path, make_app):
    pg = PrivatePostgres(tmp_path / "pg", free_port()).start()
    try:
        app = make_app("sqlite", {"SQLALCHEMY_DATABASE_URI": pg.app_url})
        with app.app_context():
            upgrade(directory=app.config["MIGRATIONS_DIR"])
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        stopped = time.monotonic()
        pg.pg_ctl("stop")
        down = client.get("/readyz")
        assert down.status_code == 503 and down.get_json()["checks"]["database"]["ok"] is False
        pg.pg_ctl("start")
        recovered = wait_for(lambda: client.get("/readyz").status_code == 200, 30)
        assert recovered
        assert client.get("/login").status_code == 200
        print(f"\n[fault] postgres stopped and restarted: web ready again {time.monotonic() - stopped:.1f} s "
              f"after the stop, no web restart")
    finally:
        pg.stop()


# --- capture workers ---------------------------------------------------------------------------
def _commune(app) -> int:
    """One commune, nothing else: the worker then captures only the test's simulator cameras."""
    with app.app_context(), system_scope():
        unit = AdminUnit(code="FAULT", name="Xã Thử Lỗi", level="xã", is_commune=True, path="/")
        db.session.add(unit)
        db.session.flush()
        unit.path = f"/{unit.id}/"
        db.session.commit()
        return unit.id


def _sim_camera(app, sim, commune: int, code: str) -> int:
    with app.app_context():
        return add_camera(commune, code, interval=INTERVAL, snapshot_url=sim.snapshot_url(code.lower())).id


def _rows_after(app, cams, since: datetime):
    """(camera, slot, taken_at, worker) of the rows taken after ``since``, read on a fresh session."""
    with app.app_context(), system_scope():
        try:
            return db.session.execute(select(Snapshot.camera_id, Snapshot.slot, Snapshot.taken_at, Snapshot.worker)
                                      .where(Snapshot.camera_id.in_(cams), Snapshot.taken_at > since)).all()
        finally:
            db.session.remove()


def _each_camera_has_a_row(app, cams, since):
    rows = _rows_after(app, cams, since)
    return rows if {r.camera_id for r in rows} == set(cams) else None


def _slots_missed(rows, cams, from_slot: int) -> int:
    """Slots from ``from_slot`` to each camera's latest row with no row of that camera."""
    missed = 0
    for cam in cams:
        slots = {r.slot for r in rows if r.camera_id == cam and r.slot >= from_slot}
        missed += len(set(range(from_slot, max(slots) + 1)) - slots) if slots else 0
    return missed


def _stop_for_stats(proc, log) -> dict:
    """SIGTERM the worker; it prints ``STATS {...}`` on its way out."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("STATS ")]
    return json.loads(lines[-1][6:]) if lines else {}


def _kill(proc):
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _first_per_camera(rows, since: datetime) -> tuple[float, float]:
    """Seconds from ``since`` to the first new row of any camera, and until every camera had one."""
    firsts = {}
    for r in rows:
        firsts[r.camera_id] = min(firsts.get(r.camera_id, r.taken_at), r.taken_at)
    return ((min(firsts.values()) - since).total_seconds(), (max(firsts.values()) - since).total_seconds())


def _show_logs_if_failed(passed: bool, tmp_path) -> None:
    if not passed:
        for log in sorted(tmp_path.glob("*.log")):
            print(f"--- {log.name} ---\n" + log.read_text(errors="replace")[-3000:])


def _now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.mark.postgres
def test_capture_resumes_after_a_redis_master_fails_over(make_app, replicated_cluster, tmp_path):
    sim = HttpCameraSim(port=0)
    sim.start()
    proc, passed = None, False
    try:
        app = make_app("postgres", {"REDIS_URL": f"redis+cluster://127.0.0.1:{replicated_cluster.ports[0]}",
                                    **allow(sim.port)})
        commune = _commune(app)
        cams = [_sim_camera(app, sim, commune, f"F{i}") for i in range(4)]
        proc = start_worker(worker_env(app, CAPTURE_HEARTBEAT=0.5, CAPTURE_DEAD_AFTER=5, CAPTURE_REFRESH=2),
                            "rf", tmp_path)
        started = _now()
        wait_for(lambda: _each_camera_has_a_row(app, cams, started), 30)

        # kill the master holding the membership key: the worker's heartbeats must find the new one
        members = app.config["REDIS_PREFIX"] + "capture:workers"
        victim = replicated_cluster.master_of(members)
        killed_at, killed = _now(), time.monotonic()
        kill_slot = int(time.time() // INTERVAL)
        replicated_cluster.kill(victim)
        first_new = wait_for(lambda: _each_camera_has_a_row(app, cams, killed_at), 30)
        # failed over: a replica now serves the key's slot and every live node says the cluster is ok
        new_master = wait_for(lambda: replicated_cluster.master_of(members) != victim
                              and replicated_cluster.healthy() and replicated_cluster.master_of(members), 30)
        healthy_at, failover = _now(), time.monotonic() - killed
        assert new_master != victim and victim not in replicated_cluster.live_ports()

        # after the failover: rows again, a heartbeat written to the promoted replica, claims in Redis
        after = wait_for(lambda: _each_camera_has_a_row(app, cams, healthy_at), 30)
        wait_for(lambda: float(replicated_cluster.command("zscore", members, "rf") or 0)
                 > healthy_at.timestamp(), 30)
        prefix = app.config["REDIS_PREFIX"]
        claimed = wait_for(lambda: [r for r in _rows_after(app, cams, healthy_at) if replicated_cluster.command(
            "get", f"{prefix}capture:claim:{r.camera_id}:{r.slot}") == "rf"], 30)
        assert proc.poll() is None  # the same worker process throughout

        rows = _rows_after(app, cams, killed_at)
        missed = _slots_missed(rows, cams, kill_slot + 1)
        first, every = _first_per_camera(first_new, killed_at)
        after_first, after_every = _first_per_camera(after, healthy_at)
        stats = _stop_for_stats(proc, tmp_path / "rf.log")
        passed = True
        print(f"\n[fault] redis master {victim} killed under a capture worker ({len(cams)} cameras every "
              f"{INTERVAL} s): first new snapshot {first:.1f} s after the kill, every camera within {every:.1f} s; "
              f"failed over (key now on {new_master}, cluster ok) after {failover:.1f} s, then every camera "
              f"captured again within {after_every:.1f} s; {len(rows)} snapshots since the kill, {missed} slots "
              f"missed, {len(claimed)} post-failover claims seen in Redis; worker stats {stats}")
    finally:
        _kill(proc)
        sim.stop()
        _show_logs_if_failed(passed, tmp_path)


def test_worker_recovers_after_postgres_restarts_without_its_own_restart(make_app, tmp_path):
    sim = HttpCameraSim(port=0)
    sim.start()
    pg = PrivatePostgres(tmp_path / "pg", free_port()).start()
    proc, passed = None, False
    try:
        app = make_app("sqlite", {"SQLALCHEMY_DATABASE_URI": pg.app_url, **allow(sim.port)})
        with app.app_context():
            upgrade(directory=app.config["MIGRATIONS_DIR"])
        commune = _commune(app)
        cams = [_sim_camera(app, sim, commune, f"F{i}") for i in range(4)]
        proc = start_worker(worker_env(app, CAPTURE_REFRESH=1), "pgw", tmp_path)
        pid = proc.pid
        started = _now()
        wait_for(lambda: _each_camera_has_a_row(app, cams, started), 30)

        stopped_at, stopped = _now(), time.monotonic()
        pg.pg_ctl("stop")
        time.sleep(3)  # down for a few seconds: several capture slots, refreshes and writes fail
        assert proc.poll() is None
        pg.pg_ctl("start")
        restarted_at, restarted = _now(), time.monotonic()
        after = wait_for(lambda: _each_camera_has_a_row(app, cams, restarted_at), 30)
        seen = time.monotonic()
        assert proc.poll() is None and proc.pid == pid  # no restart of its own
        # its camera list reads work again too: a camera added after the restart gets captured
        late = _sim_camera(app, sim, commune, "F-LATE")
        wait_for(lambda: _each_camera_has_a_row(app, [late], restarted_at), 30)

        rows = _rows_after(app, cams, stopped_at)
        during = [r for r in rows if r.taken_at < restarted_at]
        missed = _slots_missed(rows, cams, int(stopped_at.timestamp() // INTERVAL) + 1)
        first, every = _first_per_camera(after, restarted_at)
        stats = _stop_for_stats(proc, tmp_path / "pgw.log")
        # captures kept going while the database was away, and the writer's retries (about 10 s
        # in all) outlast a 3 s outage: those rows arrive late, none are dropped
        assert during and stats.get("written", 0) > 0 and stats.get("lost_rows", 0) == 0, stats
        passed = True
        print(f"\n[fault] postgres down {restarted - stopped:.1f} s under a capture worker ({len(cams)} cameras "
              f"every {INTERVAL} s, pid {pid} throughout): first snapshot taken {first:.1f} s after the restart, "
              f"every camera within {every:.1f} s, rows of every camera readable {seen - restarted:.1f} s after "
              f"it; {len(during)} snapshots taken during the outage written afterwards, {missed} slots missed, "
              f"a camera added after the restart captured; worker stats {stats}")
    finally:
        _kill(proc)
        pg.stop()
        sim.stop()
        _show_logs_if_failed(passed, tmp_path)
