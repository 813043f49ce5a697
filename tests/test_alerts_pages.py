"""Pages of alerts, and what an attacker gets: another person's alert, another commune's rota or
repair times, a forged or reused acknowledgement link (404/403/410, never a 500, nothing written)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from camnet.alerts.models import Alert, AlertMessage, AlertRota
from camnet.alerts.acks import ack_token
from camnet.alerts.worker import AlertsWorker
from camnet.extensions import db
from camnet.streams.models import FaultTicket
from camnet.tenants.scope import system_scope

from .alerts_rig import alert_config


@pytest.fixture(params=["sqlite", "postgres"])
def any_app(request, make_app):
    app = make_app(request.param, alert_config(None))
    with app.app_context():
        AlertsWorker(app, checks_on=False)  # nothing delivered by hand here
        yield app


def _dispatch(app):
    AlertsWorker(app, checks_on=False).round()


def _message(world, username):
    with system_scope():
        m = db.session.execute(select(AlertMessage).where(AlertMessage.user_id == world.users[username].id)
                               ).scalars().first()
        token = ack_token(m)
        mid = m.id
        db.session.rollback()
    return mid, token


def _acked(mid):
    with system_scope():
        value = db.session.get(AlertMessage, mid).acked_at
        db.session.rollback()
        return value


def test_list_badge_and_in_app_ack(any_app, world, client_for):
    _dispatch(any_app)
    tech = client_for("technician_a")
    page = tech.get("/alerts")
    assert page.status_code == 200 and "Phiếu sự cố mới" in page.get_data(as_text=True)
    home = tech.get("/").get_data(as_text=True)
    assert 'class="alerts-count">1<' in home
    assert tech.get("/alerts/unread").get_json() == {"unread": 1}
    mid, _ = _message(world, "technician_a")
    assert tech.post(f"/alerts/{mid}/ack").status_code == 302 and _acked(mid) is not None
    assert tech.post(f"/alerts/{mid}/read").status_code == 302
    assert tech.get("/alerts/unread").get_json() == {"unread": 0}
    log = tech.get(f"/alerts/{mid}/log").get_json()
    assert log["deliveries"] == []  # no external channel configured in this app


def test_someone_elses_alert_does_not_exist(any_app, world, client_for):
    _dispatch(any_app)
    mid, _ = _message(world, "technician_a")
    for name in ("technician_b", "operator_a", "police_dist2"):
        client = client_for(name)
        assert client.post(f"/alerts/{mid}/ack").status_code == 404
        assert client.post(f"/alerts/{mid}/read").status_code == 404
        assert client.get(f"/alerts/{mid}/log").status_code == 404
    assert _acked(mid) is None


def test_ack_link_works_once_and_a_forged_one_never(any_app, world):
    _dispatch(any_app)
    mid, token = _message(world, "technician_a")
    client = any_app.test_client()  # not signed in: the link is the credential
    assert client.get(f"/alerts/ack/{token}").status_code == 200 and _acked(mid) is None  # GET changes nothing
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert client.post(f"/alerts/ack/{forged}").status_code == 404 and _acked(mid) is None
    assert client.post(f"/alerts/ack/{token}").status_code == 200 and _acked(mid) is not None
    again = client.post(f"/alerts/ack/{token}")
    assert again.status_code == 410 and "đã được xác nhận" in again.get_data(as_text=True)
    assert client.get(f"/alerts/ack/{token}").status_code == 410
    with system_scope():
        alert = db.session.execute(select(Alert).join(AlertMessage, AlertMessage.alert_id == Alert.id)
                                   .where(AlertMessage.id == mid)).scalar_one()
        assert alert.acked_at is not None and alert.escalate_at is None


def test_rota_of_another_commune_and_without_the_right(any_app, world, client_for):
    a, b = world.id("a"), world.id("b")
    assert client_for("technician_a").get(f"/alerts/rota/{a}").status_code == 200
    assert client_for("technician_a").get(f"/alerts/rota/{b}").status_code == 404
    assert client_for("sponsor_a").get(f"/alerts/rota/{a}").status_code == 403
    resp = client_for("chairman_a").post(f"/alerts/rota/{a}", data={"rota": "technician_a"})
    assert resp.status_code == 403
    admin = client_for("admin")
    bad = admin.post(f"/alerts/rota/{a}", data={"rota": "technician_b\n"})
    assert bad.status_code == 422 and "rota[0]" in bad.get_data(as_text=True)
    assert admin.post(f"/alerts/rota/{a}", data={"rota": "technician_a\nchairman_a",
                                                 "escalate_minutes": "10"}).status_code == 302
    with system_scope():
        rows = db.session.execute(select(AlertRota.user_id).where(AlertRota.commune_id == a)
                                  .order_by(AlertRota.position)).scalars().all()
    assert rows == [world.users["technician_a"].id, world.users["chairman_a"].id]


def test_repair_times_per_month(any_app, world, client_for):
    a = world.id("a")
    cam = world.extra["camera"]["a"][0]
    closed = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
    with system_scope():
        for hours in (1, 2, 3, 4, 5, 6, 7, 8, 9, 50):
            db.session.add(FaultTicket(camera_id=cam.id, commune_id=a, rule="dark", status="closed",
                                       opened_at=closed - timedelta(hours=hours), closed_at=closed))
        db.session.commit()
    data = client_for("chairman_a").get(f"/alerts/repairs/{a}?format=json").get_json()
    assert data["months"] == [{"month": "2026-11", "count": 10, "mean_hours": 9.5, "p90_hours": 9.0}]
    panel = client_for("chairman_a").get(f"/alerts/repairs/{a}?partial=1").get_data(as_text=True)
    assert "<html" not in panel and "Thời gian sửa chữa camera" in panel and "9.5" in panel
    assert client_for("chairman_a").get(f"/alerts/repairs/{world.id('b')}").status_code == 404
    assert client_for("sponsor_a").get(f"/alerts/repairs/{a}").status_code == 403
    page = client_for("chairman_a").get(f"/coverage?commune_id={a}").get_data(as_text=True)
    assert "Thời gian sửa chữa camera" in page and "2026-11" in page  # on the chairman's own page


def test_settings_refuse_bad_input_naming_the_field(any_app, world, client_for):
    client = client_for("technician_a")
    assert client.get("/alerts/settings").status_code == 200
    bad = client.post("/alerts/settings", data={"action": "preferences", "quiet_start": "25:00", "quiet_end": "06:00"})
    assert bad.status_code == 422 and "quiet_start" in bad.get_data(as_text=True)
    bad = client.post("/alerts/settings", data={"action": "contact", "channel": "webhook", "address": "ftp://x/y"})
    assert bad.status_code == 422 and "http(s)" in bad.get_data(as_text=True)
    bad = client.post("/alerts/settings", data={"action": "subscription", "kind": "ledger.broken", "enabled": "on"})
    assert bad.status_code == 422  # a technician never holds money alerts
    ok = client.post("/alerts/settings", data={"action": "contact", "channel": "webhook",
                                               "address": "https://hooks.example.vn/camnet"})
    assert ok.status_code == 200 and "whsec_" in ok.get_data(as_text=True)  # the secret, shown once
    assert client.post("/alerts/push/subscribe", json={"endpoint": "https://push.example/x"}).status_code == 422
