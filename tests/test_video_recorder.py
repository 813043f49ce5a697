"""Pulling footage from the commune's recorders, end to end against the RTSP simulator's recorder
mode (camsim/nvr.py), and from the attacker's side.

The simulator burns the wall-clock time of each frame into it (``camsim.timestamp``); a pull of
[start, end] must give a clip whose first frame reads ``start`` and whose last reads the last
frame before ``end``: exactly the minutes asked, for the Hikvision and Dahua URL templates and for
ONVIF replay (``Range: clock=...`` put into PLAY by the connector's relay). The simulator is
required: missing, these tests fail (conftest turns a skip into a failure in the test command).
"""
from __future__ import annotations

import hashlib
import tempfile
from datetime import datetime, timedelta, timezone

import cv2
import pytest
from sqlalchemy import func, select

from camnet.extensions import db
from camnet.streams.models import Camera, CameraConsent, Clip
from camnet.tenants.models import AuditEvent
from camnet.tenants.scope import system_scope
from camnet.video.recorder import Recorder, RecorderPull, playback_url
from camsim import timestamp
from camsim.traps import HostileCamera, Listener

from .capture_rig import allow, wait_for
from .world import build_world

FPS = 10  # the simulator's default


@pytest.fixture(scope="module")
def rtsp_sim():
    from camsim.control import start_rtsp_sim

    sim = start_rtsp_sim(port=0, n=2)  # no skip: a missing simulator fails
    yield sim
    sim.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def rec_app(request, make_app, rtsp_sim):
    app = make_app(request.param, allow(rtsp_sim.port))
    with app.app_context():
        yield app


def login(world, username: str):
    from flask import current_app

    client = current_app.test_client()
    resp = client.post("/login", data={"username": username, "password": world.password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client


def add_camera(world, key="a", code="NVRCAM", recorder="NVR-1", channel=1, **kw) -> int:
    with system_scope():
        cam = Camera(commune_id=world.id(key), code=code, name=f"Camera {code}", status="active",
                     recorder=recorder, channel=channel, **kw)
        db.session.add(cam)
        db.session.commit()
        return cam.id


def counts() -> tuple:
    with system_scope():
        out = tuple(db.session.execute(select(func.count()).select_from(m)).scalar()
                    for m in (AuditEvent, Clip, Recorder, RecorderPull))
        db.session.commit()
    return out


def register(client, world, family: str, url: str, key="a", name="NVR-1"):
    resp = client.post("/api/v1/video/recorders", json={
        "commune_id": world.id(key), "name": name, "family": family, "url": url,
        "username": "admin", "password": "Mk-dau-ghi-1"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert "password" not in resp.get_json() and "password_enc" not in resp.get_json()
    return resp.get_json()


def frame_times(data: bytes) -> tuple[float | None, float | None, int]:
    with tempfile.NamedTemporaryFile(suffix=".mp4") as fh:
        fh.write(data)
        fh.flush()
        cap = cv2.VideoCapture(fh.name)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, first = cap.read()
        last, last_ok = first, ok
        while True:  # read to the end: seeking by frame index is not exact for every stream
            ok, frame = cap.read()
            if not ok:
                break
            last = frame
        cap.release()
    return (timestamp.decode(first) if last_ok else None), timestamp.decode(last), n


@pytest.mark.parametrize("family", ["hikvision", "dahua", "onvif"])
def test_a_pull_returns_exactly_the_minutes_asked(rec_app, rtsp_sim, family):
    world = build_world(rec_app)
    cam_id = add_camera(world)
    operator = login(world, "operator_a")
    url = f"rtsp://127.0.0.1:{rtsp_sim.port}" + ("/onvif/replay/{channel}" if family == "onvif" else "")
    register(operator, world, family, url)
    # minutes M1-M2 of yesterday, Vietnam time 22:10-22:12
    start = datetime(2026, 12, 2, 15, 10, tzinfo=timezone.utc)
    end = start + timedelta(minutes=2)
    resp = operator.post(f"/api/v1/video/cameras/{cam_id}/recorder-pulls", json={
        "start": "2026-12-02T22:10:00+07:00", "end": "2026-12-02T22:12:00+07:00",
        "reason": "trộm xe ở cổng chợ"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    pull = resp.get_json()
    assert (pull["status"], pull["seconds_asked"], pull["family"], pull["channel"]) == \
        ("pending", 120, family, 1)

    def done():
        got = operator.get(f"/api/v1/video/recorder-pulls/{pull['id']}").get_json()
        return got if got["status"] in ("ready", "failed") else None

    got = wait_for(done, 120, 0.2, "the pull to finish")
    assert got["status"] == "ready", got
    assert got["progress"] == 1.0 and got["seconds_fetched"] == pytest.approx(120, abs=0.2)
    with system_scope():
        clip = db.session.get(Clip, got["clip_id"])
        data = rec_app.extensions["camnet.storage"].get(clip.object_key)
        assert (clip.status, clip.camera_id, clip.commune_id) == ("ready", cam_id, world.id("a"))
        assert clip.sha256 == hashlib.sha256(data).hexdigest() and clip.size == len(data)
        assert clip.object_key.startswith(f"{world.id('a')}/{cam_id}/clips/2026/12/02/151000-")
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "recorder.pull")).scalar_one()
        assert (event.reason, event.object_id, event.unit_id) == ("trộm xe ở cổng chợ", str(pull["id"]),
                                                                   world.id("a"))
        db.session.commit()
    first, last, frames = frame_times(data)
    assert first == start.timestamp(), datetime.fromtimestamp(first or 0, timezone.utc)
    assert last == end.timestamp() - 1 / FPS, datetime.fromtimestamp(last or 0, timezone.utc)
    assert frames == 120 * FPS
    # the clip is downloaded through the clip flow that exists (audited there)
    assert operator.get(got["download"]).status_code == 302


def test_playback_urls_of_each_family(app):
    rec = Recorder(commune_id=1, name="N", family="hikvision", url="rtsp://10.1.2.3:554")
    start = datetime(2026, 12, 3, 3, 10, tzinfo=timezone.utc)  # 10:10 in Vietnam
    end = start + timedelta(minutes=10)
    assert playback_url(rec, 3, start, end) == \
        "rtsp://10.1.2.3:554/Streaming/tracks/301?starttime=20261203T031000Z&endtime=20261203T032000Z"
    rec.family = "dahua"
    assert playback_url(rec, 3, start, end) == ("rtsp://10.1.2.3:554/cam/playback?channel=3&subtype=0"
                                                "&starttime=2026_12_03_10_10_00&endtime=2026_12_03_10_20_00")
    rec.family, rec.url = "onvif", "rtsp://10.1.2.3/onvif-media/replay?ch={channel}"
    assert playback_url(rec, 3, start, end) == "rtsp://10.1.2.3:554/onvif-media/replay?ch=3"


def test_another_communes_ids_are_404_a_household_or_sponsor_403_and_nothing_is_written(rec_app, rtsp_sim):
    world = build_world(rec_app)
    cam_id = add_camera(world)
    operator = login(world, "operator_a")
    register(operator, world, "hikvision", f"rtsp://127.0.0.1:{rtsp_sim.port}")
    ok = operator.post(f"/api/v1/video/cameras/{cam_id}/recorder-pulls", json={
        "start": "2026-12-02T22:10:00+07:00", "end": "2026-12-02T22:10:05+07:00", "reason": "kiểm tra đầu ghi"})
    assert ok.status_code == 202
    pull_id = ok.get_json()["id"]
    wait_for(lambda: operator.get(f"/api/v1/video/recorder-pulls/{pull_id}").get_json()["status"]
             in ("ready", "failed"), 60, 0.2, "the pull to finish")
    body = {"start": "2026-12-02T22:10:00+07:00", "end": "2026-12-02T22:11:00+07:00", "reason": "xem trộm camera"}
    requests = [("post", f"/api/v1/video/cameras/{cam_id}/recorder-pulls", body),
                ("get", f"/api/v1/video/cameras/{cam_id}/recorder-pulls", None),
                ("get", f"/api/v1/video/recorder-pulls/{pull_id}", None),
                ("get", f"/video/cameras/{cam_id}/recorder", None)]
    other, household, sponsor, chairman = (login(world, u) for u in ("operator_b", "household_a", "sponsor_a",
                                                                     "chairman_a"))
    before = counts()  # after signing in (that is audited too)
    for method, url, payload in requests:
        resp = other.post(url, json=payload) if method == "post" else other.get(url)
        assert resp.status_code == 404, (url, resp.status_code)
    # a recorder registered in another commune, and one's list read from there
    resp = other.post("/api/v1/video/recorders", json={"commune_id": world.id("a"), "name": "NVR-X",
                                                       "family": "dahua", "url": f"rtsp://127.0.0.1:{rtsp_sim.port}"})
    assert resp.status_code == 404
    assert other.get(f"/api/v1/video/recorders?unit_id={world.id('a')}").status_code == 404
    for user, client in (("household_a", household), ("sponsor_a", sponsor)):
        for method, url, payload in requests:
            resp = client.post(url, json=payload) if method == "post" else client.get(url)
            assert resp.status_code == 403, (user, url, resp.status_code)
    # a chairman reads cameras but holds no video grant
    assert chairman.post(requests[0][1], json=body).status_code == 403
    assert chairman.get(requests[2][1]).status_code == 403
    assert counts() == before


def test_bad_input_names_the_field_and_writes_nothing(rec_app, rtsp_sim):
    world = build_world(rec_app)
    cam_id = add_camera(world)
    bare = add_camera(world, code="NOREC", recorder=None, channel=None)
    unknown = add_camera(world, code="UNREG", recorder="NVR-9", channel=2)
    operator = login(world, "operator_a")
    register(operator, world, "hikvision", f"rtsp://127.0.0.1:{rtsp_sim.port}")
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    later = (datetime.now(timezone.utc) + timedelta(hours=1, minutes=1)).isoformat()
    url = f"/api/v1/video/cameras/{cam_id}/recorder-pulls"
    cases = [(url, {"start": "2026-12-02T22:10:00+07:00", "end": "2026-12-02T22:11:00+07:00", "reason": "lý"},
              422, "reason"),
             (url, {"start": "2026-12-02T22:11:00+07:00", "end": "2026-12-02T22:10:00+07:00",
                    "reason": "lý do đủ dài"}, 422, "end"),
             (url, {"start": "2026-12-02T20:00:00+07:00", "end": "2026-12-02T22:10:00+07:00",
                    "reason": "lý do đủ dài"}, 422, "end"),
             (url, {"start": future, "end": later, "reason": "lý do đủ dài"}, 422, "end"),
             (url, {"start": "hôm qua", "end": "2026-12-02T22:10:00+07:00", "reason": "lý do đủ dài"}, 422, "start"),
             (f"/api/v1/video/cameras/{bare}/recorder-pulls", {"start": "2026-12-02T22:10:00+07:00",
              "end": "2026-12-02T22:11:00+07:00", "reason": "lý do đủ dài"}, 409, "camera_id"),
             (f"/api/v1/video/cameras/{unknown}/recorder-pulls", {"start": "2026-12-02T22:10:00+07:00",
              "end": "2026-12-02T22:11:00+07:00", "reason": "lý do đủ dài"}, 409, "recorder"),
             ("/api/v1/video/recorders", {"commune_id": world.id("a"), "name": "NVR-2", "family": "hikvision",
              "url": "rtsp://169.254.169.254/"}, 422, "url"),
             ("/api/v1/video/recorders", {"commune_id": world.id("a"), "name": "NVR-2", "family": "axis",
              "url": f"rtsp://127.0.0.1:{rtsp_sim.port}"}, 422, "family"),
             ("/api/v1/video/recorders", {"commune_id": world.id("a"), "name": "NVR-1", "family": "dahua",
              "url": f"rtsp://127.0.0.1:{rtsp_sim.port}"}, 409, "name")]
    before = counts()
    for path, body, status, field in cases:
        resp = operator.post(path, json=body)
        assert resp.status_code == status, (body, resp.get_data(as_text=True))
        assert field in resp.get_data(as_text=True), (field, resp.get_data(as_text=True))
    assert counts() == before


def test_a_shared_camera_gives_footage_only_as_its_owner_agreed(rec_app, rtsp_sim):
    world = build_world(rec_app)
    cam_id = add_camera(world, code="HH1", ownership="household", owner_name="Hộ ông B")
    with system_scope():
        db.session.add(CameraConsent(camera_id=cam_id, commune_id=world.id("a"), shares="snapshots",
                                     granted_by="Hộ ông B", since=datetime(2026, 1, 1).date()))
        db.session.commit()
    operator = login(world, "operator_a")
    register(operator, world, "hikvision", f"rtsp://127.0.0.1:{rtsp_sim.port}")
    before = counts()
    resp = operator.post(f"/api/v1/video/cameras/{cam_id}/recorder-pulls", json={
        "start": "2026-12-02T22:10:00+07:00", "end": "2026-12-02T22:11:00+07:00", "reason": "xem video hộ dân"})
    assert resp.status_code == 403, resp.get_data(as_text=True)
    assert counts() == before


def test_a_recorder_that_redirects_is_refused_and_the_target_never_reached(make_app):
    listener = Listener()
    hostile = HostileCamera(rtsp_to=f"rtsp://127.0.0.1:{listener.port}/Streaming/tracks/101")
    hostile.start()
    listener.start()
    try:
        app = make_app("sqlite", allow(hostile.port))
        with app.app_context():
            world = build_world(app)
            cam_id = add_camera(world)
            operator = login(world, "operator_a")
            register(operator, world, "hikvision", f"rtsp://127.0.0.1:{hostile.port}")
            clips = counts()[1]
            resp = operator.post(f"/api/v1/video/cameras/{cam_id}/recorder-pulls", json={
                "start": "2026-12-02T22:10:00+07:00", "end": "2026-12-02T22:11:00+07:00",
                "reason": "đầu ghi lạ chuyển hướng"})
            assert resp.status_code == 202
            pull_id = resp.get_json()["id"]
            got = wait_for(lambda: (lambda g: g if g["status"] in ("ready", "failed") else None)(
                operator.get(f"/api/v1/video/recorder-pulls/{pull_id}").get_json()), 60, 0.2, "the pull to end")
            assert got["status"] == "failed" and "redirect refused" in got["error"], got
            assert got["clip_id"] is None
            assert hostile.requests and not listener.contacted
            assert counts()[1] == clips  # no clip written
    finally:
        hostile.stop()
        listener.stop()


def test_the_page_shows_the_form_and_progress_bars_under_a_strict_csp(rec_app, rtsp_sim):
    world = build_world(rec_app)
    cam_id = add_camera(world)
    operator = login(world, "operator_a")
    page = operator.get(f"/video/cameras/{cam_id}/recorder")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="rec-form"' in html and "video/recorder.js" in html and "NVR-1" in html
    assert "<script>" not in html and "style=" not in html


def test_the_time_pattern_reads_back_exactly_or_not_at_all():
    import numpy as np

    t = 1796292600.3  # 2026-12-03 10:10:00.300 UTC
    rng = np.random.default_rng(7)
    frame = timestamp.encode(rng.integers(0, 255, (360, 640, 3), dtype=np.uint8), t)
    assert timestamp.decode(frame) == t
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 30])
    assert timestamp.decode(cv2.imdecode(jpeg, cv2.IMREAD_COLOR)) == t  # lossy, then scaled
    assert timestamp.decode(cv2.resize(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), (1280, 720))) == t
    plane = bytearray(640 * 360 * 3 // 2)  # the simulator's path: an I420 buffer, no numpy
    timestamp.encode_plane(plane, 640, 360, t)
    assert timestamp.decode(np.frombuffer(bytes(plane[:640 * 360]), np.uint8).reshape(360, 640)) == t
    damaged = frame.copy()
    damaged[: timestamp.strip_height(640), 100:110] = 255 - damaged[: timestamp.strip_height(640), 100:110]
    assert timestamp.decode(damaged) is None  # a flipped bit fails the CRC: no wrong time
    assert timestamp.decode(rng.integers(0, 255, (360, 640), dtype=np.uint8)) is None
