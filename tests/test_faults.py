"""Fault tests on loopback: a Redis Cluster master dies, PostgreSQL restarts. Each prints what it measured."""
import time

import pytest
from flask_migrate import upgrade

from .fault_rig import PrivatePostgres, ReplicatedRedisCluster, free_port, wait_for


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
    # throttling is back on the cluster: five failures lock the account
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
