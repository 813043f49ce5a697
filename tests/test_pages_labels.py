"""Every page, for every demo role, reads as Vietnamese: no English enum value, no raw code, no
Python literal or JSON in the text a person reads (issue #14, item 2).

The walk visits each GET page of the url_map that needs no argument, plus each page with one id
from the demo (the first camera, incident, commune... of Núi Đối), as each demo user, in
Vietnamese. Text is what a person reads: tags, attributes, <script> and <style> are stripped.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from camnet import labels
from camnet.extensions import db
from camnet.tenants.scope import system_scope

from .conftest import _make_app

PASSWORD = "camnet-demo-2026"
USERS = ["admin", "congan.huyen", "congan.tinh", "chutich.nuidoi", "vanhanh.nuidoi", "kythuat.nuidoi",
         "taitro.viettel", "hogiadinh.bensung"]

USERNAMES = set(USERS) | {"vanhanh.nguhiep"}
# pages that are not HTML for people, or that change state / sign out when opened
SKIP_PREFIXES = ("/api", "/static", "/media/", "/metrics", "/healthz", "/readyz", "/.well-known", "/alerts/push",
                 "/alerts/unread", "/transparency/<int:unit_id>/<kind>", "/login", "/reset", "/alerts/ack")
SKIP_SUFFIXES = (".pdf", ".csv", "/download", "/key", "/snapshot.jpg")

ENGLISH_ENUMS = sorted({
    "active", "offline", "faulty", "planned", "decommissioned", "ok", "fixed", "moved", "manifest",
    "covered", "frozen", "unreachable", "dark", "blur", "open", "closed", "pending", "ready", "failed",
    "recording", "investigating", "resolved", "referred", "snapshot", "clip", "denied", "paid", "cancelled",
    "cash", "bank", "in_kind", "equipment", "installation", "repair", "connectivity", "unknown", "ptz",
    "household", "commune", "business", "company", "organisation", "budget", "delivered", "sending",
})
ENUM_RE = re.compile(r"(?<![\w./:@-])(" + "|".join(ENGLISH_ENUMS) + r")(?![\w/@-])")
LITERAL_RE = re.compile(r"(?<![\w])(None|True|False)(?![\w])|\{\"|\bsha256 differs\b")
CODE_RE = re.compile(r"(?<![\w./:@-])[a-z_]+\.[a-z_]+(?:\.[a-z_]+)*(?![\w/@-])")  # media.view, incident.evidence.add
RAW_OBJECT_RE = re.compile(r"\b(snapshot|clip|incident|user|receipt)[ :#]\d+\b")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.out: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code", "pre"):  # code/pre: keys and hashes shown on purpose
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code", "pre") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.out.append(data.strip())


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.out)


def problems_in(text: str) -> list[str]:
    found = []
    for rx in (ENUM_RE, LITERAL_RE, CODE_RE, RAW_OBJECT_RE):
        for m in rx.finditer(text):
            if m.group(0) in USERNAMES:  # sign-in names are shown on purpose (users page, audit "who")
                continue
            line = next(ln for ln in text.splitlines() if m.group(0) in ln)
            found.append(f"{m.group(0)!r} in {line[:120]!r}")
    return list(dict.fromkeys(found))


def test_the_checker_catches_what_the_issue_found():
    assert problems_in("Trạng thái: active")
    assert problems_in("media.view")
    assert problems_in('{"ok": true}')
    assert problems_in("Ghi chú: None")
    assert problems_in("snapshot 273")
    assert not problems_in("Hoạt động\nMất kết nối\n6.000.000 đ\ncamnet\nNUIDOI-01\n192.168.1.2")


def test_every_english_value_shown_has_a_vietnamese_label():
    from camnet.streams.models import CAMERA_STATUSES, FAULT_RULES

    for value in CAMERA_STATUSES:
        assert labels.LABELS["camera_status"][value][0] != value
    for value in FAULT_RULES:
        assert value in labels.LABELS["fault_rule"]


@pytest.fixture(scope="module")
def demo(request, tmp_path_factory, live_services):
    app, cleanup = _make_app("sqlite", request, tmp_path_factory.mktemp("labels"), live_services)
    with app.app_context():
        from camnet.demo import load_all
        from camnet.incidents.models import EvidenceExport, Incident, IncidentEvidence as Evidence
        from camnet.billing_socialization.models import Receipt, ShareCampaign as Campaign, Sponsor
        from camnet.streams.models import Camera, Snapshot
        from camnet.tenants import audit
        from camnet.tenants.models import AdminUnit, User

        load_all()
        with system_scope():
            nuidoi = db.session.execute(select(AdminUnit).where(AdminUnit.code == "NUIDOI")).scalar_one()

            def first(model, *where):
                return db.session.execute(select(model.id).where(*where).order_by(model.id).limit(1)).scalar()

            ids = {
                "unit_id": nuidoi.id, "commune_id": nuidoi.id,
                "camera_id": first(Camera, Camera.commune_id == nuidoi.id),
                "incident_id": first(Incident, Incident.commune_id == nuidoi.id),
                "evidence_id": first(Evidence), "export_id": first(EvidenceExport),
                "receipt_id": first(Receipt), "sponsor_id": first(Sponsor), "campaign_id": first(Campaign),
                "user_id": first(User, User.username == "vanhanh.nuidoi"),
            }
            # what the audit log of the issue showed: a view of a snapshot, evidence added to a case
            snap = db.session.execute(select(Snapshot).where(Snapshot.commune_id == nuidoi.id)
                                      .order_by(Snapshot.id.desc()).limit(1)).scalar()
            if snap is not None:
                audit.record("media.view", unit_id=nuidoi.id, object_type="snapshot", object_id=snap.id,
                             reason="Xác minh vụ việc", actor_name="vanhanh.nuidoi")
            audit.record("incident.evidence.add", unit_id=nuidoi.id, object_type="incident",
                         object_id=ids["incident_id"], actor_name="vanhanh.nuidoi")
            audit.record("media.live", unit_id=nuidoi.id, object_type="camera", object_id=ids["camera_id"],
                         reason="Trực ban", actor_name="congan.huyen")
            db.session.commit()
    yield app, ids
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if cleanup:
        cleanup()


def _pages(app, ids) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(SKIP_PREFIXES) or rule.rule.endswith(SKIP_SUFFIXES):
            continue
        args = {a: ids.get(a) for a in rule.arguments}
        if any(v is None for v in args.values()):
            continue
        with app.test_request_context():
            from flask import url_for
            urls.append(url_for(rule.endpoint, **args))
    return sorted(set(urls))


@pytest.mark.parametrize("username", USERS)
def test_every_page_reads_in_vietnamese(demo, username):
    app, ids = demo
    client = app.test_client()
    resp = client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    seen, bad = 0, []
    for url in _pages(app, ids):
        resp = client.get(url + ("&" if "?" in url else "?") + "lang=vi")
        assert resp.status_code < 500, f"{url} as {username}: {resp.status_code}"
        if resp.status_code != 200 or not resp.mimetype == "text/html":
            continue
        seen += 1
        bad += [f"{url}: {p}" for p in problems_in(page_text(resp.get_data(as_text=True)))][:8]
    assert seen >= 3
    assert not bad, f"{username} reads English or raw values:\n" + "\n".join(bad)


# ---- the pages added for people: who may open them, and bad input ---------------------------

def test_system_health_is_for_the_platform_admin_only(app, world, client_for):
    page = client_for("admin").get("/system")
    assert page.status_code == 200
    text = page_text(page.get_data(as_text=True))
    assert "Cơ sở dữ liệu" in text and "Kho lưu ảnh, video" in text and "Hàng đợi" in text
    for username in ("police_prov", "chairman_a", "operator_a", "technician_a", "sponsor_a", "household_a"):
        assert client_for(username).get("/system").status_code == 403, username
    assert "/system" not in client_for("police_prov").get("/").get_data(as_text=True)


def test_user_edit_names_the_field_and_writes_nothing_on_bad_input(app, world, client_for):
    from camnet.tenants.models import AuditEvent, User

    target = world.users["operator_a"]
    admin = client_for("admin")
    assert f"/users/{target.id}/edit" in admin.get("/users").get_data(as_text=True)
    resp = admin.post(f"/users/{target.id}/edit", data={"full_name": "Trần Văn Mới", "email": "not-an-address"})
    assert resp.status_code == 422 and "email" in resp.get_data(as_text=True)
    with system_scope():
        assert db.session.get(User, target.id).full_name == target.full_name
        assert not db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.update")).first()
    resp = admin.post(f"/users/{target.id}/edit", data={"full_name": "Trần Văn Mới", "email": "moi@example.vn"})
    assert resp.status_code == 302
    with system_scope():
        db.session.expire_all()
        assert db.session.get(User, target.id).full_name == "Trần Văn Mới"
    log = page_text(admin.get("/audit?action=user.update").get_data(as_text=True))
    assert "Sửa thông tin người dùng" in log and "Trần Văn Mới" in log


def test_user_edit_is_refused_to_people_who_do_not_manage_users(app, world, client_for):
    from camnet.tenants.models import User

    target = world.users["operator_a"]
    for username in ("chairman_a", "operator_a", "police_dist", "household_a"):
        resp = client_for(username).post(f"/users/{target.id}/edit", data={"full_name": "Kẻ Sửa Trộm"})
        assert resp.status_code in (403, 404), username
    # an admin of another branch does not reach this user at all
    with system_scope():
        assert db.session.get(User, target.id).full_name == target.full_name


def test_police_roles_are_named_by_the_level_of_their_grant(app, world, client_for):
    assert "Công an huyện" in page_text(client_for("police_dist").get("/").get_data(as_text=True))
    assert "Công an tỉnh" in page_text(client_for("police_prov").get("/").get_data(as_text=True))


def test_audit_log_filters_by_action_and_date_and_refuses_a_bad_date(app, world, client_for):
    client = client_for("police_dist")
    text = page_text(client.get("/audit?action=auth.signin&from=2020-01-01").get_data(as_text=True))
    assert "Đăng nhập" in text and "giờ Việt Nam" in text
    resp = client.get("/audit?from=hôm-qua")
    assert resp.status_code == 200 and "Ngày không hợp lệ" in resp.get_data(as_text=True)
