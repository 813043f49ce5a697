"""Camera registry: CRUD through the API, validation naming the field, passwords, consent and capture."""
import os
import stat

from sqlalchemy import func, select

from camnet.extensions import db
from camnet import crypto
from camnet.streams.models import Camera, CameraConsent
from camnet.streams.registry import capturable_cameras_query
from camnet.tenants.scope import system_scope

NEW = {"code": "NGA-TU-01", "name": "Ngã tư Đồng Tâm", "road": "Đường Núi Đối x Phố Cẩm Hoàn",
       "latitude": 20.7201, "longitude": 106.6702, "direction": "NE", "kind": "fixed",
       "snapshot_url": "http://10.20.0.11/ISAPI/Streaming/channels/101/picture",
       "rtsp_main": "rtsp://10.20.0.11:554/Streaming/Channels/101", "username": "admin",
       "password": "Mk-rieng-2026!", "recorder": "NVR-1", "channel": 3, "phase": "Giai đoạn 1",
       "status": "active", "install_date": "2024-05-01"}


def _count(model=Camera):
    with system_scope():
        return db.session.execute(select(func.count()).select_from(model)).scalar()


def test_operator_registers_a_camera_and_its_password_never_leaves(app, world, client_for):
    client = client_for("operator_a")
    resp = client.post("/api/v1/cameras", json={**NEW, "commune_id": world.id("a"),
                                                "village_id": world.villages["a"].id})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["has_password"] is True and body["village"] == "Thôn Một"
    for url in (f"/api/v1/cameras/{body['id']}", f"/api/v1/cameras?unit_id={world.id('a')}",
                f"/cameras/{body['id']}", "/cameras"):
        text = client.get(url).get_data(as_text=True)
        assert "Mk-rieng-2026!" not in text and "password_enc" not in text
    # viewers (police) do not get camera addresses either; those who install them do
    seen = client_for("police_dist").get(f"/api/v1/cameras/{body['id']}").get_json()
    assert seen["snapshot_url"] is None and seen["rtsp_main"] is None and seen["name"] == NEW["name"]
    assert body["snapshot_url"] == NEW["snapshot_url"]
    with system_scope():
        cam = db.session.get(Camera, body["id"])
        assert cam.password_enc and "Mk-rieng" not in cam.password_enc
        assert crypto.decrypt_password(cam) == "Mk-rieng-2026!"


INVALID = [
    ({"latitude": 123.0}, "latitude"),
    ({"status": "broken"}, "status"),
    ({"code": "có dấu cách"}, "code"),
    ({"snapshot_url": "http://169.254.169.254/latest/meta-data/"}, "snapshot_url"),
    ({"rtsp_main": "http://10.0.0.1/not-rtsp"}, "rtsp_main"),
    ({"ownership": "household"}, "consent"),
    ({"capture_interval": 1}, "capture_interval"),
    ({"unknown": 1}, "unknown"),
]


def test_invalid_camera_is_refused_naming_the_field_and_nothing_is_written(app, world, client_for):
    client = client_for("operator_a")
    before = _count()
    for change, field in INVALID + [({"village_id": world.villages["b"].id}, "village_id")]:
        resp = client.post("/api/v1/cameras", json={**NEW, "commune_id": world.id("a"), **change})
        assert resp.status_code == 422, (change, resp.get_json())
        body = resp.get_json()
        assert field in (body.get("field") or "") or field in body["message"], (change, body)
    for user in ("technician_a", "sponsor_a", "chairman_a"):  # roles that never register cameras
        resp = client_for(user).post("/api/v1/cameras", json={**NEW, "commune_id": world.id("a")})
        assert resp.status_code == 403
    assert _count() == before


def test_duplicate_code_in_a_commune_is_a_conflict(app, world, client_for):
    client = client_for("operator_a")
    assert client.post("/api/v1/cameras", json={**NEW, "commune_id": world.id("a")}).status_code == 201
    resp = client.post("/api/v1/cameras", json={**NEW, "commune_id": world.id("a")})
    assert resp.status_code == 409 and resp.get_json()["field"] == "code"


def test_update_and_decommission_a_camera(app, world, client_for):
    client = client_for("operator_a")
    cam_id = client.post("/api/v1/cameras", json={**NEW, "commune_id": world.id("a")}).get_json()["id"]
    resp = client.patch(f"/api/v1/cameras/{cam_id}", json={"name": "Cổng chợ Núi Đối", "password": ""})
    assert resp.status_code == 200 and resp.get_json()["name"] == "Cổng chợ Núi Đối"
    assert resp.get_json()["has_password"] is False
    bad = client.patch(f"/api/v1/cameras/{cam_id}", json={"mjpeg_url": "http://127.0.0.1:6379/"})
    assert bad.status_code == 422 and bad.get_json()["field"] == "mjpeg_url"
    resp = client.post(f"/api/v1/cameras/{cam_id}/decommission", json={})
    assert resp.get_json()["status"] == "decommissioned" and resp.get_json()["capture_allowed"] is False


def test_consent_revocation_stops_capture_at_once(any_app, world, client_for):
    client = client_for("operator_a")
    resp = client.post("/api/v1/cameras", json={
        **NEW, "code": "HO-01", "ownership": "household", "owner_name": "Hộ ông Lê Văn Đức",
        "consent": {"shares": "snapshots", "granted_by": "Ông Lê Văn Đức", "since": "2026-03-01"},
        "commune_id": world.id("a")})
    assert resp.status_code == 201, resp.get_json()
    cam_id, consent_id = resp.get_json()["id"], resp.get_json()["consent"]["id"]

    def capturable():
        with system_scope():
            ids = {c.id for c in db.session.execute(capturable_cameras_query()).scalars()}
            db.session.rollback()
            return ids

    assert cam_id in capturable()
    resp = client.post(f"/api/v1/cameras/{cam_id}/consents/{consent_id}/revoke", json={})
    assert resp.status_code == 200 and resp.get_json()["revoked_at"]
    assert cam_id not in capturable()
    assert client.get(f"/api/v1/cameras/{cam_id}").get_json()["capture_allowed"] is False
    # a new consent that shares only on request still does not allow periodic capture
    client.post(f"/api/v1/cameras/{cam_id}/consents", json={"shares": "on_request", "granted_by": "Ông Đức",
                                                            "since": "2026-04-01"})
    assert cam_id not in capturable()
    client.post(f"/api/v1/cameras/{cam_id}/consents", json={"shares": "live", "granted_by": "Ông Đức",
                                                            "since": "2026-05-01"})
    assert cam_id in capturable()
    with system_scope():
        active = db.session.execute(select(func.count()).select_from(CameraConsent).where(
            CameraConsent.camera_id == cam_id, CameraConsent.revoked_at.is_(None))).scalar()
    assert active == 1


def test_only_cameras_in_service_are_captured(app, world):
    with system_scope():
        planned = Camera(commune_id=world.id("a"), code="PLAN-1", name="Sắp lắp", status="planned")
        retired = Camera(commune_id=world.id("a"), code="OLD-1", name="Đã tháo", status="decommissioned")
        db.session.add_all([planned, retired])
        db.session.commit()
        ids = [c.id for c in db.session.execute(capturable_cameras_query()).scalars()]
    assert world.streams["a"]["camera"].id in ids and world.streams["a"]["shared"].id in ids
    assert planned.id not in ids and retired.id not in ids


def test_embedded_camera_key_is_generated_once_with_private_mode(tmp_path):
    config = {"INSTANCE_DIR": str(tmp_path), "CAMERA_SECRET_KEY": None}
    token = crypto.encrypt("bí-mật", config)
    key_file = tmp_path / crypto.KEY_FILE
    assert key_file.exists() and stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert crypto.decrypt(token, config) == "bí-mật"
    # a rotated key list still reads old tokens
    rotated = {"INSTANCE_DIR": str(tmp_path), "CAMERA_SECRET_KEY": "new-secret," + key_file.read_text()}
    assert crypto.decrypt(token, rotated) == "bí-mật"


def test_camera_pages_render_in_both_languages(app, world, client_for):
    client = client_for("operator_a")
    cam = world.streams["a"]["camera"]
    assert "Thêm camera" in client.get("/cameras").get_data(as_text=True)
    assert "Add a camera" in client.get("/cameras?lang=en").get_data(as_text=True)
    page = client.get(f"/cameras/{cam.id}").get_data(as_text=True)
    assert cam.name in page and "Mk-" not in page
    assert client.get(f"/cameras/{world.streams['b']['camera'].id}").status_code == 404


def test_camera_list_shows_each_camera_as_its_own_page_does(any_app, world, client_for):
    """The list is read as plain rows and the one-camera view through the ORM: both must say the
    same, consents, village and hidden addresses included, under every filter."""
    op = client_for("operator_a")
    shared = op.post("/api/v1/cameras", json={
        **NEW, "code": "HO-02", "ownership": "household", "owner_name": "Hộ bà Nguyễn Thị Hoa",
        "village_id": world.villages["a"].id, "status": "active",
        "consent": {"shares": "live", "granted_by": "Bà Nguyễn Thị Hoa", "since": "2026-03-01"},
        "commune_id": world.id("a")}).get_json()
    op.post(f"/api/v1/cameras/{shared['id']}/consents/{shared['consent']['id']}/revoke", json={})
    op.post(f"/api/v1/cameras/{shared['id']}/consents", json={"shares": "snapshots", "granted_by": "Bà Hoa",
                                                              "since": "2026-04-01"})
    plain = op.post("/api/v1/cameras", json={**NEW, "code": "NGA-TU-09", "status": "planned",
                                             "commune_id": world.id("a")}).get_json()
    for user in ("operator_a", "police_dist"):
        client = client_for(user)
        for query, expect in ((f"unit_id={world.id('a')}", {shared["id"], plain["id"]}),
                              (f"unit_id={world.id('a')}&q=HO-", {shared["id"]}),
                              (f"unit_id={world.id('a')}&status=planned", {plain["id"]}),
                              ("q=NGA-TU-09", {plain["id"]})) + (
                ((f"unit_id={world.id('dist')}&q=HO-", {shared["id"]}),) if user == "police_dist" else ()):
            listed = client.get(f"/api/v1/cameras?{query}")
            assert listed.status_code == 200, (user, query, listed.get_json())
            items = {c["id"]: c for c in listed.get_json()}
            assert expect <= set(items), (user, query)
            if "status=" in query:
                assert all(c["status"] == "planned" for c in items.values())
            for cam_id in expect:
                assert items[cam_id] == client.get(f"/api/v1/cameras/{cam_id}").get_json(), (user, cam_id)
    row = {c["id"]: c for c in client_for("operator_a").get(f"/api/v1/cameras?unit_id={world.id('a')}").get_json()}
    assert [k["shares"] for k in row[shared["id"]]["consents"]] == ["live", "snapshots"]
    assert row[shared["id"]]["consent"]["shares"] == "snapshots" and row[shared["id"]]["village"] == "Thôn Một"
    # the attacker's side: another commune's unit, a unit that does not exist, a role without cameras.read
    assert client_for("operator_b").get(f"/api/v1/cameras?unit_id={world.id('a')}").status_code == 404
    assert client_for("operator_a").get(f"/api/v1/cameras?unit_id={world.id('dist')}").status_code == 404
    assert client_for("police_dist2").get(f"/api/v1/cameras?unit_id={world.id('dist')}").status_code == 404
    assert client_for("operator_a").get("/api/v1/cameras?unit_id=999999").status_code == 404
    assert client_for("operator_b").get("/api/v1/cameras?q=HO-02").get_json() == []
    assert client_for("sponsor_a").get(f"/api/v1/cameras?unit_id={world.id('a')}").status_code in (403, 404)
