"""Viewing: who may see media, the audit row written before it leaves, presigned S3 links, live view,
clips, evidence, fault tickets and uptime."""
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from camnet.extensions import db
from camnet.streams.models import Camera, CameraConsent, CameraUptimeDay, Clip
from camnet.tenants.models import AuditEvent, RoleGrant
from camnet.tenants.scope import system_scope

from .world import build_world
from .world_streams import jpeg_bytes


def _audits(action_prefix="media."):
    with system_scope():
        rows = db.session.execute(select(AuditEvent).where(AuditEvent.action.startswith(action_prefix))
                                  .order_by(AuditEvent.id)).scalars().all()
        db.session.expunge_all()
        return rows


def _fetch(client, url):
    resp = client.get(url)
    if resp.status_code == 302:
        return resp, client.get(resp.headers["Location"])
    return resp, None


def test_operator_and_police_view_a_snapshot_and_every_view_is_audited_with_reason(app, world, client_for):
    snap = world.extra["snapshot"]["a"][0]
    for user in ("operator_a", "police_dist", "police_prov", "admin"):
        before = len(_audits())
        resp, media = _fetch(client_for(user), f"/api/v1/snapshots/{snap.id}/download?reason=Xác minh vụ trộm")
        assert resp.status_code == 302 and media.status_code == 200, user
        assert media.data == jpeg_bytes() and media.mimetype == "image/jpeg"
        rows = _audits()
        assert len(rows) == before + 1
        assert rows[-1].object_type == "snapshot" and rows[-1].object_id == str(snap.id)
        assert rows[-1].reason == "Xác minh vụ trộm" and rows[-1].actor_name == user


def test_roles_without_video_get_403_and_foreign_media_404(app, world, client_for):
    snap = world.extra["snapshot"]["a"][0]
    cam = world.streams["a"]["camera"]
    before = len(_audits())
    for user in ("sponsor_a", "household_a", "chairman_a", "technician_a", "nobody_a"):
        client = client_for(user)
        assert client.get(f"/api/v1/snapshots/{snap.id}/download").status_code == 403, user
        assert client.get(f"/api/v1/cameras/{cam.id}/live?frames=1").status_code == 403, user
        assert client.get("/wall").status_code == 403, user
    foreign = world.extra["snapshot"]["b"][0]
    assert client_for("operator_a").get(f"/api/v1/snapshots/{foreign.id}/download").status_code == 404
    assert client_for("police_dist2").get(f"/api/v1/snapshots/{snap.id}/download").status_code == 404
    assert len(_audits()) == before


def test_chairman_with_video_grant_may_view(app, world, client_for):
    with system_scope():
        db.session.add(RoleGrant(user_id=world.users["chairman_a"].id, role="video", unit_id=world.id("a")))
        db.session.commit()
    snap = world.extra["snapshot"]["a"][0]
    resp, media = _fetch(client_for("chairman_a"), f"/api/v1/snapshots/{snap.id}/download")
    assert media.status_code == 200 and _audits()[-1].actor_name == "chairman_a"


def test_signed_local_link_is_required_and_expires(app, world, client_for):
    snap = world.extra["snapshot"]["a"][0]
    resp = client_for("operator_a").get(f"/api/v1/snapshots/{snap.id}/download")
    link = resp.headers["Location"]
    anonymous = app.test_client()
    assert anonymous.get(link).status_code == 200  # the signature is the permission, like a presigned URL
    assert anonymous.get(link.replace("s=", "s=1")).status_code == 404
    store = app.extensions["camnet.storage"]
    expired = f"/media/o/{snap.object_key}?s={store.sign(snap.object_key, -10)}"
    assert anonymous.get(expired).status_code == 404
    until = int(parse_qs(urlsplit(link).query)["s"][0].split(":")[0])
    assert until - datetime.now(timezone.utc).timestamp() <= 300


def test_on_request_camera_needs_a_reason(app, world, client_for):
    shared = world.streams["a"]["shared"]
    with system_scope():
        k = db.session.execute(select(CameraConsent).where(CameraConsent.camera_id == shared.id)).scalar_one()
        k.shares = "on_request"
        db.session.commit()
    from .world_streams import add_snapshot
    with system_scope():
        snap_id = add_snapshot(db.session.get(Camera, shared.id), datetime.now(timezone.utc)).id
        db.session.commit()
    client = client_for("operator_a")
    resp = client.get(f"/api/v1/snapshots/{snap_id}/download")
    assert resp.status_code == 422 and resp.get_json()["field"] == "reason"
    resp = client.get(f"/api/v1/snapshots/{snap_id}/download?reason=CV 12/CAX yêu cầu trích xuất")
    assert resp.status_code == 302 and _audits()[-1].reason == "CV 12/CAX yêu cầu trích xuất"


def test_live_view_replays_snapshots_as_mjpeg_and_is_audited(app, world, client_for):
    from .world_streams import add_snapshot

    cam = world.streams["a"]["camera"]
    client = client_for("operator_a")
    # the world's snapshot is minutes old: no live picture to replay
    assert client.get(f"/api/v1/cameras/{cam.id}/live?frames=1").status_code == 409
    with system_scope():
        add_snapshot(db.session.get(Camera, cam.id), datetime.now(timezone.utc))
        db.session.commit()
    resp = client.get(f"/api/v1/cameras/{cam.id}/live?frames=2&fps=10&reason=trực ban")
    assert resp.status_code == 200 and resp.mimetype == "multipart/x-mixed-replace"
    body = resp.get_data()
    assert body.count(b"--camnetlive") == 2 and jpeg_bytes() in body
    assert b"10.0.0.5" not in body
    row = _audits()[-1]
    assert row.action == "media.live" and row.reason == "trực ban" and row.object_id == str(cam.id)


def test_live_view_proxies_a_camera_mjpeg_stream_without_revealing_it(app, world, client_for):
    from camsim.http_camera import HttpCameraSim

    sim = HttpCameraSim(port=0)
    port = sim.start()
    try:
        app.config["CAMERA_ALLOWED_NETWORKS"] = [f"127.0.0.1:{port}"]
        client = client_for("operator_a")
        cam_id = client.post("/api/v1/cameras", json={
            "commune_id": world.id("a"), "code": "MJ-1", "name": "Cổng UBND", "status": "active",
            "mjpeg_url": f"http://127.0.0.1:{port}/cam/MJ-1/mjpeg?fps=5&w=160&h=90",
            "username": "admin", "password": "mat-khau-camera"}).get_json()["id"]
        resp = client.get(f"/api/v1/cameras/{cam_id}/live?frames=2")
        assert resp.status_code == 200 and resp.mimetype == "multipart/x-mixed-replace"
        body = resp.get_data()
        assert b"\xff\xd8" in body and str(port).encode() not in body and b"mat-khau" not in body
        assert _audits()[-1].action == "media.live"
    finally:
        sim.stop()


def test_clip_request_download_and_evidence(app, world, client_for):
    cam = world.streams["a"]["camera"]
    client = client_for("operator_a")
    assert client.post(f"/api/v1/cameras/{cam.id}/clips", json={"seconds": 301}).status_code == 422
    resp = client.post(f"/api/v1/cameras/{cam.id}/clips", json={"reason": "vụ va chạm"})
    assert resp.status_code == 201 and resp.get_json()["status"] == "pending"
    assert resp.get_json()["duration_s"] == 30
    pending = resp.get_json()["id"]
    assert client.get(f"/api/v1/clips/{pending}/download").status_code == 409
    ready = world.extra["clip"]["a"][0]
    resp, media = _fetch(client, f"/api/v1/clips/{ready.id}/download?reason=trích xuất")
    assert media.status_code == 200 and media.data.startswith(b"\x00\x00\x00\x18ftyp")
    assert _audits()[-1].object_type == "clip" and _audits()[-1].reason == "trích xuất"
    resp = client.post(f"/api/v1/clips/{ready.id}/evidence", json={"evidence": True})
    assert resp.status_code == 200 and resp.get_json()["evidence"] and resp.get_json()["legal_hold"]
    snap = world.extra["snapshot"]["a"][0]
    assert client.post(f"/api/v1/snapshots/{snap.id}/evidence", json={"evidence": True}).get_json()["evidence"]
    assert client_for("technician_a").post(f"/api/v1/clips/{ready.id}/evidence",
                                           json={"evidence": False}).status_code == 403


def test_presigned_s3_link_works_and_lives_at_most_300_seconds(make_app, live_services):
    app = make_app("sqlite", {"S3_ENDPOINT": live_services["CAMNET_TEST_S3"],
                              "S3_BUCKET": "t-" + uuid.uuid4().hex[:12]})
    with app.app_context():
        world = build_world(app)
        client = app.test_client()
        client.post("/login", data={"username": "operator_a", "password": world.password})
        snap = world.extra["snapshot"]["a"][0]
        resp = client.get(f"/api/v1/snapshots/{snap.id}/download?reason=kiểm tra")
        assert resp.status_code == 302
        url = resp.headers["Location"]
        assert url.startswith(live_services["CAMNET_TEST_S3"])
        assert int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]) <= 300
        with urllib.request.urlopen(url, timeout=10) as fetched:
            assert fetched.read() == jpeg_bytes()
        assert _audits()[-1].reason == "kiểm tra"
        clip = world.extra["clip"]["a"][0]
        resp = client.post(f"/api/v1/clips/{clip.id}/evidence", json={"evidence": True})
        assert resp.status_code == 200 and resp.get_json()["legal_hold"]
        store = app.extensions["camnet.storage"]
        assert store.client.is_object_legal_hold_enabled(store.bucket, clip.object_key)
        with system_scope():
            assert db.session.get(Clip, clip.id).legal_hold


def test_history_is_paged_by_time_and_latest_per_camera(app, world, client_for):
    from .world_streams import add_snapshot

    cam = world.streams["a"]["camera"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with system_scope():
        c = db.session.get(Camera, cam.id)
        for i in range(5):
            add_snapshot(c, now - timedelta(minutes=10 + i))
        newest = add_snapshot(c, now)
        db.session.commit()
        newest_id = newest.id
    client = client_for("operator_a")
    page = client.get(f"/api/v1/cameras/{cam.id}/snapshots?limit=4").get_json()
    assert len(page["items"]) == 4 and page["items"][0]["id"] == newest_id and page["next_before"]
    rest = client.get(f"/api/v1/cameras/{cam.id}/snapshots", query_string={"limit": 4, "before": page["next_before"]}).get_json()
    assert len(rest["items"]) == 3 and rest["next_before"] is None
    latest = {r["camera_id"]: r for r in client.get("/api/v1/cameras/latest").get_json()}
    assert latest[cam.id]["snapshot"]["id"] == newest_id
    assert world.streams["b"]["camera"].id not in latest
    before = len(_audits())
    wall = client.get("/wall").get_data(as_text=True)
    assert f"/api/v1/snapshots/{newest_id}/download" in wall and "wall.js" in wall
    assert "Camera wall" in client.get("/wall?lang=en").get_data(as_text=True)
    assert len(_audits()) == before  # the page itself sends no media; each picture fetch is audited
    assert client.get(f"/cameras/{cam.id}/history").status_code == 200
    assert client.get("/static/video/wall.js").status_code == 200


def test_technician_sees_fault_tickets_with_audited_evidence_and_closes_them(app, world, client_for):
    ticket = world.extra["ticket"]["a"][0]
    tech = client_for("technician_a")
    rows = tech.get("/api/v1/faults").get_json()
    assert [r["id"] for r in rows] == [ticket.id] and rows[0]["evidence"]
    resp, media = _fetch(tech, rows[0]["evidence"])
    assert media.status_code == 200 and media.data == jpeg_bytes()
    row = _audits()[-1]
    assert row.actor_name == "technician_a" and "fault_ticket" in (row.detail or {}).get("via", "")
    assert tech.post(f"/api/v1/faults/{world.extra['ticket']['b'][0].id}/close", json={"note": "x"}).status_code == 404
    assert client_for("operator_a").post(f"/api/v1/faults/{ticket.id}/close", json={"note": "x"}).status_code == 403
    resp = tech.post(f"/api/v1/faults/{ticket.id}/close", json={"note": "Đã thay bộ nguồn"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "closed"
    assert tech.get("/api/v1/faults").get_json() == []
    assert tech.get("/api/v1/faults?status=closed").get_json()[0]["close_note"] == "Đã thay bộ nguồn"
    assert "Đã thay bộ nguồn" in tech.get("/faults?status=closed").get_data(as_text=True)
    assert client_for("sponsor_a").get("/api/v1/faults").status_code == 403


def test_uptime_per_day(app, world, client_for):
    cam = world.streams["a"]["camera"]
    today = datetime.now(timezone.utc).date()
    with system_scope():
        db.session.add_all([
            CameraUptimeDay(camera_id=cam.id, commune_id=cam.commune_id, day=today, checks=100, ok=90),
            CameraUptimeDay(camera_id=cam.id, commune_id=cam.commune_id, day=today - timedelta(days=1),
                            checks=1440, ok=1440)])
        db.session.commit()
    body = client_for("technician_a").get(f"/api/v1/cameras/{cam.id}/uptime?days=7").get_json()
    assert len(body["days"]) == 7 and body["days"][-1] == {"day": today.isoformat(), "checks": 100, "ok": 90,
                                                           "uptime": 0.9}
    assert body["checks"] == 1540 and body["uptime"] == round(1530 / 1540, 4)
    assert client_for("technician_a").get(f"/api/v1/cameras/{cam.id}/uptime?days=0").status_code == 422
