"""Fixtures: apps on SQLite and on PostgreSQL (each test gets a fresh copy of a migrated template),
the real Redis Cluster and S3 server, a world of units and users, and signed-in clients per role."""
from __future__ import annotations

import itertools
import os
import shutil
import uuid
from pathlib import Path

import pytest
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade

from camnet import create_app
from camnet.extensions import db

from . import services
from .world import build_world

_counter = itertools.count()
TEST_SCOPE_KEY = "test-scope-key-" + uuid.uuid4().hex


class IsolatedClient(FlaskClient):
    """Each request gets its own app context, as in production, even while a test holds one
    open: otherwise ``g`` and the database session would be shared across requests."""

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


@pytest.fixture(scope="session")
def live_services():
    return services.ensure_started()


def _base_config(tmp: Path, live: dict) -> dict:
    run = uuid.uuid4().hex[:8]
    return {
        "TESTING": True,
        "INSTANCE_DIR": str(tmp),
        "OBJECT_DIR": str(tmp / "objects"),
        "SPOOL_DIR": str(tmp / "spool"),
        "SECRET_KEY": "test-secret-" + run,
        "CAMERA_SECRET_KEY": "oV2Qh3pEo7k1rO1V0m8S6t1Vb9yqY3oWl6c1cQm6d1Q=",
        "WTF_CSRF_ENABLED": False,
        "REDIS_URL": "redis+cluster://" + live["CAMNET_TEST_REDIS_CLUSTER"].split("://", 1)[1],
        "REDIS_PREFIX": f"t{run}:",
        "SERVER_NAME": None,
        "MFA_REQUIRED_ROLES": "",  # two-factor sign-in off unless a test asks (tests/test_mfa.py)
        # the same for every app of the session: the PostgreSQL template stores it when migrated
        "SCOPE_SIGNING_KEY": TEST_SCOPE_KEY,
    }


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory, live_services):
    tmp = tmp_path_factory.mktemp("sqlite-template")
    path = tmp / "template.db"
    app = create_app({**_base_config(tmp, live_services), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(live_services):
    admin = live_services["CAMNET_TEST_PG_URL"]
    name = f"camnet_tpl_{os.getpid()}"
    # two roles, as in production: camnet_owner owns the database and migrates (granting the app
    # role its data privileges at the end), the apps under test connect as camnet
    services.pg_exec(admin, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name} OWNER camnet_owner")
    app = create_app({**_base_config(Path("/tmp"), live_services),
                      "INSTANCE_DIR": "/tmp/camnet-pg-template",
                      "SQLALCHEMY_DATABASE_URI": services.pg_app_url(admin, name),
                      "DATABASE_MIGRATE_URL": services.pg_owner_url(admin, name)})
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        db.engine.dispose()
    yield name
    services.pg_exec(admin, f"DROP DATABASE IF EXISTS {name}")


def _make_app(backend: str, request, tmp_path, live_services, extra: dict | None = None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = _base_config(tmp_path, live_services)
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "camnet.db"
        shutil.copyfile(template, path)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
        cleanup = None
    else:
        template = request.getfixturevalue("pg_template")
        admin = live_services["CAMNET_TEST_PG_URL"]
        name = f"camnet_t{os.getpid()}_{next(_counter)}"
        services.pg_exec(admin, f"CREATE DATABASE {name} TEMPLATE {template} OWNER camnet_owner")
        config["SQLALCHEMY_DATABASE_URI"] = services.pg_app_url(admin, name)
        config["DATABASE_MIGRATE_URL"] = services.pg_owner_url(admin, name)

        def cleanup():
            services.pg_exec(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    config.update(extra or {})
    app = create_app(config)
    app.test_client_class = IsolatedClient
    app.config["CAMNET_BACKEND"] = backend
    return app, cleanup


@pytest.fixture
def make_app(request, tmp_path, live_services):
    """Build an app on a backend with extra settings: ``make_app("postgres", {...})``."""
    made = []

    def factory(backend: str = "sqlite", extra: dict | None = None):
        app, cleanup = _make_app(backend, request, tmp_path / f"app{len(made)}", live_services, extra)
        made.append((app, cleanup))
        return app

    yield factory
    for app, cleanup in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if cleanup:
            cleanup()


@pytest.fixture
def app(make_app):
    app = make_app("sqlite")
    with app.app_context():
        yield app


@pytest.fixture(params=["sqlite", "postgres"])
def any_app(request, make_app):
    """The same test on the embedded SQLite and on the real PostgreSQL (with RLS)."""
    app = make_app(request.param)
    with app.app_context():
        yield app


@pytest.fixture
def pg_app(make_app):
    app = make_app("postgres")
    with app.app_context():
        yield app


@pytest.fixture
def world(request):
    """Units and users: two districts, communes A and B (same district) and C (other district)."""
    app = None
    for name in ("any_app", "pg_app", "app"):
        if name in request.fixturenames:
            app = request.getfixturevalue(name)
            break
    return build_world(app)


@pytest.fixture
def client_for(world):
    """A test client signed in as one of the world's users: ``client_for("operator_a")``."""
    from flask import current_app

    def make(username: str):
        client = current_app.test_client()
        resp = client.post("/login", data={"username": username, "password": world.password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return client

    return make


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def http_sim():
    """The built-in HTTP camera simulator on a free port."""
    from camsim.http_camera import HttpCameraSim

    sim = HttpCameraSim(port=0)
    sim.start()
    yield sim
    sim.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """The test command (scripts/test.sh) installs and starts every service, simulator and browser
    the suite needs, so there a skip means something is missing: it fails instead of passing silently."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CAMNET_FAIL_ON_SKIP") == "1" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped where nothing may be skipped (CAMNET_FAIL_ON_SKIP=1): {report.longrepr}"
