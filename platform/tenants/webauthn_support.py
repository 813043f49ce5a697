"""Passkeys (WebAuthn) through py_webauthn: the options a browser needs, the checks of its answers,
and each user's credentials.

A challenge lives in the Flask session (bound to its purpose, its user and its time) and is taken
out when an answer comes back; a marker in the coordination store (Redis in production) makes it
single-use even against a copy of an older cookie. RP ID and origin come from the request's host
unless ``WEBAUTHN_RP_ID`` / ``WEBAUTHN_ORIGIN`` say otherwise (behind a TLS-terminating ingress set
the origin: the app itself only sees http).
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from urllib.parse import urlsplit

from flask import current_app, request, session
from sqlalchemy import delete, select, update
from webauthn import (generate_authentication_options, generate_registration_options, options_to_json,
                      verify_authentication_response, verify_registration_response)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (AuthenticatorSelectionCriteria, AuthenticatorTransport,
                                      PublicKeyCredentialDescriptor, ResidentKeyRequirement,
                                      UserVerificationRequirement)

from ..clock import utc_now
from ..errors import ValidationFailed
from ..extensions import db
from .models import User, WebAuthnCredential
from .scope import system_scope

log = logging.getLogger(__name__)
CHALLENGE_KEY = "webauthn_challenge"  # {"purpose", "user_id", "challenge" (base64url), "at"}
RP_NAME = "camnet"
REFUSED = "credential: Khóa truy cập không được chấp nhận / The passkey was not accepted"
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


def rp_id() -> str:
    """The relying party id: ``WEBAUTHN_RP_ID``, else the host this request came to (no port)."""
    return current_app.config.get("WEBAUTHN_RP_ID") or (urlsplit(f"//{request.host}").hostname or "")


def origin() -> str:
    """The origin the browser must report: ``WEBAUTHN_ORIGIN``, else this request's scheme and host."""
    configured = current_app.config.get("WEBAUTHN_ORIGIN")
    if configured:
        return configured.rstrip("/")
    scheme = "https" if current_app.config.get("ENV_NAME") == "production" else request.scheme
    return f"{scheme}://{request.host}"


# ---- challenges ----------------------------------------------------------------------------

def _remember(purpose: str, user_id: int, challenge: bytes) -> None:
    session[CHALLENGE_KEY] = {"purpose": purpose, "user_id": user_id,
                              "challenge": bytes_to_base64url(challenge), "at": int(time.time())}


def _take(purpose: str, user_id: int) -> bytes:
    """The challenge this session was given for ``purpose`` and ``user_id``, at most once and while
    fresh; anything else refuses the answer."""
    from webauthn.helpers import base64url_to_bytes

    found = session.pop(CHALLENGE_KEY, None)
    ttl = int(current_app.config.get("WEBAUTHN_CHALLENGE_SECONDS") or 300)
    if (not isinstance(found, dict) or found.get("purpose") != purpose or found.get("user_id") != user_id
            or not isinstance(found.get("at"), int) or time.time() - found["at"] > ttl
            or not isinstance(found.get("challenge"), str)):
        raise ValidationFailed("credential: Yêu cầu khóa truy cập đã hết hạn, hãy thử lại / "
                               "The passkey request expired, please try again", field="credential")
    digest = hashlib.sha256(found["challenge"].encode()).hexdigest()
    try:
        first = current_app.extensions["camnet.coord"].set(f"webauthn:used:{digest}", "1", ttl=ttl + 60, nx=True)
    except Exception as exc:  # noqa: BLE001 - the store failing over: refuse rather than risk a replay
        log.warning("coordination store unavailable for a passkey challenge: %s", type(exc).__name__)
        first = False
    if not first:
        raise ValidationFailed("credential: Yêu cầu khóa truy cập đã dùng, hãy thử lại / "
                               "The passkey request was already used, please try again", field="credential")
    return base64url_to_bytes(found["challenge"])


def _credential_json(credential) -> dict:
    if isinstance(credential, str):
        try:
            credential = json.loads(credential)
        except ValueError:
            credential = None
    if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
        raise ValidationFailed("credential: Thiếu dữ liệu khóa truy cập / Passkey data missing", field="credential")
    return credential


# ---- credentials ---------------------------------------------------------------------------

def credentials_of(user_id: int) -> list[WebAuthnCredential]:
    with system_scope():
        return list(db.session.execute(select(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id)
                                       .order_by(WebAuthnCredential.id)).scalars())


def _descriptors(rows) -> list[PublicKeyCredentialDescriptor]:
    from webauthn.helpers import base64url_to_bytes

    return [PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(row.credential_id),
        transports=[AuthenticatorTransport(t) for t in (row.transports or []) if t in _TRANSPORTS] or None)
        for row in rows]


def registration_options(user: User) -> str:
    """Options for ``navigator.credentials.create`` (JSON), remembered for ``register``."""
    rows = credentials_of(user.id)
    handle = rows[0].user_handle if rows else bytes_to_base64url(secrets.token_bytes(32))
    from webauthn.helpers import base64url_to_bytes

    options = generate_registration_options(
        rp_id=rp_id(), rp_name=RP_NAME, user_name=user.username, user_id=base64url_to_bytes(handle),
        user_display_name=user.full_name or user.username, exclude_credentials=_descriptors(rows),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED))
    _remember("register", user.id, options.challenge)
    session["webauthn_handle"] = handle
    return options_to_json(options)


def register(user: User, credential, name: str | None) -> WebAuthnCredential:
    """Check the browser's answer to ``registration_options`` and keep the new passkey (added to the
    caller's transaction, flushed; the caller commits with its audit row)."""
    name = (name or "").strip()[:100] or "Passkey"
    data = _credential_json(credential)
    challenge = _take("register", user.id)
    handle = session.pop("webauthn_handle", None)
    try:
        verified = verify_registration_response(credential=data, expected_challenge=challenge,
                                                expected_rp_id=rp_id(), expected_origin=origin())
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        log.info("passkey registration refused: %s", exc)
        raise ValidationFailed(REFUSED, field="credential") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    transports = [t for t in (data.get("response", {}).get("transports") or []) if t in _TRANSPORTS]
    with system_scope():
        if db.session.execute(select(WebAuthnCredential.id).where(
                WebAuthnCredential.credential_id == credential_id)).first():
            raise ValidationFailed("credential: Khóa truy cập này đã được đăng ký / This passkey is already "
                                   "registered", field="credential")
        existing = db.session.execute(select(WebAuthnCredential.user_handle).where(
            WebAuthnCredential.user_id == user.id).limit(1)).scalar()
        row = WebAuthnCredential(user_id=user.id, credential_id=credential_id,
                                 public_key=verified.credential_public_key, sign_count=verified.sign_count,
                                 user_handle=existing or handle or bytes_to_base64url(secrets.token_bytes(32)),
                                 transports=transports or None, name=name, created_at=utc_now())
        db.session.add(row)
        db.session.flush()
    return row


def authentication_options(user: User) -> str | None:
    """Options for ``navigator.credentials.get`` naming the user's passkeys (JSON); None without any."""
    rows = credentials_of(user.id)
    if not rows:
        return None
    options = generate_authentication_options(rp_id=rp_id(), allow_credentials=_descriptors(rows),
                                              user_verification=UserVerificationRequirement.PREFERRED)
    _remember("authenticate", user.id, options.challenge)
    return options_to_json(options)


def authenticate(user: User, credential) -> WebAuthnCredential:
    """Check the browser's answer to ``authentication_options``: one of this user's passkeys signed
    this session's challenge. The signature counter moves forward (flushed; the caller commits)."""
    data = _credential_json(credential)
    challenge = _take("authenticate", user.id)
    with system_scope():
        row = db.session.execute(select(WebAuthnCredential).where(
            WebAuthnCredential.user_id == user.id, WebAuthnCredential.credential_id == data["id"])).scalar_one_or_none()
        if row is None:
            raise ValidationFailed(REFUSED, field="credential")
        try:
            verified = verify_authentication_response(
                credential=data, expected_challenge=challenge, expected_rp_id=rp_id(), expected_origin=origin(),
                credential_public_key=row.public_key, credential_current_sign_count=row.sign_count)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            log.info("passkey sign-in refused: %s", exc)
            raise ValidationFailed(REFUSED, field="credential") from None
        # conditional: two answers racing cannot both move the counter from the same value
        moved = db.session.execute(update(WebAuthnCredential).where(
            WebAuthnCredential.id == row.id, WebAuthnCredential.sign_count == row.sign_count)
            .values(sign_count=verified.new_sign_count, last_used_at=utc_now())).rowcount
        if not moved:
            raise ValidationFailed(REFUSED, field="credential")
        db.session.flush()
    return row


def remove(user_id: int, credential_row_id: int) -> bool:
    """Delete one passkey of ``user_id`` (False when it is not theirs); the caller commits."""
    with system_scope():
        return db.session.execute(delete(WebAuthnCredential).where(
            WebAuthnCredential.id == credential_row_id, WebAuthnCredential.user_id == user_id)).rowcount > 0
