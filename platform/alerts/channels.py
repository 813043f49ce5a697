"""Channels behind one interface: ``send(outgoing) -> provider id``, raising ``DeliveryError``.

E-mail (SMTP, a text and an HTML part, Vietnamese first), webhooks signed as the Standard Webhooks
specification says, Web Push with VAPID (pywebpush), SMS through an Apprise URL, Zalo Official
Account through its HTTP API. Every message carries its idempotency key: the webhook-id, the
Message-ID, the push payload's ``id``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import smtplib
import socket
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

from flask import render_template

from .kinds import iso


class DeliveryError(Exception):
    """A delivery that did not happen: ``permanent`` ones are not retried."""

    def __init__(self, reason: str, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason[:500]
        self.permanent = permanent


@dataclass
class Item:
    """One message inside an outgoing delivery (several for a digest)."""

    key: str
    kind: str
    severity: str
    title_vi: str
    title_en: str
    body_vi: str
    body_en: str
    link: str | None
    ack_url: str | None
    created_at: object


@dataclass
class Outgoing:
    key: str                      # the idempotency key the receiver deduplicates on
    channel: str
    target: str
    recipient_name: str
    items: list = field(default_factory=list)
    secret: str | None = None     # webhook whsec_
    keys: dict | None = None      # push p256dh/auth

    @property
    def subject(self) -> str:
        first = self.items[0]
        if len(self.items) == 1:
            return f"[camnet] {first.title_vi} / {first.title_en}"
        return f"[camnet] Bản tin {len(self.items)} cảnh báo / Digest of {len(self.items)} alerts"

    def text(self) -> str:
        parts = []
        for it in self.items:
            parts.append(f"{it.title_vi}\n{it.body_vi}" + (f"\nXác nhận đã nhận: {it.ack_url}" if it.ack_url else ""))
        vi = "\n\n".join(parts)
        en = "\n\n".join(f"{it.title_en}\n{it.body_en}" + (f"\nAcknowledge: {it.ack_url}" if it.ack_url else "")
                         for it in self.items)
        return f"{vi}\n\n-- English --\n\n{en}\n"

    def payload(self) -> dict:
        return {"id": self.key, "type": "camnet.alert" if len(self.items) == 1 else "camnet.digest",
                "alerts": [{"id": it.key, "kind": it.kind, "severity": it.severity,
                            "title": {"vi": it.title_vi, "en": it.title_en},
                            "body": {"vi": it.body_vi, "en": it.body_en}, "link": it.link, "ack_url": it.ack_url,
                            "created_at": iso(it.created_at)} for it in self.items]}


# ---- e-mail ------------------------------------------------------------------------------

class EmailChannel:
    """One SMTP connection per batch; a server that refuses the connection fails the batch at once."""

    name = "email"

    def __init__(self, config):
        self.config = config
        self.conn = None
        self.down: str | None = None

    def _connect(self):
        if self.down:
            raise DeliveryError(self.down)
        if self.conn is None:
            cfg = self.config
            try:
                conn = smtplib.SMTP(cfg["ALERTS_SMTP_HOST"], cfg["ALERTS_SMTP_PORT"], timeout=cfg["ALERTS_SMTP_TIMEOUT"])
                if cfg.get("ALERTS_SMTP_STARTTLS"):
                    conn.starttls()
                if cfg.get("ALERTS_SMTP_USER"):
                    conn.login(cfg["ALERTS_SMTP_USER"], cfg.get("ALERTS_SMTP_PASSWORD") or "")
            except (OSError, smtplib.SMTPException) as exc:
                self.down = f"smtp: {type(exc).__name__}: {exc}"[:300]
                raise DeliveryError(self.down)
            self.conn = conn
        return self.conn

    def build(self, out: Outgoing) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = out.subject
        msg["From"] = self.config["ALERTS_MAIL_FROM"]
        msg["To"] = out.target
        msg["Date"] = formatdate(localtime=False)
        domain = self.config["ALERTS_MAIL_FROM"].rsplit("@", 1)[-1].strip(">").strip() or "camnet.invalid"
        msg["Message-ID"] = f"<{out.key}@{domain}>"
        msg["X-Camnet-Idempotency-Key"] = out.key
        msg.set_content(out.text())
        msg.add_alternative(render_template("alerts/email.html", out=out), subtype="html")
        return msg

    def send(self, out: Outgoing) -> str:
        msg = self.build(out)
        conn = self._connect()
        try:
            conn.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"smtp: recipient refused {exc.recipients}", permanent=True)
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            self.down = f"smtp: {type(exc).__name__}: {exc}"[:300]
            raise DeliveryError(self.down)
        return msg["Message-ID"]

    def close(self):
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.conn = None


# ---- addresses a webhook or push may reach ----------------------------------------------

def check_address(url: str, allowed: list[str], resolve: bool = True) -> None:
    """http(s) only; loopback, private, link-local and metadata addresses only when listed in
    ALERTS_ALLOWED_NETWORKS (a webhook must not become a way into the platform's own network)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("address: must be an http(s) URL", permanent=True)
    if not resolve:
        return
    nets = [ipaddress.ip_network(n, strict=False) for n in allowed if "/" in n or n.replace(".", "").isdigit()]
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise DeliveryError(f"address: {parts.hostname} does not resolve ({exc})")
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if any(ip in n for n in nets):
            continue
        if not ip.is_global:
            raise DeliveryError(f"address: {ip} is not a public address", permanent=True)


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: ``v1,`` + base64 HMAC-SHA256 over ``id.timestamp.body`` with the
    base64-decoded part of the ``whsec_`` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def new_webhook_secret() -> str:
    import secrets

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookChannel:
    name = "webhook"

    def __init__(self, config, session=None):
        import requests

        self.config = config
        self.http = session or requests.Session()

    def send(self, out: Outgoing) -> str:
        import requests

        check_address(out.target, self.config["ALERTS_ALLOWED_NETWORKS"])
        body = json.dumps(out.payload(), ensure_ascii=False, separators=(",", ":")).encode()
        ts = int(time.time())
        msg_id = f"msg_{out.key}"
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
                   "webhook-signature": sign_webhook(out.secret or "", msg_id, ts, body),
                   "user-agent": "camnet-alerts/1"}
        try:
            resp = self.http.post(out.target, data=body, headers=headers,
                                  timeout=self.config["ALERTS_HTTP_TIMEOUT"], allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryError(f"webhook: {type(exc).__name__}")
        if 200 <= resp.status_code < 300:
            return msg_id
        permanent = resp.status_code in (400, 401, 403, 404, 410, 413, 422)
        raise DeliveryError(f"webhook: HTTP {resp.status_code}", permanent=permanent)


# ---- Web Push ------------------------------------------------------------------------------

def vapid_private_key(config) -> str:
    """The VAPID key (PEM): the setting, else one generated once into the instance folder."""
    if config.get("ALERTS_VAPID_PRIVATE_KEY"):
        return config["ALERTS_VAPID_PRIVATE_KEY"]
    path = Path(config["INSTANCE_DIR"]) / "alerts-vapid.pem"
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pem)
        path.chmod(0o600)
    return path.read_text()


def vapid_public_key(config) -> str:
    """The application server key browsers subscribe with (base64url, uncompressed point)."""
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid

    vapid = Vapid.from_pem(vapid_private_key(config).encode())
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class PushChannel:
    name = "push"

    def __init__(self, config):
        self.config = config

    def send(self, out: Outgoing) -> str:
        from py_vapid import Vapid
        from pywebpush import WebPushException, webpush

        check_address(out.target, self.config["ALERTS_ALLOWED_NETWORKS"])
        keys = out.keys or {}
        first = out.items[0]
        data = json.dumps({"id": out.key, "title": f"{first.title_vi} / {first.title_en}",
                           "body": first.body_vi, "url": first.link, "ack_url": first.ack_url,
                           "count": len(out.items)}, ensure_ascii=False)
        try:
            webpush({"endpoint": out.target, "keys": {"p256dh": keys.get("p256dh", ""), "auth": keys.get("auth", "")}},
                    data=data, vapid_private_key=Vapid.from_pem(vapid_private_key(self.config).encode()),
                    vapid_claims={"sub": self.config["ALERTS_VAPID_SUBJECT"]},
                    ttl=86400, timeout=self.config["ALERTS_HTTP_TIMEOUT"], headers={"Topic": out.key[:32]})
        except WebPushException as exc:
            code = exc.response.status_code if exc.response is not None else None
            raise DeliveryError(f"push: HTTP {code}" if code else "push: failed", permanent=code in (400, 404, 410, 413))
        except Exception as exc:  # noqa: BLE001 - the network or the subscription's keys
            raise DeliveryError(f"push: {type(exc).__name__}")
        return out.key


# ---- SMS (Apprise) and Zalo OA -------------------------------------------------------------

def _apprise():
    """Apprise, its plugins loaded once with their import-time deprecation notices silenced (one of
    them imports ``imghdr``, deprecated since Python 3.11; not ours to fix)."""
    import warnings

    import apprise

    if not getattr(_apprise, "_loaded", False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            apprise.Apprise().add("json://localhost")
        _apprise._loaded = True
    return apprise


class SmsChannel:
    """SMS through Apprise: ALERTS_SMS_URL is an Apprise URL with ``{to}`` for the number."""

    name = "sms"

    def __init__(self, config):
        self.config = config

    def send(self, out: Outgoing) -> str:
        number = "".join(ch for ch in out.target if ch.isdigit() or ch == "+")
        ap = _apprise().Apprise()
        if not ap.add(self.config["ALERTS_SMS_URL"].replace("{to}", number)):
            raise DeliveryError("sms: ALERTS_SMS_URL is not an Apprise URL", permanent=True)
        first = out.items[0]
        body = f"{first.title_vi}: {first.body_vi}"[:480] + f" [{out.key[:8]}]"
        if not ap.notify(title="camnet", body=body):
            raise DeliveryError("sms: the gateway refused or did not answer")
        return out.key


class ZaloChannel:
    """Zalo Official Account: a customer-service text message to a follower (the OA's v3 API)."""

    name = "zalo"

    def __init__(self, config, session=None):
        import requests

        self.config = config
        self.http = session or requests.Session()

    def send(self, out: Outgoing) -> str:
        import requests

        first = out.items[0]
        text_ = f"{first.title_vi}\n{first.body_vi}" + (f"\n{first.ack_url}" if first.ack_url else "")
        body = {"recipient": {"user_id": out.target}, "message": {"text": text_[:2000]}}
        try:
            resp = self.http.post(self.config["ALERTS_ZALO_API_URL"], json=body,
                                  headers={"access_token": self.config["ALERTS_ZALO_ACCESS_TOKEN"] or "",
                                           "X-Idempotency-Key": out.key},
                                  timeout=self.config["ALERTS_HTTP_TIMEOUT"])
            answer = resp.json() if resp.content else {}
        except (requests.RequestException, ValueError) as exc:
            raise DeliveryError(f"zalo: {type(exc).__name__}")
        if resp.status_code >= 300 or answer.get("error", 0) != 0:
            raise DeliveryError(f"zalo: HTTP {resp.status_code} error {answer.get('error')} "
                                f"{str(answer.get('message', ''))[:100]}")
        return str((answer.get("data") or {}).get("message_id") or out.key)


def make_channels(config) -> dict:
    return {"email": EmailChannel(config), "webhook": WebhookChannel(config), "push": PushChannel(config),
            "sms": SmsChannel(config), "zalo": ZaloChannel(config)}
