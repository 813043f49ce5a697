"""Issue #12, findings 4, 8, 10 and 14: forged sessions, security headers, request size and JSON
depth limits, invisible or direction-changing characters in names, cross-site media views.
Each test is written from the attacker's side: what they send, what they get, what was written."""
from __future__ import annotations

import re
import shutil
import stat
import unicodedata
from pathlib import Path

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import func, select

from camnet import create_app, settings
from camnet.extensions import db
from camnet.streams.models import Camera
from camnet.tenants.models import AuditEvent, Village
from camnet.tenants.scope import system_scope
from camnet.web_security import AUDITED_MEDIA_ENDPOINTS, json_depth

from .conftest import IsolatedClient, _base_config
from .world import build_world

TEMPLATES = Path(__file__).resolve().parents[1] / "platform" / "templates"


def _count(model, *where) -> int:
    with system_scope():
        n = db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        db.session.rollback()
        return n


# ---- finding 4: a default install's session key ------------------------------------------------

@pytest.fixture
def default_install(request, tmp_path, live_services, monkeypatch):
    """An app built as scripts/run.sh builds it: development mode and no SECRET_KEY anywhere."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("CAMNET_ENV", raising=False)
    config = _base_config(tmp_path, live_services)
    config.pop("SECRET_KEY")
    shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "camnet.db")
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'camnet.db'}"
    app = create_app(config)
    app.test_client_class = IsolatedClient
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _forged_cookie(app, secret: str, user_id: int) -> str:
    """What an attacker who knows ``secret`` signs: a flask-login session for ``user_id``, with the
    "strong" session-protection identifier computed from the victim-side IP and User-Agent."""
    from flask_login.utils import _create_identifier

    with app.test_request_context():
        ident = _create_identifier()
    signer = Flask("attacker")
    signer.secret_key = secret
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer)
    return serializer.dumps({"_user_id": str(user_id), "_fresh": True, "_id": ident})


def test_a_cookie_signed_with_the_old_public_default_key_is_not_an_admin_session(default_install):
    world = build_world(default_install)
    client = default_install.test_client()
    client.set_cookie("session", _forged_cookie(default_install, settings.DEFAULT_SECRET, world.users["admin"].id))
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401 and resp.get_json()["error"] == "unauthorized"


def test_a_default_install_generates_its_key_once_into_the_instance_folder(default_install, tmp_path):
    key = default_install.config["SECRET_KEY"]
    path = tmp_path / settings.SECRET_FILE
    assert key != settings.DEFAULT_SECRET and len(key) >= 32
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = create_app({"INSTANCE_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                        "SECRET_KEY": None, "REDIS_URL": None, "S3_ENDPOINT": None})
    assert again.config["SECRET_KEY"] == key  # sessions survive a restart


# ---- finding 8: security headers -----------------------------------------------------------------

def test_every_page_answers_with_a_strict_content_security_policy(app, world, client_for):
    client = client_for("admin")
    for path in ("/login", "/", "/api/v1/me", "/units"):
        resp = (app.test_client() if path == "/login" else client).get(path)
        csp = resp.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'", path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin")
        assert "camera=()" in resp.headers["Permissions-Policy"]
        assert "Strict-Transport-Security" not in resp.headers  # plain http on a laptop


def test_production_sends_hsts_and_allows_the_tile_server_and_object_store(make_app):
    app = make_app("sqlite", {"ENV_NAME": "production", "SECRET_KEY": "p" * 48,
                              "MAP_TILE_URL": "https://{s}.tiles.example.vn/{z}/{x}/{y}.png",
                              "S3_ENDPOINT": "s3.example.vn:9000", "S3_SECURE": True})
    resp = app.test_client().get("/login")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    img = re.search(r"img-src ([^;]+)", resp.headers["Content-Security-Policy"]).group(1).split()
    assert "https://*.tiles.example.vn" in img and "https://s3.example.vn:9000" in img


def test_templates_carry_no_inline_script_handler_or_style():
    """The policy refuses them, so none may be left: scripts live in platform/static."""
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), path
        assert not re.search(r"\sstyle\s*=", text) and "<style" not in text, path
        assert "javascript:" not in text, path


# ---- finding 10: request size and JSON depth -----------------------------------------------------

def test_a_60_mb_csv_import_answers_413_in_the_api_error_format(app, world, client_for):
    client = client_for("operator_a")
    before = _count(Camera)
    body = b"code,name\n" + b"CAM-BIG,\"" + b"x" * (60 * 1024 * 1024) + b"\"\n"
    resp = client.post(f"/api/v1/cameras/import?unit_id={world.id('a')}", data=body,
                       content_type="text/csv")
    assert resp.status_code == 413
    err = resp.get_json()
    assert err["error"] == "request_too_large" and err["field"] == "body" and "16 MB" in err["message"]
    assert _count(Camera) == before


def test_a_too_large_upload_on_the_import_page_gets_a_readable_page(app, world, client_for):
    import io

    client = client_for("operator_a")
    body = b"code,name\n" + b"x" * (17 * 1024 * 1024)
    resp = client.post("/cameras/import", data={"unit_id": str(world.id("a")),
                                                "file": (io.BytesIO(body), "cameras.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 413 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "request body larger than the limit 16 MB" in page and "<footer>" in page


def test_a_csv_field_beyond_the_csv_limit_names_its_line_and_imports_nothing(app, world, client_for):
    client = client_for("operator_a")
    before = _count(Camera)
    csv_text = "code,name\nCAM-OK,Ngã ba chợ\nCAM-HUGE,\"" + "x" * 200_000 + "\"\n"
    resp = client.post(f"/api/v1/cameras/import?unit_id={world.id('a')}", data=csv_text.encode(),
                       content_type="text/csv")
    assert resp.status_code == 422
    err = resp.get_json()
    assert err["field"] == "file" and "line 3" in err["message"] and "KiB" in err["message"]
    assert err["errors"][0]["line"] == 3
    assert _count(Camera) == before


@pytest.mark.parametrize("depth", [33, 100_000])
def test_json_nested_too_deep_answers_422_before_parsing(app, world, client_for, depth):
    client = client_for("operator_a")
    before = _count(Camera)
    body = "[" * depth + "]" * depth
    resp = client.post("/api/v1/cameras", data=body, content_type="application/json")
    assert resp.status_code == 422
    err = resp.get_json()
    assert err["error"] == "json_too_deep" and err["field"] == "body" and "32" in err["message"]
    # the import reads its JSON body with silent=True: the limit must not turn into "no body"
    resp = client.post("/api/v1/cameras/import", data='{"unit_id": 1, "csv": ' + body + "}",
                       content_type="application/json")
    assert resp.status_code == 422 and resp.get_json()["error"] == "json_too_deep"
    assert _count(Camera) == before


def test_json_within_the_depth_limit_still_works(app, world, client_for):
    nested = {"commune_id": world.id("a"), "code": "CAM-DEEP", "name": "Sâu vừa đủ"}
    assert json_depth('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == 1  # brackets in strings do not count
    resp = client_for("operator_a").post("/api/v1/cameras", json=nested)
    assert resp.status_code == 201


# ---- finding 14a: invisible and direction-changing characters in names ----------------------------

BAD = {"RLO": "\u202e", "LRE": "\u202a", "RLI": "\u2067", "PDI": "\u2069", "LRM": "\u200e", "RLM": "\u200f",
       "ZWSP": "\u200b", "ZWNJ": "\u200c", "ZWJ": "\u200d", "BOM": "\ufeff", "WJ": "\u2060"}


def _name_cases(world):
    a = world.id("a")
    return [
        ("operator_a", "/api/v1/cameras", {"commune_id": a, "code": "CAM-N1", "name": "{}"}, "name"),
        ("admin", f"/api/v1/units/{a}/villages", {"name": "{}"}, "name"),
        ("admin", "/api/v1/units", {"parent_id": world.id("dist"), "code": "XN1", "name": "{}", "level": "xã"},
         "name"),
        ("admin", "/api/v1/users", {"username": "nguoi.moi", "full_name": "{}", "password": "mat-khau-dai-du-10",
                                    "unit_id": a}, "full_name"),
        ("chairman_a", f"/api/v1/funding/communes/{a}/sponsors", {"name": "{}", "kind": "company"}, "name"),
        ("operator_a", "/api/v1/incidents", {"commune_id": a, "category": "theft", "title": "{}",
                                              "occurred_at": "2026-11-01T08:00:00"}, "title"),
    ]


def test_names_with_bidi_or_zero_width_characters_are_refused_naming_the_field(any_app, world, client_for):
    clients = {}
    for char in sorted(BAD):
        for user, url, body, field in _name_cases(world):
            client = clients.get(user) or clients.setdefault(user, client_for(user))
            spoof = "Ngã tư " + BAD[char] + "chợ"
            payload = {k: (spoof if v == "{}" else v) for k, v in body.items()}
            resp = client.post(url, json=payload)
            assert resp.status_code == 422, (char, url, resp.get_data(as_text=True)[:300])
            err = resp.get_json()
            assert err["field"] == field and f"U+{ord(BAD[char]):04X}" in err["message"], (char, url, err)
    assert _count(Camera, Camera.code == "CAM-N1") == 0
    assert _count(Village, Village.name.contains("chợ")) == 0


def test_names_are_stored_nfc_and_trimmed_with_vietnamese_diacritics_kept(any_app, world, client_for):
    decomposed = unicodedata.normalize("NFD", "  Ngã tư Hồ Xá  ")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    resp = client_for("operator_a").post("/api/v1/cameras", json={"commune_id": world.id("a"), "code": "CAM-NFC",
                                                                  "name": decomposed})
    assert resp.status_code == 201 and resp.get_json()["name"] == "Ngã tư Hồ Xá"
    with system_scope():
        assert db.session.execute(select(Camera.name).where(Camera.code == "CAM-NFC")).scalar_one() == "Ngã tư Hồ Xá"
        db.session.rollback()


def test_the_form_and_the_csv_import_use_the_same_name_check(app, world, client_for):
    client = client_for("operator_a")
    resp = client.post("/cameras", data={"commune_id": str(world.id("a")), "code": "CAM-F1",
                                         "name": "Cổng\u202etrường"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "name: " in page and "U+202E" in page
    csv_text = "code,name\nCAM-F2,Ngã\u200bba\n"
    resp = client.post(f"/api/v1/cameras/import?unit_id={world.id('a')}", data=csv_text.encode(),
                       content_type="text/csv")
    assert resp.status_code == 422
    assert resp.get_json()["errors"][0] | {"reason": ""} == {"line": 2, "field": "name", "reason": ""}
    assert _count(Camera, Camera.code.in_(["CAM-F1", "CAM-F2"])) == 0


# ---- finding 14b: media views triggered from another site ----------------------------------------

def _snapshot_id(world) -> int:
    return world.extra["snapshot"]["a"][0].id


CROSS_SITE = [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
              {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}, {"Origin": "null"}]


def test_a_cross_site_media_view_with_a_cookie_session_is_refused_and_not_audited(any_app, world, client_for):
    client = client_for("police_dist")
    audits = _count(AuditEvent, AuditEvent.action.startswith("media."))
    clip = world.extra["clip"]["a"][0]
    for headers in CROSS_SITE:
        for url in (f"/api/v1/snapshots/{_snapshot_id(world)}/download?reason=attacker-chosen",
                    f"/api/v1/clips/{clip.id}/download?reason=attacker-chosen",
                    f"/api/v1/cameras/{world.extra['camera']['a'][0].id}/live?reason=x&frames=1"):
            resp = client.get(url, headers=headers)
            assert resp.status_code == 403, (headers, url, resp.status_code)
            assert resp.get_json()["error"] == "cross_site_request"
    assert _count(AuditEvent, AuditEvent.action.startswith("media.")) == audits


def test_same_origin_pages_and_bearer_tokens_still_view_media(app, world, client_for):
    client = client_for("police_dist")
    url = f"/api/v1/snapshots/{_snapshot_id(world)}/download"
    audits = _count(AuditEvent, AuditEvent.action == "media.view")
    host = "http://localhost"
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {"Referer": f"{host}/wall"}, {}):
        assert client.get(url, headers=headers).status_code == 302, headers
    token = client.post("/api/v1/tokens", json={"name": "tích hợp"}).get_json()["token"]
    resp = app.test_client().get(url, headers={"Authorization": f"Bearer {token}", "Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 302
    assert _count(AuditEvent, AuditEvent.action == "media.view") == audits + 5


def test_every_audited_media_endpoint_is_covered_by_the_same_origin_check(app):
    """A renamed endpoint would silently drop out of the check: each name must exist."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert AUDITED_MEDIA_ENDPOINTS <= endpoints


def test_only_the_evidence_verifier_takes_a_body_beyond_the_limit(app, world, client_for):
    """An exported archive carries its clips: verifying one may upload more than 16 MB."""
    import io

    client = client_for("police_dist")
    big = b"PK" + b"\0" * (20 * 1024 * 1024)
    resp = client.post("/api/v1/evidence/verify", data={"file": (io.BytesIO(big), "export.zip")},
                       content_type="multipart/form-data")
    assert resp.status_code != 413 and resp.status_code < 500, resp.status_code
    resp = client.post("/api/v1/tokens", data=big, content_type="application/json")
    assert resp.status_code == 413
