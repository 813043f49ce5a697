"""Probes, metrics and logs of a running camnet."""
import json
import logging

from camnet.ops.logs import JsonFormatter


def test_healthz_answers_without_touching_services(app):
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_postgres_redis_cluster_and_s3(make_app, live_services):
    app = make_app("postgres", {"S3_ENDPOINT": live_services["CAMNET_TEST_S3"], "S3_BUCKET": "readyz-ok"})
    resp = app.test_client().get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert set(body["checks"]) == {"database", "schema", "coordination", "object_store"}
    assert body["checks"]["schema"]["detail"].startswith("ok")


def test_readyz_names_the_unreachable_store(make_app):
    app = make_app("sqlite", {"S3_ENDPOINT": "http://127.0.0.1:1", "S3_BUCKET": "nowhere"})
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["checks"]["object_store"]["ok"] is False
    assert resp.get_json()["checks"]["database"]["ok"] is True


def test_metrics_expose_requests_and_cameras_per_commune(app, world, client_for):
    from camnet.extensions import db
    from camnet.streams.models import Camera
    from camnet.tenants.scope import system_scope

    from sqlalchemy import func, select

    with system_scope():
        db.session.add(Camera(commune_id=world.id("a"), code="C1", name="Ngã tư chợ", status="active"))
        db.session.commit()
        active = db.session.execute(select(func.count()).select_from(Camera).where(
            Camera.commune_id == world.id("a"), Camera.status == "active")).scalar()
    client = client_for("operator_a")
    client.get("/")
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'camnet_http_requests_total{endpoint="tenants.home",method="GET",status="200"}' in text
    assert f'camnet_cameras{{commune="A",status="active"}} {float(active)}' in text
    assert "camnet_http_request_seconds_bucket" in text


def test_request_id_is_echoed_and_logged_as_json(app, caplog):
    caplog.set_level(logging.INFO, logger="camnet.request")
    resp = app.test_client().get("/healthz", headers={"X-Request-ID": "abcdef123456"})
    assert resp.headers["X-Request-ID"] == "abcdef123456"
    record = next(r for r in caplog.records if r.name == "camnet.request")
    with app.test_request_context("/healthz"):
        from flask import g
        g.request_id = "abcdef123456"
        line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/healthz" and line["status"] == 200 and line["request_id"] == "abcdef123456"


def test_metrics_count_the_last_hours_snapshots_per_commune(any_app, world):
    """Two new snapshots of the last hour count, one of yesterday does not; on SQLite and PostgreSQL."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import func, select

    from camnet.extensions import db
    from camnet.streams.models import Camera, Snapshot
    from camnet.tenants.scope import system_scope

    now = datetime.now(timezone.utc)

    def gauge():
        text = any_app.test_client().get("/metrics").get_data(as_text=True)
        return {line.split('"')[1]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("camnet_snapshots_last_hour{")}

    with system_scope():
        recent = db.session.execute(select(func.count()).select_from(Snapshot).where(
            Snapshot.commune_id == world.id("b"), Snapshot.taken_at >= now - timedelta(minutes=59))).scalar()
    before = gauge()
    assert before.get("B", 0.0) == recent
    with system_scope():
        cam = Camera(commune_id=world.id("b"), code="M1", name="Cổng trường", status="active")
        db.session.add(cam)
        db.session.flush()
        for i, at in enumerate((now - timedelta(minutes=5), now - timedelta(minutes=50), now - timedelta(hours=25))):
            db.session.add(Snapshot(camera_id=cam.id, commune_id=cam.commune_id, taken_at=at, slot=i,
                                    object_key=f"{cam.commune_id}/{cam.id}/m{i}.jpg", size=1, sha256="0" * 64,
                                    width=1, height=1, worker="test"))
        db.session.commit()
    after = gauge()
    assert after["B"] == recent + 2
    assert {k: v for k, v in after.items() if k != "B"} == {k: v for k, v in before.items() if k != "B"}


def test_wsgi_entry_point_freezes_what_start_up_built(tmp_path):
    """gunicorn's workers import camnet.wsgi: the objects built at start-up are frozen, so a full
    garbage collection no longer walks them (it paused a worker ~40 ms, and its requests with it)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONSAFEPATH": "1", "CAMNET_INSTANCE": str(tmp_path), "DATABASE_URL": "",
           "REDIS_URL": "", "S3_ENDPOINT": ""}
    out = subprocess.run([sys.executable, "-c", "import gc, camnet.wsgi; print(gc.get_freeze_count())"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) > 50_000


def _unmigrated_sqlite(make_app, tmp_path):
    """An app on an empty SQLite file: no tables, no alembic revision."""
    path = tmp_path / "empty.db"
    return make_app("sqlite", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})


def test_readyz_is_not_ready_on_an_unmigrated_database(make_app, tmp_path):
    app = _unmigrated_sqlite(make_app, tmp_path)
    resp = app.test_client().get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 503, body
    assert body["checks"]["database"]["ok"] is True  # reachable, but
    assert body["checks"]["schema"]["ok"] is False
    assert "schema not at head" in body["checks"]["schema"]["detail"]
    assert "0013" in body["checks"]["schema"]["detail"] or "head" in body["checks"]["schema"]["detail"]


def test_readyz_names_the_revision_of_a_database_behind_the_head(make_app):
    from flask_migrate import downgrade

    from camnet.extensions import db

    app = make_app("sqlite")
    with app.app_context():
        downgrade(directory=app.config["MIGRATIONS_DIR"], revision="0007_scope_as_ranges")
        db.session.remove()
    resp = app.test_client().get("/readyz")
    detail = resp.get_json()["checks"]["schema"]["detail"]
    assert resp.status_code == 503 and "schema not at head: revision 0007_scope_as_ranges" in detail


def test_readyz_refuses_a_scope_key_the_database_does_not_hold(make_app):
    """On PostgreSQL the process's scope must be accepted by the database: with another
    SCOPE_SIGNING_KEY than the migration stored, every query would quietly return nothing."""
    app = make_app("postgres", {"SCOPE_SIGNING_KEY": "another-key-than-the-migration-stored-0123456789"})
    resp = app.test_client().get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 503 and body["checks"]["schema"]["ok"] is False
    assert "scope key" in body["checks"]["schema"]["detail"]


def test_metrics_answer_on_an_unmigrated_database(make_app, tmp_path):
    app = _unmigrated_sqlite(make_app, tmp_path)
    resp = app.test_client().get("/metrics")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "camnet_database_up 0.0" in text and "camnet_http_requests_total" in text
