"""Each channel against a real receiver on loopback: the mail read back from an SMTP server (both
parts, Vietnamese subject), the webhook's signature checked with the ``standardwebhooks`` package,
the Web Push payload decrypted with the subscription's private key, SMS through Apprise, Zalo OA."""
from __future__ import annotations

import base64
import json
import os

import pytest
from sqlalchemy import select

from camnet.alerts.models import AlertAttempt, AlertContact, AlertDelivery
from camnet.alerts.worker import AlertsWorker
from camnet.extensions import db
from camnet.tenants.scope import system_scope

from .alerts_rig import HttpSink, SmtpSink, alert_config, give_emails, wait_for


@pytest.fixture
def sinks():
    smtp, http = SmtpSink().start(), HttpSink().start()
    http.answer = b'{"error":0,"message":"Success","data":{"message_id":"zalo-1"}}'
    yield smtp, http
    smtp.stop()
    http.stop()


@pytest.fixture
def app(make_app, sinks):
    smtp, http = sinks
    app = make_app("sqlite", alert_config(smtp.port, ALERTS_SMS_URL=f"json://127.0.0.1:{http.port}/sms/{{to}}",
                                          ALERTS_ZALO_ACCESS_TOKEN="zalo-token",
                                          ALERTS_ZALO_API_URL=http.url("/zalo")))
    with app.app_context():
        yield app


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _browser_subscription():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    auth = os.urandom(16)
    return key, auth, {"p256dh": _b64url(public), "auth": _b64url(auth)}


def test_one_fault_reaches_technician_on_every_channel_verifiably(app, world, sinks):
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    smtp, http = sinks
    give_emails(world)
    tech = world.users["technician_a"]
    push_key, push_auth, push_keys = _browser_subscription()
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with system_scope():
        db.session.add_all([
            AlertContact(user_id=tech.id, unit_id=tech.unit_id, channel="webhook", address=http.url("/hook"),
                         secret=secret),
            AlertContact(user_id=tech.id, unit_id=tech.unit_id, channel="push", address=http.url("/push/abc"),
                         keys=push_keys),
            AlertContact(user_id=tech.id, unit_id=tech.unit_id, channel="sms", address="+84912345678"),
            AlertContact(user_id=tech.id, unit_id=tech.unit_id, channel="zalo", address="zalo-follower-7")])
        db.session.commit()
    AlertsWorker(app, checks_on=False).round()
    wait_for(lambda: len([r for r in http.requests if r["path"] != "/nothing"]) >= 4
             and any(str(m["To"]) == "technician_a@xa.example.vn" for m in smtp.messages))

    # e-mail: Vietnamese subject with diacritics, text and HTML parts, Vietnamese first
    mail = next(m for m in smtp.messages if str(m["To"]) == "technician_a@xa.example.vn")
    assert str(mail["Subject"]) == "[camnet] Phiếu sự cố mới / Fault opened"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert text.index("Phiếu sự cố mới") < text.index("Fault opened")
    assert "CAM-A1" in text and "+07:00 (giờ Việt Nam)" in text and "/alerts/ack/" in text
    assert "Phiếu sự cố mới" in html and "Xác nhận đã nhận" in html and "ZZNGOAILAI" not in html
    key = str(mail["Message-ID"]).strip("<>").split("@")[0]

    # webhook: the signature verifies with the reference implementation; the id is the message key
    hook = next(r for r in http.requests if r["path"] == "/hook")
    headers = {k.lower(): v for k, v in hook["headers"].items()}
    payload = Webhook(secret).verify(hook["body"], headers)
    assert headers["webhook-id"] == f"msg_{key}" and payload["id"] == key
    assert payload["alerts"][0]["kind"] == "fault.opened" and payload["alerts"][0]["created_at"].endswith("+07:00")
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(os.urandom(32)).decode()).verify(hook["body"], headers)

    # Web Push: the body is aes128gcm, readable only with the subscription's private key
    import http_ece

    push = next(r for r in http.requests if r["path"] == "/push/abc")
    push_headers = {k.lower(): v for k, v in push["headers"].items()}
    assert push_headers["content-encoding"] == "aes128gcm" and push_headers["authorization"].startswith("vapid t=")
    clear = json.loads(http_ece.decrypt(push["body"], private_key=push_key, auth_secret=push_auth,
                                        version="aes128gcm"))
    assert clear["id"] == key and clear["title"] == "Phiếu sự cố mới / Fault opened"

    # SMS through Apprise's JSON gateway, Zalo OA through its message API
    sms = next(r for r in http.requests if r["path"].startswith("/sms/"))
    assert sms["path"] == "/sms/+84912345678" and "Phiếu sự cố mới" in json.loads(sms["body"])["message"]
    zalo = next(r for r in http.requests if r["path"] == "/zalo")
    assert {k.lower(): v for k, v in zalo["headers"].items()}["access_token"] == "zalo-token"
    assert json.loads(zalo["body"])["recipient"] == {"user_id": "zalo-follower-7"}

    # the delivery log: one delivered attempt per channel
    with system_scope():
        rows = db.session.execute(select(AlertDelivery.channel, AlertDelivery.state).where(
            AlertDelivery.user_id == tech.id)).all()
        assert sorted(rows) == sorted((c, "delivered") for c in ("email", "webhook", "push", "sms", "zalo"))
        outcomes = db.session.execute(select(AlertAttempt.outcome)).scalars().all()
        assert set(outcomes) == {"delivered"}


def test_a_refusing_webhook_is_retried_with_backoff_then_logged_delivered(app, world, sinks):
    smtp, http = sinks
    tech = world.users["technician_a"]
    with system_scope():
        db.session.add(AlertContact(user_id=tech.id, unit_id=tech.unit_id, channel="webhook",
                                    address=http.url("/flaky"), secret="whsec_" + base64.b64encode(b"k" * 32).decode()))
        db.session.commit()
    http.status = 503
    worker = AlertsWorker(app, checks_on=False)
    worker.round()
    wait_for(lambda: len(http.requests) >= 2, step=worker.round, every=0.2)
    http.status = 200
    wait_for(lambda: _state(tech.id, "webhook") == "delivered", step=worker.round, every=0.2)
    ids = {{k.lower(): v for k, v in r["headers"].items()}["webhook-id"] for r in http.requests}
    assert len(ids) == 1  # every retry carries the same idempotency key
    with system_scope():
        log = db.session.execute(select(AlertAttempt.outcome, AlertAttempt.reason).order_by(AlertAttempt.id)).all()
    assert log[0] == ("retry", "webhook: HTTP 503") and log[-1][0] == "delivered"


def _state(user_id, channel):
    with system_scope():
        state = db.session.execute(select(AlertDelivery.state).where(AlertDelivery.user_id == user_id,
                                                                     AlertDelivery.channel == channel)).scalar()
        db.session.rollback()
        return state


def test_webhook_into_a_private_network_is_refused_and_logged(app, world):
    """A webhook pointed at the platform's own network (not in ALERTS_ALLOWED_NETWORKS) fails for good
    with its reason; nothing is sent there."""
    from flask import current_app

    current_app.config["ALERTS_ALLOWED_NETWORKS"] = []
    current_app.config["ALERTS_SMTP_HOST"] = None
    tech = world.users["technician_a"]
    with system_scope():
        db.session.add(AlertContact(user_id=tech.id, unit_id=tech.unit_id, channel="webhook",
                                    address="http://127.0.0.1:9/internal", secret="whsec_" + "a" * 44))
        db.session.commit()
    AlertsWorker(current_app._get_current_object(), checks_on=False).round()
    with system_scope():
        row = db.session.execute(select(AlertDelivery).where(AlertDelivery.channel == "webhook")).scalar_one()
        assert row.state == "failed" and "not a public address" in row.last_error
