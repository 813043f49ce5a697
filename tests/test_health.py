"""Health rules: each with frames that trip it and frames that must not, then end to end through the simulators."""
from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from camnet.extensions import db
from camsim.http_camera import render_frame
from camnet.capture.health import CameraHealthState, HealthSettings, judge, reference_of
from camnet.streams.models import Camera, CameraUptimeDay, FaultTicket
from camnet.tenants.scope import system_scope

from .capture_rig import add_camera, allow, capture_now, in_process_worker

CFG = HealthSettings()


def small(img):
    """The 1/4 grayscale copy the worker judges (as decoded with IMREAD_REDUCED_GRAYSCALE_4)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return cv2.imdecode(buf, cv2.IMREAD_REDUCED_GRAYSCALE_4)


def verdict(img, state=None):
    s = small(img)
    return judge(s, hashlib.sha256(s.tobytes()).hexdigest(), state or CameraHealthState(), CFG)[0]


def street(i=0, look=0):
    return render_frame(look, 640, 360, i % 8)


def test_street_scene_is_ok():
    assert verdict(street()) == "ok"


def test_dark_frame_trips_dark_but_a_dim_street_does_not():
    assert verdict(np.zeros((360, 640, 3), np.uint8)) == "dark"
    assert verdict(np.full((360, 640, 3), 8, np.uint8)) == "dark"
    dim = (street().astype(np.float32) * 0.35).astype(np.uint8)  # dusk: dark but with detail
    assert verdict(dim) == "ok"


def test_uniform_grey_trips_covered_but_a_plain_wall_with_texture_does_not():
    rng = np.random.default_rng(1)
    covered = np.clip(60 + rng.normal(0, 1.0, (360, 640, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
    assert verdict(covered) == "covered"
    assert verdict(np.full((360, 640, 3), 200, np.uint8)) == "covered"  # blank "no video" screen
    wall = np.clip(150 + rng.normal(0, 25, (360, 640, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
    assert verdict(wall) != "covered"


def test_blurred_frame_trips_blur_but_the_sharp_one_does_not():
    assert verdict(cv2.GaussianBlur(street(), (0, 0), 12)) == "blur"
    assert verdict(cv2.GaussianBlur(street(), (0, 0), 0.8)) == "ok"  # slightly soft is fine


def test_frozen_after_n_identical_captures_but_not_when_frames_change():
    state = CameraHealthState()
    rules = [verdict(street(0), state) for _ in range(CFG.freeze_frames)]
    assert rules[:-1] == ["ok"] * (CFG.freeze_frames - 1) and rules[-1] == "frozen"
    state = CameraHealthState()
    assert [verdict(street(i), state) for i in range(6)] == ["ok"] * 6  # a car drives by


def test_moved_against_reference_but_not_for_small_changes():
    state = CameraHealthState()
    state.reference = reference_of(small(street(0)))
    assert verdict(street(3), state) == "ok"  # same view, the car moved
    h, w = 360, 640
    knocked = cv2.warpAffine(cv2.flip(street(5), 1), np.float32([[1, 0, -0.2 * w], [0, 1, 0.12 * h]]),
                             (w, h), borderMode=cv2.BORDER_REFLECT)
    assert verdict(knocked, state) == "ok"  # one odd frame is not enough ...
    assert verdict(knocked, state) == "moved"  # ... the same new view twice is
    brighter = np.clip(street(6).astype(np.int16) + 30, 0, 255).astype(np.uint8)  # sun came out
    assert verdict(brighter, state) == "ok"
    rng = np.random.default_rng(3)
    busy = [rng.integers(0, 255, (360, 640, 3), dtype=np.uint8) for _ in range(3)]  # never the same twice
    assert [verdict(b, state) for b in busy] == ["ok", "ok", "ok"]


def test_thresholds_are_settings(monkeypatch):
    monkeypatch.setenv("HEALTH_FREEZE_FRAMES", "5")
    assert HealthSettings.from_config({}).freeze_frames == 5
    assert HealthSettings.from_config({"HEALTH_BLUR_LAPLACIAN_MIN": "7.5"}).blur_laplacian_min == 7.5


def _tickets(camera_id):
    with system_scope():
        rows = db.session.execute(select(FaultTicket).where(FaultTicket.camera_id == camera_id)
                                  .order_by(FaultTicket.id)).scalars().all()
        db.session.commit()
        return rows


def _camera(camera_id):
    with system_scope():
        cam = db.session.get(Camera, camera_id)
        db.session.refresh(cam)
        db.session.commit()
        return cam


@pytest.mark.parametrize("mode,rule", [("dark", "dark"), ("covered", "covered"), ("blur", "blur"),
                                       ("freeze", "frozen"), ("moved", "moved"), ("offline", "unreachable")])
def test_simulator_mode_opens_a_ticket_and_recovery_closes_it(make_app, http_sim, mode, rule):
    app = make_app("sqlite", allow(http_sim.port))
    with app.app_context():
        from tests.world import build_world

        world = build_world(app)
        cam_id = add_camera(world.id("a"), "H1", snapshot_url=http_sim.snapshot_url("h1")).id
        worker = in_process_worker(app)
        slot = 1000
        for _ in range(3):  # healthy: sets the reference view
            capture_now(worker, cam_id, slot)
            slot += 1
        assert _camera(cam_id).health == "ok" and _camera(cam_id).reference_key
        assert _tickets(cam_id) == []
        http_sim.set_mode("h1", mode)
        for _ in range({"freeze": CFG.freeze_frames, "moved": 2}.get(mode, 1)):
            batch = capture_now(worker, cam_id, slot)
            slot += 1
        assert batch[0].rule == rule, batch[0].detail
        tickets = _tickets(cam_id)
        assert [(t.rule, t.status) for t in tickets] == [(rule, "open")]
        if rule != "unreachable":
            assert tickets[0].evidence_snapshot_id and tickets[0].evidence_key
        cam = _camera(cam_id)
        assert cam.health == rule and cam.status == ("offline" if rule == "unreachable" else "faulty")
        capture_now(worker, cam_id, slot)  # still broken: no second ticket
        assert len(_tickets(cam_id)) == 1
        http_sim.set_mode("h1", "normal")
        capture_now(worker, cam_id, slot + 1)
        ticket = _tickets(cam_id)[0]
        assert ticket.status == "closed" and ticket.closed_by_id is None
        assert ticket.close_note == "tự phục hồi / recovered"
        assert _camera(cam_id).status == "active" and _camera(cam_id).health == "ok"
        with system_scope():
            day = db.session.execute(select(CameraUptimeDay).where(CameraUptimeDay.camera_id == cam_id)).scalar_one()
            assert day.checks == slot + 2 - 1000 and 0 < day.ok < day.checks
