"""Recording: the recorder loop of the capture worker records the RTSP simulator into hashed,
indexed, contiguous fragmented-MP4 segments in S3; on events only what an event claims (with its
pre-roll) is kept; a range export is one MP4 of the asked duration that becomes incident evidence."""
from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from camnet.capture.cameras import load_cameras
from camnet.extensions import db
from camnet.streams.models import Clip
from camnet.tenants.models import AuditEvent
from camnet.tenants.scope import system_scope
from camnet.video.recording import Recorder
from camnet.video.segments import RecordingSegment, RecordingSetting
from camsim.control import start_rtsp_sim

from .capture_rig import add_camera, allow, in_process_worker, wait_for
from .world import build_world


@pytest.fixture(scope="module")
def rtsp_sim():
    sim = start_rtsp_sim(port=0, n=2)  # a missing simulator fails the test: never skipped
    yield sim
    sim.stop()


def probe(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def recording_app(make_app, live_services, sim, backend="sqlite", s3=True, **extra):
    config = {**allow(sim.port), "RECORDING_SEGMENT_SECONDS": 2, "RECORDING_POLL_SECONDS": 0.3, **extra}
    if s3:
        config.update({"S3_ENDPOINT": live_services["CAMNET_TEST_S3"], "S3_BUCKET": f"rec-{uuid.uuid4().hex[:12]}"})
    return make_app(backend, config)


def set_mode(camera, mode: str, **kw) -> None:
    with system_scope():
        db.session.add(RecordingSetting(camera_id=camera.id, commune_id=camera.commune_id, mode=mode,
                                        pre_roll_s=kw.get("pre", 30), post_roll_s=kw.get("post", 60),
                                        hours=kw.get("hours")))
        db.session.commit()


def segment_rows(camera_id: int) -> list[RecordingSegment]:
    with system_scope():
        rows = list(db.session.execute(select(RecordingSegment).where(RecordingSegment.camera_id == camera_id)
                                       .order_by(RecordingSegment.started_at)).scalars())
        db.session.commit()
    return rows


def run_recorder(app, until, timeout: float = 90) -> Recorder:
    """Tick the recorder of an in-process worker until ``until(recorder)`` holds, then stop it."""
    worker = in_process_worker(app)
    with system_scope():
        worker.cameras = load_cameras()
        db.session.commit()
    rec = Recorder(worker)
    try:
        wait_for(lambda: (rec.tick(), until(rec))[1], timeout, interval=0.3, what="recording")
    finally:
        rec.stop_all()
    return rec


def aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def test_continuous_recording_stores_hashed_contiguous_segments_in_s3(make_app, live_services, rtsp_sim, tmp_path):
    app = recording_app(make_app, live_services, rtsp_sim)
    with app.app_context():
        world = build_world(app)
        cam = add_camera(world.id("a"), "REC1", rtsp_main=rtsp_sim.url(1))
        idle = add_camera(world.id("a"), "REC-OFF", rtsp_main=rtsp_sim.url(2))  # mode off: nothing
        set_mode(cam, "continuous")
        run_recorder(app, lambda rec: len(segment_rows(cam.id)) >= 3)
        rows = segment_rows(cam.id)
        assert len(rows) >= 3 and segment_rows(idle.id) == []
        store = app.extensions["camnet.storage"]
        assert store.kind == "s3"
        for row in rows:
            data = store.get(row.object_key)
            assert (row.size, row.sha256) == (len(data), hashlib.sha256(data).hexdigest())
            assert row.object_key.startswith(f"{cam.commune_id}/{cam.id}/rec/")
            assert row.commune_id == cam.commune_id and row.worker
        for before, after in zip(rows, rows[1:], strict=False):  # one run: segments meet exactly
            assert abs((aware(after.started_at) - aware(before.ended_at)).total_seconds()) < 0.05
        path = tmp_path / "seg.mp4"
        path.write_bytes(store.get(rows[1].object_key))
        info = probe(path)
        video = [s for s in info["streams"] if s["codec_type"] == "video"]
        assert [s["codec_name"] for s in info["streams"]] == ["h264"]  # stream copy, video only
        assert video[0]["width"] == 640
        assert abs(float(info["format"]["duration"]) - rows[1].duration) < 0.3
        head = path.read_bytes()[:4096]
        assert b"moof" in path.read_bytes() and b"mvex" in head  # fragmented MP4


def test_on_events_only_an_event_keeps_video_with_its_pre_roll(make_app, live_services, rtsp_sim):
    app = recording_app(make_app, live_services, rtsp_sim, s3=False)
    with app.app_context():
        world = build_world(app)
        cam = add_camera(world.id("a"), "REC-EV", rtsp_main=rtsp_sim.url(1))
        set_mode(cam, "events", pre=3, post=2)
        # no event: segments pass through the local buffer and are dropped
        rec = run_recorder(app, lambda r: r.dropped >= 2)
        assert segment_rows(cam.id) == [] and rec.uploaded == 0
        client = app.test_client()
        assert client.post("/login", data={"username": "operator_a", "password": world.password}).status_code == 302
        pressed = {}

        def press_once(r):
            if not pressed and r.dropped >= 1:  # the buffer holds pre-roll by now
                resp = client.post(f"/api/v1/video/cameras/{cam.id}/recording/trigger",
                                   json={"seconds": 2, "reason": "kiểm tra nút ghi"})
                assert resp.status_code == 201, resp.get_data(as_text=True)
                pressed["at"] = datetime.fromisoformat(resp.get_json()["at"])
            return pressed and any(aware(s.ended_at) > pressed["at"] + timedelta(seconds=4)
                                   for s in segment_rows(cam.id))

        run_recorder(app, press_once)
        rows = segment_rows(cam.id)
        assert rows and min(aware(s.started_at) for s in rows) < pressed["at"]  # pre-roll kept
        with system_scope():
            assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "recording.trigger")).scalar() == 1


def test_a_range_export_is_one_mp4_of_the_asked_duration_attached_as_evidence(make_app, live_services, rtsp_sim,
                                                                              tmp_path):
    from camnet.incidents.evidence import custody_log
    from camnet.incidents.models import Incident, IncidentCategory, IncidentEvidence

    app = recording_app(make_app, live_services, rtsp_sim, s3=False)
    with app.app_context():
        world = build_world(app)
        cam = add_camera(world.id("a"), "REC-EX", rtsp_main=rtsp_sim.url(1))
        set_mode(cam, "continuous")
        run_recorder(app, lambda rec: len(segment_rows(cam.id)) >= 5)
        rows = segment_rows(cam.id)
        start = aware(rows[0].started_at) + timedelta(seconds=1)
        end = start + timedelta(seconds=5)  # crosses two segment boundaries
        with system_scope():
            from camnet.incidents.services import ensure_default_categories

            ensure_default_categories()
            cat = db.session.execute(select(IncidentCategory)).scalars().first()
            inc = Incident(commune_id=cam.commune_id, category_id=cat.id, title="Trộm xe thử",
                           occurred_at=start, status="open")
            db.session.add(inc)
            db.session.commit()
            inc_id = inc.id
        client = app.test_client()
        assert client.post("/login", data={"username": "operator_a", "password": world.password}).status_code == 302
        resp = client.post(f"/api/v1/video/cameras/{cam.id}/exports",
                           json={"start": start.isoformat(), "end": end.isoformat(), "reason": "trích xuất vụ trộm",
                                 "incident_id": inc_id})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        out = resp.get_json()
        with system_scope():
            clip = db.session.get(Clip, out["id"])
            data = app.extensions["camnet.storage"].get(clip.object_key)
            assert (clip.status, clip.sha256, clip.size) == ("ready", hashlib.sha256(data).hexdigest(), len(data))
            assert clip.evidence and clip.legal_hold
            path = tmp_path / "export.mp4"
            path.write_bytes(data)
            duration = float(probe(path)["format"]["duration"])
            assert abs(duration - 5.0) <= 1.1, duration  # stream copy: from the keyframe before start (1 s)
            ev = db.session.execute(select(IncidentEvidence).where(IncidentEvidence.incident_id == inc_id)).scalar_one()
            assert (ev.kind, ev.clip_id) == ("clip", clip.id)
            actions = [e["action"] for e in custody_log(db.session.get(Incident, inc_id))]
            assert "recording.export" in actions and "incident.evidence.add" in actions
        download = client.get(f"/api/v1/clips/{clip.id}/download")
        assert download.status_code == 302
