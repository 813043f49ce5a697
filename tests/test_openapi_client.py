"""A client generated from the OpenAPI document (openapi-python-client) works against a running
server: one call per tag, each answer parsed into the generated typed models."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from datetime import datetime

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from camnet.extensions import db
from camnet.tenants.scope import system_scope

PACKAGE = "camnet_client"


@pytest.fixture(scope="module")
def served(request, tmp_path_factory, live_services):
    """The demo on a real HTTP server, an API token of its admin, and the client generated from
    the document that server publishes."""
    from camnet.demo import load_all
    from camnet.tenants.demo import DEMO_PASSWORD
    from camnet.tenants.models import AdminUnit

    from .conftest import _make_app

    tmp = tmp_path_factory.mktemp("openapi-client")
    app, cleanup = _make_app("sqlite", request, tmp / "app", live_services)
    with app.app_context():
        load_all()
        with system_scope():
            commune = db.session.execute(select(AdminUnit).where(AdminUnit.is_commune.is_(True))
                                         .order_by(AdminUnit.id)).scalars().first()
            commune_id = commune.id
    web = app.test_client()
    web.post("/login", data={"username": "admin", "password": DEMO_PASSWORD})
    token = web.post("/api/v1/tokens", json={"name": "generated client"}).get_json()["token"]
    document = web.get("/api/v1/openapi.json").get_json()

    (tmp / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
    (tmp / "config.json").write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    generated = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(tmp / "openapi.json"),
         "--config", str(tmp / "config.json"), "--meta", "none", "--output-path", str(tmp / "out" / PACKAGE)],
        cwd=tmp, capture_output=True, text=True, timeout=300)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    # Files (CSV, PDF, images, archives) are left out of a JSON client; nothing else may be.
    warnings = [w for w in generated.stdout.split("\nWARNING")[1:] if "Unsupported content_type" not in w]
    assert not warnings, warnings

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    sys.path.insert(0, str(tmp / "out"))
    try:
        client_module = importlib.import_module(PACKAGE)
        client = client_module.AuthenticatedClient(base_url=f"http://127.0.0.1:{httpd.server_port}", token=token,
                                                   raise_on_unexpected_status=True)
        yield {"client": client, "commune_id": commune_id, "document": document}
    finally:
        sys.path.remove(str(tmp / "out"))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        httpd.shutdown()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if cleanup:
            cleanup()


def call(served, tag: str, operation_id: str, **kwargs):
    """The generated function of one operation (its module is the operationId in snake case)."""
    module = importlib.import_module(f"{PACKAGE}.api.{tag}.{operation_id.replace('.', '_')}")
    return module.sync(client=served["client"], **kwargs)


def model(name: str):
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


def test_every_json_answer_is_described(served):
    for path, ops in served["document"]["paths"].items():
        for method, op in ops.items():
            ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
            for media, content in ok.get("content", {}).items():
                if media == "application/json":
                    assert content["schema"], (method, path)


def test_meta_who_am_i(served):
    me = call(served, "meta", "api.me")
    assert isinstance(me, model("MeOut"))
    assert me.username == "admin" and me.unit_count >= 1 and isinstance(me.grants[0], model("GrantOut"))


def test_tenants_units(served):
    units = call(served, "tenants", "tenants_api.list_units")
    assert units and all(isinstance(u, model("UnitOut")) for u in units)
    assert served["commune_id"] in {u.id for u in units if u.is_commune}


def test_streams_cameras(served):
    cameras = call(served, "streams", "streams_api.list_cameras", unit_id=served["commune_id"])
    assert cameras and all(isinstance(c, model("CameraOut")) for c in cameras)
    camera = cameras[0]
    assert camera.commune_id == served["commune_id"] and isinstance(camera.capture_allowed, bool)
    assert camera.rtsp_main is None or camera.rtsp_main.startswith("rtsp")  # the admin installs cameras


def test_funding_chairman_report(served):
    report = call(served, "funding", "funding_api.chairman_report", unit_id=served["commune_id"])
    assert isinstance(report, model("ChairmanReportOut"))
    assert report.commune.id == served["commune_id"] and report.raised >= 0
    assert all(isinstance(p, model("PhaseProgressOut")) for p in report.by_phase)


def test_incidents_search(served):
    incidents = call(served, "incidents", "incidents_api.list_incidents")
    assert incidents and all(isinstance(i, model("IncidentSummaryOut")) for i in incidents)
    occurred = incidents[0].occurred_at
    assert isinstance(occurred, datetime) and occurred.utcoffset().total_seconds() == 7 * 3600


def test_dashboards_coverage(served):
    coverage = call(served, "dashboards", "dashboards_api.coverage", unit_id=served["commune_id"])
    assert isinstance(coverage, model("CoverageOut"))
    assert coverage.commune_id == served["commune_id"] and coverage.installed >= coverage.working


def test_transparency_audit(served):
    kind = model("TlogApiAuditLogKind")
    audit = call(served, "transparency", "tlog_api.audit_log", unit_id=served["commune_id"], kind=kind("funding"))
    assert isinstance(audit, model("LogAuditOut")) and audit.ok is True and audit.problems == []
