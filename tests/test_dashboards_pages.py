"""The audiences' pages: police oversight with drill-down, the chairman's coverage (gaps first) and
funding, the sponsor portal; each in both languages, each refusing the roles it is not for."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from camnet.extensions import db
from camnet.streams.models import Camera, FaultTicket
from camnet.tenants.models import Village
from camnet.tenants.scope import system_scope

from .world import FOREIGN


def test_district_oversight_shows_every_commune_below_with_map_and_charts(any_app, world, client_for):
    client = client_for("police_dist")
    page = client.get("/oversight").get_data(as_text=True)
    assert "Giám sát địa bàn" in page and "Xã Đông Anh Thử" in page and f"Xã {FOREIGN} B" in page
    assert f"Xã {FOREIGN} C" not in page  # another district
    assert "vendor/leaflet/leaflet.js" in page and 'id="camera-map-data"' in page and "<svg" in page
    assert "http://" not in page.split("<main")[1].split("</main>")[0].replace("http://www.w3.org/2000/svg", "")
    en = client.get("/oversight?lang=en").get_data(as_text=True)
    assert "Incidents per month by category" in en
    found = client.get("/oversight?category=theft&place=" + FOREIGN).get_data(as_text=True)
    assert f"Mất trộm xe máy b {FOREIGN}" in found
    api = client.get("/api/v1/oversight").get_json()
    assert {c["name"] for c in api["communes"]} == {"Xã Đông Anh Thử", f"Xã {FOREIGN} B"}
    assert all(c["incidents"] == 1 and c["clarified"] == 1 for c in api["communes"])


def test_drill_down_to_a_commune_and_a_camera(app, world, client_for):
    client = client_for("police_prov")
    cam = world.extra["incident_camera"]["c"][0]
    page = client.get(f"/oversight/communes/{world.id('c')}").get_data(as_text=True)
    assert cam.code in page and f"Mất trộm xe máy c {FOREIGN}" in page
    page = client.get(f"/oversight/cameras/{cam.id}").get_data(as_text=True)
    assert cam.name in page and f"Mất trộm xe máy c {FOREIGN}" in page
    # the other police see nothing of it
    other = client_for("police_prov2")
    assert other.get(f"/oversight/communes/{world.id('c')}").status_code == 404
    assert other.get(f"/oversight/cameras/{cam.id}").status_code == 404


def test_chairman_sees_the_broken_camera_village_first_among_gaps(any_app, world, client_for):
    with system_scope():
        extra = Village(commune_id=world.id("a"), name="Thôn Hai Có Camera", households=250)
        db.session.add(extra)
        db.session.flush()
        db.session.add(Camera(commune_id=world.id("a"), code="OK-1", name="Camera tốt", village_id=extra.id,
                              road="Đường làng", status="active", latitude=16.9, longitude=107.1))
        cam = db.session.get(Camera, world.extra["incident_camera"]["a"][0].id)
        cam.status = "faulty"
        db.session.add(FaultTicket(camera_id=cam.id, commune_id=cam.commune_id, rule="dark"))
        db.session.commit()
    client = client_for("chairman_a")
    page = client.get("/coverage").get_data(as_text=True)
    gaps = page.split('id="gaps"')[1].split("</section>")[0]
    assert "Thôn Một" in gaps and "Thôn Hai Có Camera" not in gaps
    assert page.index("Thôn Một") < page.index("Camera theo thôn")  # gaps before everything else
    assert "Camera đang hỏng" in page and "VV-A" in page.split('id="down"')[1]
    assert FOREIGN not in page
    api = client.get(f"/api/v1/communes/{world.id('a')}/coverage").get_json()
    assert api["gaps"] == ["Thôn Một"] and api["repair_backlog"][0]["rule"] == "dark"
    assert "Gaps: villages with no working camera" in client.get("/coverage?lang=en").get_data(as_text=True)


def test_chairman_sees_the_funding_summary_from_billing(app, world, client_for):
    page = client_for("chairman_a").get("/coverage").get_data(as_text=True)
    funding = page.split('id="funding"')[1].split("</section>")[0]
    assert "Mục tiêu" in funding or "Chưa có dữ liệu" in funding
    assert FOREIGN not in page


def test_sponsor_portal_shows_cameras_and_counts_without_personal_data(app, world, client_for):
    from sqlalchemy import select

    from camnet.incidents.models import IncidentCamera

    sponsor_cams = world.extra.get("camera", {}).get("a", [])
    funded = [c for c in sponsor_cams if c.code.startswith("TT-")]
    if funded:  # link the world's incident to the camera the sponsor paid for
        with system_scope():
            inc = world.extra["incident"]["a"][0]
            if not db.session.execute(select(IncidentCamera).where(
                    IncidentCamera.incident_id == inc.id, IncidentCamera.camera_id == funded[0].id)).first():
                db.session.add(IncidentCamera(incident_id=inc.id, camera_id=funded[0].id, commune_id=inc.commune_id))
                db.session.commit()
    client = client_for("sponsor_a")
    page = client.get("/sponsor").get_data(as_text=True)
    assert "Cổng nhà tài trợ" in page and FOREIGN not in page
    assert "Mất trộm xe máy" not in page and "Mô tả vụ việc" not in page  # counts only
    if funded:
        assert funded[0].code in page and "Trộm cắp tài sản" in page
        pdf = client.get("/sponsor/report.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
        data = client.get("/api/v1/sponsor/portal").get_json()
        assert data["helped"][0]["count"] == 1 and "title" not in data["helped"][0]
    else:
        assert "Chưa có dữ liệu" in page


@pytest.mark.parametrize("user,path,status", [
    ("sponsor_a", "/oversight", 403), ("household_a", "/incidents", 403), ("technician_a", "/incidents", 403),
    ("operator_a", "/sponsor", 403), ("chairman_a", "/incidents/new", 403), ("nobody_a", "/coverage", 403),
    ("operator_a", "/incidents/categories", 403), ("police_dist", "/sponsor/report.pdf", 403),
])
def test_pages_refuse_roles_they_are_not_for(app, world, client_for, user, path, status):
    assert client_for(user).get(path).status_code == status


def test_foreign_ids_on_pages_answer_404(app, world, client_for):
    client = client_for("operator_a")
    inc_b = world.extra["incident"]["b"][0]
    ev_b = world.extra["incident_evidence"]["b"][0]
    for path in (f"/incidents/{inc_b.id}", f"/incidents/{inc_b.id}/evidence/{ev_b.id}?reason=xem thử",
                 f"/oversight/communes/{world.id('b')}", f"/oversight/cameras/{world.extra['incident_camera']['b'][0].id}",
                 f"/coverage?commune_id={world.id('b')}"):
        resp = client.get(path)
        assert resp.status_code == 404 and FOREIGN not in resp.get_data(as_text=True), path


@pytest.mark.parametrize("user,path,text", [
    ("operator_a", "/incidents", "Mất trộm xe máy a"), ("operator_a", "/incidents/new", "Lưu vụ việc"),
    ("police_dist", "/incidents", "Vụ việc"), ("admin", "/incidents/categories", "Tờ rơi tín dụng đen"),
    ("police_dist", "/incidents/verify", "Kiểm tra gói chứng cứ"),
])
def test_incident_pages_render_in_both_languages(app, world, client_for, user, path, text):
    client = client_for(user)
    assert text in client.get(path).get_data(as_text=True)
    assert 'lang="en"' in client.get(path + "?lang=en").get_data(as_text=True)


def test_operator_logs_an_incident_through_the_form(app, world, client_for):
    client = client_for("operator_a")
    cam = world.extra["incident_camera"]["a"][0]
    resp = client.post("/incidents/new", data={
        "category": "illegal_racing", "title": "Đua xe trên quốc lộ", "occurred_at": "2026-02-01T23:10",
        "village_id": str(world.villages["a"].id), "road": "Quốc lộ 1A", "camera_ids": [str(cam.id)],
        "status": "investigating", "clarified_by_camera": "on", "people_identified": "3",
        "property_recovered_vnd": "0"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Đua xe trên quốc lộ" in page and "Đang xác minh" in page and cam.code in page
    clip = world.extra["incident_clip"]["a"][0]
    client.post(resp.headers["Location"], data={"action": "evidence", "item": f"clip:{clip.id}"})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Chứng cứ (1)" in page and "Thêm chứng cứ vào vụ việc" in page and "incident.evidence.add" not in page


def test_the_cached_oversight_answer_never_crosses_scopes(any_app, world, client_for):
    """Figures are cached per set of communes shown: another district's police asking right
    after get their own communes, and the first caller gets the cached answer again."""
    dist = client_for("police_dist")
    first = dist.get("/api/v1/oversight").get_json()
    assert {c["name"] for c in first["communes"]} == {"Xã Đông Anh Thử", f"Xã {FOREIGN} B"}
    other = client_for("police_prov2").get("/api/v1/oversight")
    body = other.get_data(as_text=True)
    assert other.status_code == 200 and "Xã Đông Anh Thử" not in body and f"Xã {FOREIGN} B" not in body
    again = dist.get("/api/v1/oversight").get_json()
    assert again["generated_at"] == first["generated_at"] and again["communes"] == first["communes"]
    below = dist.get(f"/api/v1/oversight?unit_id={world.id('b')}").get_json()
    assert [c["name"] for c in below["communes"]] == [f"Xã {FOREIGN} B"]
    mine = client_for("chairman_a").get("/api/v1/oversight").get_json()  # a chairman: their commune only
    assert [c["name"] for c in mine["communes"]] == ["Xã Đông Anh Thử"]
    assert client_for("sponsor_a").get("/api/v1/oversight").status_code == 403


def test_a_big_map_shows_one_marker_per_commune(make_app):
    """Above MAP_POINT_LIMIT cameras the overview sends per-commune clusters, not every camera."""
    from .world import build_world

    app = make_app("sqlite", {"MAP_POINT_LIMIT": 1, "OVERVIEW_CACHE_SECONDS": 0})
    with app.app_context():
        world = build_world(app)
        with system_scope():
            cams = db.session.execute(select(Camera).where(Camera.status != "decommissioned")).scalars().all()
            expected = {}
            for c in cams:
                expected.setdefault(c.commune_id, []).append(c)
        client = app.test_client()
        assert client.post("/login", data={"username": "police_dist", "password": world.password}).status_code == 302
        api = client.get("/api/v1/oversight").get_json()
        assert api["cameras"] == [] and api["clusters"]
        seen = {world.id("a"), world.id("b")}
        assert {c["commune_id"] for c in api["clusters"]} == {k for k in expected if k in seen}
        for cluster in api["clusters"]:
            mine = expected[cluster["commune_id"]]
            assert cluster["cameras"] == len(mine) == sum(cluster["by_status"].values())
            located = [c for c in mine if c.latitude is not None]
            if located:
                assert abs(cluster["lat"] - sum(c.latitude for c in located) / len(located)) < 1e-5
        page = client.get("/oversight").get_data(as_text=True)
        assert '"clusters": [{' in page and '"points": []' in page
