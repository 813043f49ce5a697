"""The demo shows trouble, and the built-in simulator shows the same trouble: cameras offline,
dark, covered, blurred, frozen and moved with open tickets of different ages, a day of low uptime
with its ticket, overdue household shares and an unallocated sponsor remainder; the simulator
answers a camera it does not know with 404; the low-uptime rule opens a ticket a frame does not
close."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from datetime import timedelta, timezone

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from camnet.capture.embedded import SCENE_FILE
from camnet.capture.grab import small_from_jpeg
from camnet.capture.health import LOW_UPTIME, CameraHealthState, HealthSettings, apply_transition, judge
from camnet.capture.reference import ReferenceKeeper
from camnet.capture.uptime import add_checks
from camnet.clock import utc_now
from camnet.extensions import db
from camnet.streams.models import Camera, CameraUptimeDay, FaultTicket
from camnet.tenants.scope import system_scope
from camsim.http_camera import HttpCameraSim
from camsim.scenes import write_scene


@pytest.fixture
def demo(app):
    from camnet.demo import load_all

    first = load_all()
    again = load_all()
    assert again["cameras"] == first["cameras"] and again["low_uptime_tickets"] == 0
    return first


def _aware(at):
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # nosec B310 - the test's own loopback simulator
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_demo_has_cameras_in_trouble_with_tickets_of_different_ages(app, demo):
    with system_scope():
        open_tickets = db.session.execute(select(FaultTicket, Camera).join(Camera, Camera.id == FaultTicket.camera_id)
                                          .where(FaultTicket.status == "open")).all()
        rules = {t.rule for t, _ in open_tickets}
        assert {"unreachable", "covered", "moved", "dark", "blur", "frozen", LOW_UPTIME} <= rules
        for ticket, cam in open_tickets:
            if ticket.rule == "unreachable":
                assert cam.status == "offline"
            elif ticket.rule != LOW_UPTIME:
                assert cam.status == "faulty" and cam.health == ticket.rule
        now = utc_now()
        ages = sorted(now - _aware(t.opened_at) for t, _ in open_tickets)
        assert ages[0] < timedelta(hours=3) and ages[-1] > timedelta(days=7)
        # a camera in trouble has no good day since; the flaky one's bad day has its ticket
        low = db.session.execute(select(FaultTicket).where(FaultTicket.rule == LOW_UPTIME)).scalars().all()
        for ticket in low:
            day = db.session.execute(select(CameraUptimeDay).where(
                CameraUptimeDay.camera_id == ticket.camera_id,
                CameraUptimeDay.day == ticket.opened_at.date())).scalar_one()
            assert 0.05 <= day.ok / day.checks <= 0.10
        under = db.session.execute(select(CameraUptimeDay).where(
            CameraUptimeDay.checks > 0, CameraUptimeDay.ok * 2 < CameraUptimeDay.checks)).scalars().all()
        ticketed = {(t.camera_id) for t, _ in open_tickets}
        assert under and all(r.camera_id in ticketed for r in under)  # no low day without a ticket


def test_the_demo_has_overdue_shares_and_an_unallocated_remainder(app, demo):
    from camnet.billing_socialization import receipts, reports
    from camnet.billing_socialization.models import ShareCampaign, Sponsor

    with system_scope():
        viettel = db.session.execute(select(Sponsor).where(Sponsor.name.like("Viettel Construction%"))).scalar_one()
        s = reports.sponsor_summary(viettel.id)
        allocated = sum(a["amount"] for a in s["allocations"])
        assert s["paid"] - allocated == s["unallocated"] == 116_000_000
        overdue = 0
        for campaign in db.session.execute(select(ShareCampaign)).scalars():
            overdue += len(receipts.campaign_status(campaign.id)["arrears"])
        assert overdue >= 18
        recent = db.session.execute(select(ShareCampaign).where(ShareCampaign.due_date > utc_now().date() - timedelta(days=60))).scalars().all()
        assert recent and receipts.campaign_status(recent[0].id)["arrears"]


def test_the_simulator_shows_each_camera_as_the_register_says(app, demo, tmp_path):
    """Through the scene file the demo wrote, each troubled camera's picture gets the verdict its
    ticket names; a healthy one gets "ok"; the mistyped address and an unknown name get 404."""
    path = os.path.join(app.config["INSTANCE_DIR"], SCENE_FILE)
    scene = json.load(open(path, encoding="utf-8"))["cameras"]
    cfg = HealthSettings.from_config(app.config)
    keeper = ReferenceKeeper(app.extensions["camnet.storage"])
    sim = HttpCameraSim(port=0, scenes=path)
    sim.start()
    try:
        with system_scope():
            cams = db.session.execute(select(Camera).where(Camera.snapshot_url.is_not(None))).scalars().all()
            troubled = [c for c in cams if c.health not in (None, "ok", "unknown")]
            healthy = next(c for c in cams if c.health in (None, "ok", "unknown") and c.code in scene)
            for cam in troubled + [healthy]:
                url = cam.snapshot_url.replace("127.0.0.1:8090", f"127.0.0.1:{sim.port}")
                state = CameraHealthState()
                keeper.load(cam, state)
                verdicts = []
                for _ in range(4):
                    status, body = _get(url)
                    if status != 200:
                        verdicts.append("unreachable")
                        continue
                    rule, detail = judge(small_from_jpeg(body), __import__("hashlib").sha256(body).hexdigest(),
                                         state, cfg)
                    verdicts.append(rule)
                expected = cam.health if cam in troubled else "ok"
                assert verdicts[-1] == expected, (cam.code, verdicts)
            assert _get(f"{sim.base_url}/cam/NO-SUCH-CAM/snapshot.jpg")[0] == 404
            assert _get(f"{sim.base_url}/cam/NO-SUCH-CAM/mjpeg")[0] == 404
            assert _get(f"{sim.base_url}/cam/HAIDONG-08/snapshot.jpg")[0] == 404
    finally:
        sim.stop()


def test_a_scene_file_limits_the_simulator_to_the_cameras_it_lists(tmp_path):
    path = tmp_path / "scene.json"
    sim = HttpCameraSim(port=0, scenes=str(path))
    sim.start()
    try:
        assert _get(f"{sim.base_url}/cam/A-1/snapshot.jpg")[0] == 404  # no file yet: nobody exists
        write_scene(str(path), {"A-1": "normal", "A-2": "dark"})
        sim._scene.recheck = 0  # read it now
        status, body = _get(f"{sim.base_url}/cam/A-1/snapshot.jpg")
        assert status == 200 and body[:2] == b"\xff\xd8"
        dark = cv2.imdecode(np.frombuffer(_get(f"{sim.base_url}/cam/A-2/snapshot.jpg")[1], np.uint8), 0)
        assert dark.mean() < 5
        assert _get(f"{sim.base_url}/cam/A-3/snapshot.jpg") == (404, b"unknown camera\n")
        assert _get(f"{sim.base_url}/cam/A-3/mode/covered")[0] == 200  # a control request names it
        assert _get(f"{sim.base_url}/cam/A-3/snapshot.jpg")[0] == 200
    finally:
        sim.stop()
    with HttpCameraSim(port=0) as free:  # without a scene file any name still works (tests, benches)
        assert _get(f"{free.base_url}/cam/anything/snapshot.jpg")[0] == 200


def test_a_day_of_low_uptime_opens_a_ticket_a_good_frame_does_not_close(any_app, world):
    with system_scope():
        cam = Camera(commune_id=world.units["a"].id, code="LOW-1", name="Camera chập chờn",
                     status="active", health="ok", capture_interval=60)
        db.session.add(cam)
        db.session.commit()
        day = utc_now().date()
        # 59 checks, 5 good: too few checks to judge yet
        add_checks(db.session, [(cam.id, cam.commune_id, day, i < 5) for i in range(59)])
        db.session.commit()
        assert db.session.execute(select(func.count()).select_from(FaultTicket).where(FaultTicket.camera_id == cam.id)).scalar() == 0
        add_checks(db.session, [(cam.id, cam.commune_id, day, False)])  # 60 checks, 8 % good
        db.session.commit()
        ticket = db.session.execute(select(FaultTicket).where(FaultTicket.camera_id == cam.id)).scalar_one()
        assert ticket.rule == LOW_UPTIME and ticket.status == "open" and ticket.detail["checks"] == 60
        add_checks(db.session, [(cam.id, cam.commune_id, day, False)] * 10)  # once per day
        db.session.commit()
        assert db.session.execute(select(func.count()).select_from(FaultTicket).where(FaultTicket.camera_id == cam.id)).scalar() == 1
        now = utc_now()
        apply_transition(db.session, cam, "unreachable", {}, now)
        apply_transition(db.session, cam, "ok", {}, now + timedelta(minutes=1))  # recovers
        db.session.commit()
        states = dict(db.session.execute(select(FaultTicket.rule, FaultTicket.status).where(FaultTicket.camera_id == cam.id)).all())
        assert states == {"unreachable": "closed", LOW_UPTIME: "open"}


def test_a_restarted_worker_keeps_a_moved_or_frozen_camera_in_trouble(any_app, world):
    """The first frames after a restart cannot show "moved" or "frozen" yet (they need two or
    three); that undecided "ok" must not close the ticket and open a new one."""
    with system_scope():
        cam = Camera(commune_id=world.units["a"].id, code="MOVED-1", name="Camera bị xoay",
                     status="active", health="ok", capture_interval=60)
        db.session.add(cam)
        db.session.commit()
        apply_transition(db.session, cam, "moved", {}, utc_now())
        db.session.commit()
        first = db.session.execute(select(FaultTicket).where(FaultTicket.camera_id == cam.id)).scalar_one()
        apply_transition(db.session, cam, "ok", {"pending": ["frozen", "moved"]}, utc_now())
        db.session.commit()
        assert cam.health == "moved" and cam.status == "faulty"
        assert db.session.execute(select(FaultTicket).where(FaultTicket.camera_id == cam.id)).scalar_one().id == first.id and first.status == "open"


def test_each_demo_commune_has_an_outline_around_its_cameras(app, demo):
    from camnet.tenants.models import AdminUnit, CommuneBoundary

    def inside(lon, lat, ring):
        hit = False
        for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                hit = not hit
        return hit

    with system_scope():
        communes = db.session.execute(select(AdminUnit).where(AdminUnit.is_commune.is_(True))).scalars().all()
        assert len(communes) == 5
        for commune in communes:
            boundary = db.session.get(CommuneBoundary, commune.id)
            ring = boundary.geometry["coordinates"][0]
            cams = db.session.execute(select(Camera).where(Camera.commune_id == commune.id)).scalars().all()
            assert cams and all(inside(c.longitude, c.latitude, ring) for c in cams), commune.code
