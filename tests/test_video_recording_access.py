"""Recorded video from the attacker's side (another commune's ids: 404; a household or sponsor: 403;
nothing audited or written), the day of a camera, retention that never takes what a case holds,
and the storage quota that counts recordings (alerts and the chairman's page)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from camnet.clock import to_vn
from camnet.extensions import db
from camnet.streams import retention
from camnet.streams.models import Camera, Clip
from camnet.tenants.models import AuditEvent
from camnet.tenants.scope import system_scope
from camnet.video.segments import RecordingSegment, RecordingSetting, RecordingTrigger, storage_used

DATA = b"\x00\x00\x00\x18ftypisom" + b"segment" * 300


def camera(world, key="a", code="PB1", **kw) -> Camera:
    with system_scope():
        cam = Camera(commune_id=world.id(key), code=code, name=f"Camera {code}", status="active",
                     rtsp_main="rtsp://127.0.0.1:8554/cam1", **kw)
        db.session.add(cam)
        db.session.commit()
        return cam


def segment(app, cam, start: datetime, seconds: int = 60, **kw) -> RecordingSegment:
    key = f"{cam.commune_id}/{cam.id}/rec/{start:%Y/%m/%d/%H%M%S}.000-t.mp4"
    app.extensions["camnet.storage"].put(key, DATA, "video/mp4")
    with system_scope():
        seg = RecordingSegment(camera_id=cam.id, commune_id=cam.commune_id, started_at=start,
                               ended_at=start + timedelta(seconds=seconds), object_key=key, size=len(DATA),
                               sha256=hashlib.sha256(DATA).hexdigest(), worker="t", **kw)
        db.session.add(seg)
        db.session.commit()
        seg_id = seg.id
    seg.id = seg_id
    return seg


def counts() -> tuple:
    with system_scope():
        out = tuple(db.session.execute(select(func.count()).select_from(m)).scalar()
                    for m in (AuditEvent, Clip, RecordingSetting, RecordingTrigger, RecordingSegment))
        db.session.commit()
    return out


def test_a_day_lists_segments_gaps_and_serves_audited_segment_bytes(any_app, world, client_for):
    cam = camera(world)
    noon = datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc)  # 12:00 in Vietnam
    first = segment(any_app, cam, noon)
    segment(any_app, cam, noon + timedelta(seconds=60))
    segment(any_app, cam, noon + timedelta(minutes=10))
    client = client_for("operator_a")
    day = client.get(f"/api/v1/video/cameras/{cam.id}/recordings?day=2026-12-02")
    assert day.status_code == 200, day.get_data(as_text=True)
    d = day.get_json()
    assert [s["id"] for s in d["segments"]][0] == first.id and len(d["segments"]) == 3
    assert len(d["spans"]) == 2 and d["spans"][0]["end"] == to_vn(noon + timedelta(minutes=2)).isoformat()
    assert len(d["gaps"]) == 3  # before, between, after
    before = counts()
    media = client.get(f"/api/v1/video/segments/{first.id}/media")
    assert media.status_code == 200 and media.data == DATA and media.headers["Content-Type"] == "video/mp4"
    assert media.headers["Cache-Control"] == "private, no-store"
    with system_scope():
        row = db.session.execute(select(AuditEvent).where(AuditEvent.action == "media.playback")).scalar_one()
        assert (row.object_type, row.object_id, row.unit_id) == ("recording_segment", str(first.id), cam.commune_id)
    assert counts()[0] == before[0] + 1
    page = client.get(f"/video/cameras/{cam.id}/playback?day=2026-12-02")
    assert page.status_code == 200 and b'id="daybar"' in page.data and b"playback.js" in page.data
    assert b"<script>" not in page.data and b"style=" not in page.data  # strict CSP


def test_another_communes_ids_are_404_and_a_household_is_403_and_nothing_is_written(any_app, world, client_for):
    cam = camera(world)
    with system_scope():
        db.session.add(RecordingSetting(camera_id=cam.id, commune_id=cam.commune_id, mode="events",
                                        pre_roll_s=5, post_roll_s=5))
        db.session.commit()
    seg = segment(any_app, cam, datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc))
    export = {"start": "2026-12-02T12:00:10+07:00", "end": "2026-12-02T12:00:40+07:00", "reason": "xem trộm"}
    requests = [("get", f"/api/v1/video/cameras/{cam.id}/recordings?day=2026-12-02", None),
                ("get", f"/api/v1/video/segments/{seg.id}/media", None),
                ("post", f"/api/v1/video/cameras/{cam.id}/exports", export),
                ("post", f"/api/v1/video/cameras/{cam.id}/recording/trigger", {"seconds": 10, "reason": "thử"}),
                ("put", f"/api/v1/video/cameras/{cam.id}/recording", {"mode": "continuous"}),
                ("get", f"/video/cameras/{cam.id}/playback?day=2026-12-02", None)]
    other, household, sponsor, chairman = (client_for(u) for u in ("operator_b", "household_a", "sponsor_a",
                                                                      "chairman_a"))
    before = counts()
    for method, url, body in requests:
        resp = getattr(other, method)(url, json=body) if body is not None else getattr(other, method)(url)
        assert resp.status_code == 404, (url, resp.status_code)
    for user, client in (("household_a", household), ("sponsor_a", sponsor)):
        for method, url, body in requests:
            resp = getattr(client, method)(url, json=body) if body is not None else getattr(client, method)(url)
            assert resp.status_code == 403, (user, url, resp.status_code)
    # a chairman reads cameras but holds no video grant: no recording, no bytes
    assert chairman.get(f"/api/v1/video/segments/{seg.id}/media").status_code == 403
    assert chairman.put(f"/api/v1/video/cameras/{cam.id}/recording", json={"mode": "off"}).status_code == 403
    assert counts() == before


def test_bad_input_names_the_field_and_writes_nothing(any_app, world, client_for):
    cam = camera(world)
    nosource = camera(world, code="PB-HTTP")
    with system_scope():
        db.session.get(Camera, nosource.id).rtsp_main = None
        db.session.commit()
    client = client_for("operator_a")
    before = counts()
    cases = [("put", f"/api/v1/video/cameras/{cam.id}/recording", {"mode": "sometimes"}, "mode"),
             ("put", f"/api/v1/video/cameras/{cam.id}/recording", {"mode": "scheduled"}, "hours"),
             ("put", f"/api/v1/video/cameras/{cam.id}/recording", {"mode": "scheduled", "hours": [[25, 3]]}, "hours"),
             ("put", f"/api/v1/video/cameras/{nosource.id}/recording", {"mode": "continuous"}, "mode"),
             ("post", f"/api/v1/video/cameras/{cam.id}/recording/trigger", {"seconds": 10}, "mode"),
             ("post", f"/api/v1/video/cameras/{cam.id}/exports",
              {"start": "2026-12-02T12:00:40+07:00", "end": "2026-12-02T12:00:10+07:00", "reason": "lý do đủ"}, "end"),
             ("post", f"/api/v1/video/cameras/{cam.id}/exports",
              {"start": "2026-12-02T10:00:00+07:00", "end": "2026-12-02T12:00:10+07:00", "reason": "lý do đủ"}, "end"),
             ("post", f"/api/v1/video/cameras/{cam.id}/exports",
              {"start": "2026-12-02T12:00:00+07:00", "end": "2026-12-02T12:00:10+07:00", "reason": "lý"}, "reason"),
             ("post", f"/api/v1/video/cameras/{cam.id}/exports",
              {"start": "2026-12-02T12:00:00+07:00", "end": "2026-12-02T12:00:10+07:00", "reason": "không có gì"},
              "start")]
    for method, url, body, field in cases:
        resp = getattr(client, method)(url, json=body)
        assert 400 <= resp.status_code < 500, (body, resp.status_code)
        assert resp.get_json()["field"].startswith(field), (body, resp.get_json())
    assert counts() == before
    ok = client.put(f"/api/v1/video/cameras/{cam.id}/recording",
                    json={"mode": "scheduled", "hours": [[18, 6]], "pre_roll_s": 10})
    assert ok.status_code == 200 and ok.get_json()["hours"] == [[18, 6]]


def test_retention_deletes_old_segments_but_never_what_a_case_holds(any_app, world):
    from camnet.incidents.models import Incident, IncidentCamera, IncidentCategory
    from camnet.incidents.services import ensure_default_categories

    cam = camera(world)
    now = datetime.now(timezone.utc)
    old = now - timedelta(days=40)
    plain = segment(any_app, cam, old)
    recent = segment(any_app, cam, now - timedelta(days=2))
    hold = segment(any_app, cam, old + timedelta(minutes=5), legal_hold=True)
    under_clip = segment(any_app, cam, old + timedelta(minutes=10))
    near_case = segment(any_app, cam, old + timedelta(hours=3))
    closed_case = segment(any_app, cam, old + timedelta(hours=6))
    with system_scope():
        # an exported range attached to a case (an evidence clip) holds the segments it came from
        db.session.add(Clip(camera_id=cam.id, commune_id=cam.commune_id, status="ready", evidence=True,
                            legal_hold=True, started_at=old + timedelta(minutes=10, seconds=30), duration_s=20,
                            object_key=f"{cam.commune_id}/{cam.id}/clips/x-1.mp4"))
        ensure_default_categories()
        cat = db.session.execute(select(IncidentCategory)).scalars().first()
        for when, status in ((old + timedelta(hours=3, minutes=1), "investigating"),
                             (old + timedelta(hours=6, minutes=1), "resolved")):
            inc = Incident(commune_id=cam.commune_id, category_id=cat.id, title="Vụ thử", occurred_at=when,
                           status=status)
            db.session.add(inc)
            db.session.flush()
            db.session.add(IncidentCamera(incident_id=inc.id, camera_id=cam.id, commune_id=cam.commune_id))
        db.session.commit()
    ids = {name: s.id for name, s in (("plain", plain), ("recent", recent), ("hold", hold), ("under_clip", under_clip),
                                      ("near_case", near_case), ("closed_case", closed_case))}
    keys = {s.id: s.object_key for s in (plain, hold, under_clip, closed_case)}
    result = retention.sweep(any_app, now=now, orphans=False)
    with system_scope():
        left = set(db.session.execute(select(RecordingSegment.id)).scalars())
        db.session.commit()
    assert {n for n, i in ids.items() if i in left} == {"recent", "hold", "under_clip", "near_case"}
    assert result.as_dict()["recording_segments_deleted"] == 2
    assert left & set(ids.values()) == {ids[n] for n in ('recent', 'hold', 'under_clip', 'near_case')}  # the world has segments of its own
    store = any_app.extensions["camnet.storage"]
    assert not store.exists(keys[ids["plain"]]) and not store.exists(keys[ids["closed_case"]])
    assert store.exists(keys[ids["hold"]]) and store.exists(keys[ids["under_clip"]])


def test_the_quota_counts_recordings_and_the_chairman_is_warned_before_it_is_reached(make_app):
    from camnet.alerts.checks import check_quota
    from camnet.alerts.models import AlertEvent

    app = make_app("sqlite", {"ALERTS_QUOTA_WARN_PERCENT": 80})
    with app.app_context():
        from .world import build_world

        world = build_world(app)
        cam = camera(world)
        with system_scope():
            base = storage_used(cam.commune_id)  # the world's own snapshots and clips
            db.session.commit()
        app.config["ALERTS_STORAGE_QUOTA_GB"] = (base + 4 * len(DATA)) / 0.9 / 1024 ** 3  # 4 segments: 90 %
        client = app.test_client()
        assert client.post("/login", data={"username": "chairman_a", "password": world.password}).status_code == 302
        page = client.get(f"/coverage?commune_id={cam.commune_id}")
        assert page.status_code == 200 and b'id="storage-quota"' in page.data
        assert "Sắp hết dung lượng".encode() not in page.data
        for i in range(4):
            segment(app, cam, datetime(2026, 12, 2, 5, i, tzinfo=timezone.utc))
        with system_scope():
            assert storage_used(cam.commune_id) == base + 4 * len(DATA)
            assert check_quota(datetime.now(timezone.utc)) == 1
            db.session.commit()
            ev = db.session.execute(select(AlertEvent).where(AlertEvent.kind == "storage.quota")).scalar_one()
            assert ev.payload["used_bytes"] == base + 4 * len(DATA)
        page = client.get(f"/coverage?commune_id={cam.commune_id}")
        assert "Sắp hết dung lượng".encode() in page.data


@pytest.mark.parametrize("hours,vn_hour,inside", [([[18, 6]], 23, True), ([[18, 6]], 5, True),
                                                  ([[18, 6]], 12, False), ([[8, 17]], 8, True), ([[8, 17]], 17, False)])
def test_scheduled_hours_run_past_midnight(hours, vn_hour, inside):
    from camnet.video.recording import in_hours

    when = datetime(2026, 12, 2, vn_hour, 30, tzinfo=timezone(timedelta(hours=7)))
    assert in_hours(hours, when) is inside
