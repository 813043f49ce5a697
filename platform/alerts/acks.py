"""Acknowledging an alert: in the app, or from the alert itself through a signed, single-use link.

The link carries the message id and key, signed with the app's secret (itsdangerous, salted for
this use) and dated; it works once: a message already acknowledged answers 410. Acknowledging any
recipient's copy acknowledges the alert, which stops its escalation.
"""
from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..clock import utc_now
from ..errors import DomainError, NotFoundError
from ..extensions import db
from ..tenants.scope import system_scope
from .models import Alert, AlertMessage

SALT = "camnet-alert-ack-v1"


class LinkUsed(DomainError):
    status = 410
    code = "gone"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def ack_token(message: AlertMessage) -> str:
    return _serializer().dumps({"m": message.id, "k": message.key})


def ack_url(message: AlertMessage) -> str:
    base = current_app.config["ALERTS_BASE_URL"].rstrip("/")
    return f"{base}/alerts/ack/{ack_token(message)}"


def message_for_token(token: str) -> AlertMessage:
    """The message a link names (system scope: the link is the credential), or a clear refusal."""
    max_age = current_app.config["ALERTS_ACK_LINK_HOURS"] * 3600
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkUsed("Liên kết đã hết hạn / This link has expired", field="token")
    except BadSignature:
        raise NotFoundError("Liên kết không hợp lệ / Invalid link", field="token")
    with system_scope():
        message = db.session.get(AlertMessage, data.get("m"))
        if message is None or message.key != data.get("k"):
            raise NotFoundError("Liên kết không hợp lệ / Invalid link", field="token")
        return message


def acknowledge(message: AlertMessage, user_id: int, via: str) -> AlertMessage:
    """Mark the message and its alert acknowledged (the caller commits). A second use: 410."""
    if message.acked_at is not None:
        raise LinkUsed("Cảnh báo này đã được xác nhận / Already acknowledged", field="message")
    now = utc_now()
    message.acked_at = now
    message.read_at = message.read_at or now
    with system_scope():
        alert = db.session.get(Alert, message.alert_id)
        if alert.acked_at is None:
            alert.acked_at, alert.acked_by_id, alert.escalate_at = now, user_id, None
            facts = dict(alert.facts or {})
            facts["acked_via"] = via
            alert.facts = facts
    return message


def ack_by_token(token: str) -> AlertMessage:
    message = message_for_token(token)
    with system_scope():
        acknowledge(message, message.user_id, "link")
        db.session.commit()
    return message
