"""Alerts end to end on SQLite and PostgreSQL: the outbox written with the event, dispatch to the
people allowed to see it, grouping of a power cut, quiet hours, digests, escalation, acknowledgement."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from camnet.alerts import dispatch
from camnet.alerts.checks import escalate
from camnet.alerts.delivery import deliver_due
from camnet.alerts.models import Alert, AlertDelivery, AlertEvent, AlertMessage, AlertPreference, AlertRota
from camnet.alerts.worker import AlertsWorker
from camnet.extensions import db
from camnet.capture.health import apply_transition
from camnet.streams.models import Camera, FaultTicket
from camnet.tenants.scope import system_scope

from .alerts_rig import SmtpSink, alert_config, give_emails, wait_for


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def any_app(request, make_app, smtp):
    """The app on each backend, its channels pointed at the loopback receivers (``world`` builds in it)."""
    app = make_app(request.param, alert_config(smtp.port))
    with app.app_context():
        yield app


def _messages(world, username) -> list[AlertMessage]:
    """The user's messages, detached with their alert loaded (read under the system scope)."""
    with system_scope():
        rows = list(db.session.execute(select(AlertMessage).where(
            AlertMessage.user_id == world.users[username].id).order_by(AlertMessage.id)).scalars())
        for row in rows:
            _ = row.alert.kind
            db.session.expunge(row.alert)
            db.session.expunge(row)
        db.session.rollback()
        return rows


def _kinds(world, username) -> list[str]:
    return [m.alert.kind for m in _messages(world, username)]


def test_world_events_reach_their_communes_people_and_nobody_else(any_app, world, smtp):
    """The world's fault tickets and incidents were written with outbox rows; dispatched, each
    reaches the technicians and police of its own commune, never another commune's."""
    give_emails(world)
    with system_scope():
        kinds = db.session.execute(select(AlertEvent.kind, func.count()).group_by(AlertEvent.kind)).all()
    assert dict(kinds) == {"fault.opened": 4, "incident.created": 4}
    AlertsWorker(any_app, checks_on=False).round()
    assert _kinds(world, "technician_a") == ["fault.opened"]
    assert _kinds(world, "technician_b") == ["fault.opened"]
    assert sorted(_kinds(world, "police_dist")) == ["fault.opened"] * 0 + ["incident.created"] * 2
    assert _kinds(world, "police_dist2") == ["incident.created"]
    assert _kinds(world, "operator_a") == ["incident.created"]
    for name in ("chairman_a", "sponsor_a", "household_a", "nobody_a"):
        assert _kinds(world, name) == [], name
    body = _messages(world, "technician_a")[0].body_vi
    assert "ZZNGOAILAI" not in body and "CAM-A1" in body and "+07:00 (giờ Việt Nam)" in body
    # e-mail went out to each recipient, once
    wait_for(lambda: len(smtp.messages) >= 8)
    to = sorted(str(m["To"]) for m in smtp.messages)
    assert to.count("technician_a@xa.example.vn") == 1
    assert all("technician_b" not in str(m["To"]) or "ZZNGOAILAI" in m.get_body(("plain",)).get_content()
               for m in smtp.messages)


def test_a_rolled_back_change_leaves_no_alert(any_app, world):
    with system_scope():
        before = db.session.execute(select(func.count()).select_from(AlertEvent)).scalar()
        cam = db.session.get(Camera, world.extra["camera"]["a"][0].id)
        db.session.add(FaultTicket(camera_id=cam.id, commune_id=cam.commune_id, rule="covered", status="open"))
        db.session.flush()
        db.session.rollback()
        assert db.session.execute(select(func.count()).select_from(AlertEvent)).scalar() == before


def _cameras(world, key, n, interval=10):
    with system_scope():
        cams = [Camera(commune_id=world.id(key), code=f"PC-{key}-{i}", name=f"Cột điện {i}", status="active",
                       health="ok", capture_interval=interval) for i in range(n)]
        db.session.add_all(cams)
        db.session.commit()
        return [c.id for c in cams]


def _go_offline(ids, at):
    """The capture worker's verdict on each camera; the outbox rows are dated ``at`` (the past), as
    if the cameras had failed then."""
    with system_scope():
        for cid in ids:
            cam = db.session.get(Camera, cid)
            apply_transition(db.session, cam, "unreachable", {}, at)
        db.session.commit()
        db.session.execute(update(AlertEvent).where(AlertEvent.dispatched_at.is_(None),
                                                    AlertEvent.kind == "camera.offline").values(occurred_at=at))
        db.session.commit()


def test_a_power_cut_is_one_alert_per_subscriber(any_app, world, smtp):
    """Twelve cameras of one commune go down within the capture interval: every subscriber gets one
    grouped alert (not twelve), and cameras failing later in the outage join it silently."""
    give_emails(world)
    AlertsWorker(any_app, checks_on=False).round()  # the world's own events first
    smtp.messages.clear()
    ids = _cameras(world, "a", 14)
    now = datetime.now(timezone.utc) - timedelta(seconds=60)
    _go_offline(ids[:12], now)
    assert dispatch.dispatch_pending(now=now + timedelta(seconds=2)) == 0  # still gathering
    dispatch.dispatch_pending(now=now + timedelta(seconds=11))
    with system_scope():
        alerts = list(db.session.execute(select(Alert).where(Alert.kind.like("camera%"))).scalars())
        assert [a.kind for a in alerts] == ["cameras.mass_offline"] and alerts[0].event_count == 12
    _go_offline(ids[12:], now + timedelta(seconds=20))
    dispatch.dispatch_pending(now=now + timedelta(seconds=40))
    with system_scope():
        assert db.session.execute(select(func.count()).select_from(Alert).where(
            Alert.kind.like("camera%"))).scalar() == 1
        assert db.session.execute(select(Alert.event_count).where(Alert.kind == "cameras.mass_offline")).scalar() == 14
    for name in ("technician_a", "operator_a", "chairman_a", "police_dist", "police_prov", "admin"):
        kinds = [k for k in _kinds(world, name) if k.startswith("camera")]
        assert kinds == (["cameras.mass_offline"] if name != "admin" else []), name
    for name in ("technician_b", "police_dist2", "chairman_b"):
        assert not [k for k in _kinds(world, name) if k.startswith("camera")], name
    while deliver_due("t"):
        pass
    subject = "[camnet] Nhiều camera mất kết nối cùng lúc / Many cameras down at once"
    wait_for(lambda: [str(m["Subject"]) for m in smtp.messages].count(subject) >= 5)
    assert sorted(str(m["To"]) for m in smtp.messages if str(m["Subject"]) == subject) == sorted(
        f"{n}@xa.example.vn" for n in ("technician_a", "operator_a", "chairman_a", "police_dist", "police_prov"))


def test_two_cameras_down_are_two_alerts(any_app, world):
    ids = _cameras(world, "b", 2)
    now = datetime.now(timezone.utc) - timedelta(seconds=60)
    _go_offline(ids, now)
    dispatch.dispatch_pending(now=now + timedelta(seconds=11))
    assert [k for k in _kinds(world, "technician_b") if k.startswith("camera")] == ["camera.offline"] * 2
    assert not [k for k in _kinds(world, "technician_a") if k.startswith("camera")]


def test_quiet_hours_hold_and_digest_gathers_into_one_mail(any_app, world, smtp):
    give_emails(world)
    uid = world.users["technician_a"].id
    with system_scope():
        db.session.add(AlertPreference(user_id=uid, unit_id=world.id("a"), quiet_start=0, quiet_end=0,
                                       digest_minutes=60))
        db.session.commit()
    ids = _cameras(world, "a", 2, interval=1)
    now = datetime.now(timezone.utc) - timedelta(seconds=60)
    _go_offline(ids, now)
    dispatch.dispatch_pending(now=now + timedelta(seconds=5))
    with system_scope():
        held = list(db.session.execute(select(AlertDelivery).where(AlertDelivery.user_id == uid)).scalars())
        assert len(held) == 3 and len({d.batch_key for d in held}) == 1  # world fault + two cameras
        assert all(d.next_attempt_at.replace(tzinfo=timezone.utc) > now for d in held)
        for d in held:  # the digest period ends
            d.next_attempt_at = now
        db.session.commit()
    while deliver_due("t"):
        pass
    wait_for(lambda: [m for m in smtp.messages if str(m["To"]) == "technician_a@xa.example.vn"])
    mine = [m for m in smtp.messages if str(m["To"]) == "technician_a@xa.example.vn"]
    assert len(mine) == 1 and "Bản tin 3 cảnh báo" in str(mine[0]["Subject"])


def test_unacknowledged_alert_escalates_along_the_rota_and_ack_stops_it(any_app, world, client_for):
    AlertsWorker(any_app, checks_on=False).round()
    with system_scope():
        db.session.add_all([AlertRota(commune_id=world.id("a"), position=0, user_id=world.users["technician_a"].id),
                            AlertRota(commune_id=world.id("a"), position=1, user_id=world.users["chairman_a"].id),
                            AlertRota(commune_id=world.id("a"), position=2, user_id=world.users["admin"].id)])
        db.session.commit()
        alert = db.session.execute(select(Alert).where(Alert.kind == "fault.opened", Alert.unit_id == world.id("a"))
                                   ).scalar_one()
        later = alert.escalate_at.replace(tzinfo=timezone.utc) + timedelta(seconds=1)
        assert escalate(later) == 1  # technician_a already has it: chairman_a is next
        db.session.commit()
    chairman = _messages(world, "chairman_a")
    assert [m.escalated for m in chairman] == [True] and chairman[0].title_en.startswith("Escalated")
    resp = client_for("chairman_a").post(f"/alerts/{chairman[0].id}/ack")
    assert resp.status_code == 302
    with system_scope():
        assert escalate(later + timedelta(hours=2)) == 0
        db.session.commit()
    assert _messages(world, "admin") == [] or all(m.alert.kind != "fault.opened" for m in _messages(world, "admin"))
