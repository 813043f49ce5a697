"""Real browser tests: Debian's Chromium driven by Playwright against a real server with the demo
loaded. Each page visited is saved as a screenshot under test-artifacts/screenshots/."""
from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from camnet.extensions import db
from camnet.tenants.scope import system_scope

from ..conftest import _make_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "camnet-demo-2026"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"camnet-demo-clip" * 64

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def _prepare_demo(app) -> dict:
    """Load the demo, then make sure of two facts the flows need: a ready clip at Núi Đối and a
    village whose only cameras are broken."""
    from camnet.demo import load_all
    from camnet.streams.models import Camera, Clip
    from camnet.tenants.models import AdminUnit, Village

    with app.app_context():
        load_all()
        with system_scope():
            nuidoi = db.session.execute(select(AdminUnit).where(AdminUnit.code == "NUIDOI")).scalar_one()
            villages = list(db.session.execute(select(Village).where(Village.commune_id == nuidoi.id)
                                               .order_by(Village.name)).scalars())
            broken = villages[-1]
            cams = list(db.session.execute(select(Camera).where(Camera.commune_id == nuidoi.id)).scalars())
            in_broken = [c for c in cams if c.village_id == broken.id]
            if not in_broken:
                cam = Camera(commune_id=nuidoi.id, code="E2E-HONG", name="Camera hỏng thử", village_id=broken.id,
                             road="Đường thử", latitude=19.92, longitude=105.82, status="faulty")
                db.session.add(cam)
                in_broken = [cam]
            for cam in in_broken:
                cam.status = "faulty"
            working = next((c for c in cams if c.village_id != broken.id), None)
            if working is None:
                working = Camera(commune_id=nuidoi.id, code="E2E-TOT", name="Camera tốt thử",
                                 village_id=villages[0].id, road="Đường thử", latitude=19.93, longitude=105.83,
                                 status="active")
                db.session.add(working)
            working.status = "active"
            db.session.flush()
            key = f"{nuidoi.id}/{working.id}/e2e/clip.mp4"
            app.extensions["camnet.storage"].put(key, MP4, "video/mp4")
            clip = Clip(camera_id=working.id, commune_id=nuidoi.id, duration_s=20, status="ready", object_key=key,
                        size=len(MP4), sha256=hashlib.sha256(MP4).hexdigest(),
                        started_at=datetime.now(timezone.utc) - timedelta(minutes=30))
            db.session.add(clip)
            db.session.commit()
            communes = list(db.session.execute(select(AdminUnit.name).where(AdminUnit.is_commune.is_(True))
                                               .order_by(AdminUnit.name)).scalars())
            return {"broken_village": broken.name, "camera_id": working.id, "camera_code": working.code,
                    "clip_id": clip.id, "communes": communes}


@pytest.fixture(scope="module")
def server(request, tmp_path_factory, live_services):
    app, cleanup = _make_app("sqlite", request, tmp_path_factory.mktemp("e2e"), live_services,
                             {"WTF_CSRF_ENABLED": True})
    facts = _prepare_demo(app)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_port}", "app": app, **facts}
    httpd.shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if cleanup:
        cleanup()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _signed_in(browser, server, username, width=1600, height=1000):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.goto(server["url"] + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def _shot(page, name):
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("username", ["admin", "congan.huyen", "congan.tinh", "chutich.nuidoi", "vanhanh.nuidoi",
                                      "kythuat.nuidoi", "taitro.viettel", "hogiadinh.bensung"])
def test_each_role_signs_in_and_sees_its_home(browser, server, username):
    context, page = _signed_in(browser, server, username)
    assert "Xin chào" in page.content()
    _shot(page, f"home-{username}")
    page.goto(server["url"] + "/?lang=en")
    assert "Hello" in page.content()
    context.close()


def test_district_map_shows_every_demo_commune(browser, server):
    context, page = _signed_in(browser, server, "congan.huyen")
    page.goto(server["url"] + "/oversight")
    page.wait_for_selector("#camera-map[data-communes]")
    table = page.inner_text("#commune-table")
    for name in server["communes"]:
        assert name in table
    labels = page.locator(".commune-label").all_inner_texts()
    assert set(labels) == set(server["communes"])
    assert int(page.get_attribute("#camera-map", "data-markers")) > 0
    _shot(page, "oversight-district")
    page.set_viewport_size({"width": 390, "height": 844})
    _shot(page, "oversight-district-phone")
    page.click(f"#commune-table a:has-text('{server['communes'][0]}')")
    page.wait_for_selector("#camera-map[data-markers]")
    _shot(page, "oversight-commune")
    context.close()


def test_a_household_follows_its_share_to_the_cameras_it_pays_for(browser, server):
    context, page = _signed_in(browser, server, "hogiadinh.bensung", width=390, height=844)
    page.click("[data-nav-toggle]")  # at phone width the menu is collapsed behind its button
    page.click("nav a:has-text('Đóng góp của hộ')")
    page.wait_for_url(lambda url: url.endswith("/funding/my-shares"))
    text = page.inner_text("main")
    assert "Vận động hộ dân góp camera 2022" in text and "Đóng góp dùng cho: Mô hình camera 2022" in text
    assert "BENSUNG-001" in text and "hộ đã nộp đủ" in text
    assert "BS-1-002" not in page.content()  # no neighbour's household
    _shot(page, "household-shares-phone")
    context.close()


def test_a_map_over_the_point_limit_shows_one_marker_per_commune(browser, server):
    """At province size the overview map draws one marker per commune (the clusters), each
    labelled, with a popup that links to the commune's own map."""
    app = server["app"]
    app.config["MAP_POINT_LIMIT"] = 1
    try:
        context, page = _signed_in(browser, server, "congan.huyen")
        page.goto(server["url"] + "/oversight")
        page.wait_for_selector("#camera-map[data-communes]")
        clusters = page.locator("path.cam-cluster")
        located = int(page.get_attribute("#camera-map", "data-markers"))
        assert clusters.count() == located > 0 and page.locator("path.cam-marker").count() == 0
        assert set(page.locator(".commune-label").all_inner_texts()) <= set(server["communes"])
        assert int(page.locator(".stat b").nth(1).inner_text()) > 0  # the camera count is not the markers'
        _shot(page, "oversight-district-clusters")
        clusters.first.click(force=True)
        link = page.locator(".leaflet-popup-content a")
        link.wait_for()
        link.click()
        page.wait_for_url(lambda url: "/oversight/communes/" in url)
        page.wait_for_selector("#camera-map[data-markers]")
        assert page.locator("path.cam-marker").count() > 0  # a commune's own map shows its cameras
        context.close()
    finally:
        app.config["MAP_POINT_LIMIT"] = 2000


def test_operator_logs_an_incident_with_a_clip_and_exports_it(browser, server, tmp_path):
    from camnet.incidents.evidence import verify_archive

    context, page = _signed_in(browser, server, "vanhanh.nuidoi")
    page.goto(server["url"] + "/incidents/new")
    page.select_option("select[name=category]", "theft")
    page.fill("input[name=title]", "Mất trộm xe máy trước cửa hàng")
    page.fill("input[name=occurred_at]", (datetime.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=road]", "Quốc lộ 1A")
    page.check(f"input[name=camera_ids][value='{server['camera_id']}']")
    page.check("input[name=clarified_by_camera]")
    _shot(page, "incident-new")
    page.click("#incident-form button[type=submit]")
    page.wait_for_selector("#evidence-form")
    page.select_option("#evidence-form select[name=item]", f"clip:{server['clip_id']}")
    page.click("#evidence-form button[type=submit]")
    page.wait_for_selector("text=Chứng cứ (1)")
    _shot(page, "incident-detail")
    page.fill("#export-reason", "Chuyển hồ sơ cho Công an huyện")
    page.click("#export-form button[type=submit]")
    page.wait_for_selector("#export-download:not([hidden])")
    _shot(page, "incident-export")
    with page.expect_download() as info:
        page.click("#export-download")
    path = tmp_path / "export.zip"
    info.value.save_as(str(path))
    data = path.read_bytes()
    with server["app"].app_context():  # the check compares with the platform's record of the export
        assert verify_archive(data)["ok"] is True
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert f"media/clip-{server['clip_id']}.mp4" in names and "custody.json" in names
    context.close()


def test_chairman_sees_the_broken_camera_village_in_the_gaps(browser, server):
    context, page = _signed_in(browser, server, "chutich.nuidoi")
    page.goto(server["url"] + "/coverage")
    page.wait_for_selector("#camera-map[data-markers]")
    assert server["broken_village"] in page.inner_text("#gaps")
    _shot(page, "coverage-chairman")
    page.set_viewport_size({"width": 390, "height": 844})
    _shot(page, "coverage-chairman-phone")
    context.close()


def test_sponsor_downloads_the_report(browser, server, tmp_path):
    context, page = _signed_in(browser, server, "taitro.viettel")
    page.goto(server["url"] + "/sponsor")
    _shot(page, "sponsor-portal")
    with page.expect_download() as info:
        page.click("#sponsor-pdf")
    path = tmp_path / "report.pdf"
    info.value.save_as(str(path))
    assert path.read_bytes().startswith(b"%PDF")
    context.close()
