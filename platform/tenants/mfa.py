"""Two-factor sign-in (issue #12): an authenticator app (TOTP) with recovery codes, and passkeys.

``signin.first_factor_passed`` asks ``needs_second_factor``; when it is true the browser holds only
``session["pending_2fa"]`` (nobody is signed in) and every page but this blueprint's sends it to
``/login/2fa``. A role in ``MFA_REQUIRED_ROLES`` must pass a second factor (and enrol one first);
anyone else may choose to. Failed codes count towards the account lockout (``throttle``).

TOTP secrets are encrypted at rest with the platform's Fernet key (``camnet.crypto``:
CAMERA_SECRET_KEY, else instance/camera.key). Recovery codes: 10, single-use, SHA-256 only.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from urllib.parse import urlsplit

import pyotp
import segno
from flask import (Blueprint, current_app, flash, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, login_required
from sqlalchemy import delete, func, select, update

from .. import settings
from ..clock import utc_now
from ..errors import DomainError, ValidationFailed
from ..extensions import db
from ..i18n import t
from ..settings import SettingsError
from .. import crypto  # the platform's Fernet helper: TOTP secrets at rest
from . import audit, signin, throttle, webauthn_support
from .access import require
from .models import RecoveryCode, TotpCredential, User, WebAuthnCredential
from .roles import ROLES, roles_of_id
from .scope import current_scope, system_scope

bp = Blueprint("mfa", __name__)

DIGITS, INTERVAL = 6, 30  # RFC 6238 defaults every authenticator app reads
RECOVERY_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no i, l, o, 0, 1: read aloud or copied by hand
RECOVERY_LENGTH = 16  # ~79 bits: a stolen table of SHA-256 hashes cannot be searched
ISSUER = "camnet"
WRONG_CODE = "code: Mã không đúng hoặc đã dùng / The code is wrong or was already used"
# Where a browser between its password and its second factor may go (plus sign-in and sign-out).
PENDING_ENDPOINTS = {"mfa.challenge", "mfa.challenge_passkey_options", "mfa.challenge_passkey", "mfa.enrol",
                     "mfa.enrol_passkey_options", "mfa.enrol_passkey", "mfa.cancel", "mfa.recovery"}
OPEN_ENDPOINTS = {"static", "ops.healthz", "ops.readyz", "metrics.metrics", "tenants.login"}
# The demo's staff whose role requires two factors (MFA_REQUIRED_ROLES) are enrolled with this
# published authenticator secret (base32), so a newcomer can add it to any authenticator app.
DEMO_TOTP_SECRET = "CAMNETDEMOTOTPAAAAAAAAAAAAAAAAAA"


# ---- who needs it --------------------------------------------------------------------------

def required_roles(config=None) -> set[str]:
    raw = (config if config is not None else current_app.config).get("MFA_REQUIRED_ROLES") or ()
    if isinstance(raw, str):
        raw = raw.split(",")
    return {str(role).strip() for role in raw if str(role).strip()}


def role_requires(user_id: int) -> bool:
    """Whether a role this user holds (anywhere) requires a second factor."""
    return bool(roles_of_id(user_id) & required_roles())


def factors(user_id: int) -> dict:
    """What the user has enrolled: a confirmed TOTP, passkeys, unused recovery codes."""
    with system_scope():
        totp = db.session.execute(select(TotpCredential.id).where(
            TotpCredential.user_id == user_id, TotpCredential.secret_enc.is_not(None))).first() is not None
        passkeys = db.session.execute(select(func.count(WebAuthnCredential.id)).where(
            WebAuthnCredential.user_id == user_id)).scalar_one()
        left = db.session.execute(select(func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))).scalar_one()
    return {"totp": totp, "passkeys": passkeys, "recovery_left": left}


def has_factor(user_id: int) -> bool:
    found = factors(user_id)
    return found["totp"] or found["passkeys"] > 0


def needs_second_factor(user) -> bool:
    """True when the user's role requires a second factor, or they enrolled one themselves."""
    return role_requires(user.id) or has_factor(user.id)


# ---- TOTP ----------------------------------------------------------------------------------

def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)


def _steps_matching(secret: str, code: str) -> list[int]:
    """The 30-second steps (now, one before, one after) whose code is ``code``."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{%d}" % DIGITS, code):
        return []
    totp, now = _totp(secret), int(time.time()) // INTERVAL
    return [step for step in (now - 1, now, now + 1) if hmac.compare_digest(totp.generate_otp(step), code)]


def _totp_row(user_id: int) -> TotpCredential | None:
    with system_scope():
        return db.session.execute(select(TotpCredential).where(TotpCredential.user_id == user_id)).scalar_one_or_none()


def _decrypt(token: str | None) -> str | None:
    try:
        return crypto.decrypt(token)
    except RuntimeError:  # a changed key: the secret is lost, an admin resets the user's factors
        current_app.logger.error("a TOTP secret cannot be decrypted: wrong CAMERA_SECRET_KEY?")
        return None


def start_totp(user_id: int, fresh: bool = False) -> str:
    """A new secret waiting for its first code (an enrolment in progress is kept unless ``fresh``)."""
    with system_scope():
        row = _totp_row(user_id)
        if row is not None and row.pending_secret_enc and not fresh:
            secret = _decrypt(row.pending_secret_enc)
            if secret:
                return secret
        secret = pyotp.random_base32(32)
        if row is None:
            row = TotpCredential(user_id=user_id)
            db.session.add(row)
        row.pending_secret_enc, row.pending_at = crypto.encrypt(secret), utc_now()
        db.session.flush()
        db.session.commit()
    return secret


def pending_totp_secret(user_id: int) -> str | None:
    row = _totp_row(user_id)
    return _decrypt(row.pending_secret_enc) if row is not None and row.pending_secret_enc else None


def confirm_totp(user_id: int, code: str) -> bool:
    """The first code from the app confirms the enrolment in progress (it then counts as used)."""
    with system_scope():
        row = _totp_row(user_id)
        secret = _decrypt(row.pending_secret_enc) if row is not None and row.pending_secret_enc else None
        steps = _steps_matching(secret, code) if secret else []
        if not steps:
            return False
        row.secret_enc, row.last_used_step, row.confirmed_at = row.pending_secret_enc, max(steps), utc_now()
        row.pending_secret_enc = row.pending_at = None
        db.session.flush()
    return True


def check_totp(user_id: int, code: str) -> bool:
    """A code of the user's app, each 30-second step accepted once (the newest step used is kept;
    the conditional update lets only one of two racing requests through)."""
    with system_scope():
        row = _totp_row(user_id)
        secret = _decrypt(row.secret_enc) if row is not None and row.secret_enc else None
        for step in (_steps_matching(secret, code) if secret else []):
            moved = db.session.execute(update(TotpCredential).where(
                TotpCredential.id == row.id,
                (TotpCredential.last_used_step.is_(None)) | (TotpCredential.last_used_step < step))
                .values(last_used_step=step)).rowcount
            if moved:
                return True
    return False


def totp_uri(user: User, secret: str) -> str:
    return _totp(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG, drawn on the server (no script, no third party)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", border=3)


def is_demo_secret(user_id: int) -> bool:
    """The demo enrols its staff with one published secret: say so on the sign-in page."""
    row = _totp_row(user_id)
    return row is not None and bool(row.secret_enc) and _decrypt(row.secret_enc) == DEMO_TOTP_SECRET


# ---- recovery codes ------------------------------------------------------------------------

def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normal_code(code: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (code or "").lower())


def new_recovery_codes(user_id: int) -> list[str]:
    """Ten fresh codes replace every earlier one; returned once, only their hashes are kept."""
    raw = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH)) for _ in range(RECOVERY_COUNT)]
    with system_scope():
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        db.session.add_all([RecoveryCode(user_id=user_id, code_hash=_code_hash(c), created_at=utc_now()) for c in raw])
        db.session.flush()
    return ["-".join(c[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4)) for c in raw]


def use_recovery_code(user_id: int, code: str) -> bool:
    code = _normal_code(code)
    if len(code) != RECOVERY_LENGTH:
        return False
    with system_scope():
        return db.session.execute(update(RecoveryCode).where(
            RecoveryCode.user_id == user_id, RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None)).values(used_at=utc_now())).rowcount > 0


# ---- removing factors ----------------------------------------------------------------------

def clear_factors(user_id: int) -> dict:
    """Delete every second factor of a user (the caller audits and commits)."""
    with system_scope():
        counts = {"totp": db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user_id)).rowcount,
                  "passkeys": db.session.execute(delete(WebAuthnCredential).where(
                      WebAuthnCredential.user_id == user_id)).rowcount}
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    return counts


def _keeps_a_factor(user_id: int, removing: str) -> None:
    """A user whose role requires two factors keeps at least one (TOTP or a passkey)."""
    if not role_requires(user_id):
        return
    found = factors(user_id)
    left = (0 if removing == "totp" else int(found["totp"])) + found["passkeys"] - (1 if removing == "passkey" else 0)
    if left < 1:
        raise ValidationFailed("factor: Vai trò của bạn bắt buộc xác thực hai lớp: hãy thêm cách khác trước khi xóa "
                               "cách cuối cùng / Your role requires two-factor sign-in: add another method before "
                               "removing the last one", field="factor")


def reset_for_user(user_id: int) -> User:
    """An admin clears the second factors of a user in their scope (a lost phone): 404 outside it,
    403 for someone holding roles beyond it (``accounts.manageable_user``). Their sessions end; at
    the next sign-in a role that requires two factors enrols again."""
    from . import accounts, sessions

    user = accounts.manageable_user(user_id)
    if user.id == current_scope().user_id:
        raise ValidationFailed("user_id: Không thể tự đặt lại xác thực hai lớp của mình; dùng trang Bảo mật / "
                               "You cannot reset your own two-factor sign-in; use the Security page",
                               field="user_id")
    counts = clear_factors(user.id)
    counts["sessions_ended"] = sessions.revoke_all_for_user(user.id, "mfa_reset")
    audit.record("user.mfa.reset", unit_id=user.unit_id, object_type="user", object_id=user.id, detail=counts)
    db.session.commit()
    return user


# ---- the browser between its two factors --------------------------------------------------

def pending() -> dict | None:
    """This browser's sign-in waiting for a second factor, or None (none, malformed or expired:
    an expired one is dropped)."""
    found = session.get(signin.PENDING_KEY)
    if found is None:
        return None
    ttl = int(current_app.config.get("MFA_PENDING_SECONDS") or 300)
    ok = (isinstance(found, dict) and isinstance(found.get("user_id"), int) and isinstance(found.get("at"), int)
          and isinstance(found.get("method"), str) and isinstance(found.get("next"), str)
          and 0 <= time.time() - found["at"] <= ttl)
    if not ok:
        session.pop(signin.PENDING_KEY, None)
        return None
    return found


def pending_user() -> tuple[User, dict] | None:
    found = pending()
    if found is None:
        return None
    with system_scope():
        user = db.session.get(User, found["user_id"])
        if user is not None:
            db.session.expunge(user)  # kept whole through a rollback (a reload would meet the tenant scope)
    if user is None or not user.active:
        session.pop(signin.PENDING_KEY, None)
        return None
    return user, found


def _next(found: dict) -> str:
    target = found.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and not urlsplit(target).netloc:
        return target
    return url_for("tenants.home")


def _locked(user: User) -> int:
    return throttle.locked_for(user.username, request.remote_addr)


def _failed(user: User, factor: str) -> None:
    throttle.note_failure(user.username, request.remote_addr)
    audit.record("auth.mfa", outcome="failed", unit_id=user.unit_id, actor_name=user.username,
                 object_type="user", object_id=user.id, detail={"factor": factor})
    db.session.commit()


def _finish(user: User, found: dict, factor: str) -> str:
    """The second factor passed: audit, open the session, and say where to go."""
    audit.record("auth.mfa", unit_id=user.unit_id, actor=user, object_type="user", object_id=user.id,
                 detail={"factor": factor, "method": found["method"]})
    db.session.commit()
    signin.open_session(user, f"{found['method']}+{factor}")
    return _next(found)


def _gate():
    """While a sign-in waits for its second factor, every page but the second-factor ones sends the
    browser there. The API is not redirected: nobody is signed in, so it answers 401 itself."""
    if signin.PENDING_KEY not in session:
        return None
    endpoint = request.endpoint or ""
    if endpoint == "tenants.logout":
        session.pop(signin.PENDING_KEY, None)
        return None
    if endpoint in PENDING_ENDPOINTS or endpoint in OPEN_ENDPOINTS or endpoint.startswith("sso."):
        return None
    if request.path.startswith("/api/") or pending() is None:
        return None
    return redirect(url_for("mfa.challenge"))


def _expired():
    flash(t("Phiên xác thực đã hết hạn, hãy đăng nhập lại", "The sign-in expired, please sign in again"), "error")
    return redirect(url_for("tenants.login"))


def _json_error(exc: DomainError, status: int | None = None):
    return jsonify(exc.to_dict()), status or exc.status


def _lock_message(wait: int) -> str:
    return f"code: Tạm khóa đăng nhập, thử lại sau {wait} giây / Sign-in locked, retry in {wait} s"


# ---- pages: the second factor --------------------------------------------------------------

@bp.route("/login/2fa", methods=["GET", "POST"])
def challenge():
    found = pending_user()
    if found is None:
        return _expired()
    user, state = found
    have = factors(user.id)
    if not (have["totp"] or have["passkeys"]):
        if role_requires(user.id):
            return redirect(url_for("mfa.enrol"))
        signin.open_session(user, state["method"])  # the factors were reset meanwhile and none is required
        return redirect(_next(state))
    error, status = None, 200
    if request.method == "POST":
        wait = _locked(user)
        factor = "recovery" if request.form.get("kind") == "recovery" else "totp"
        if wait:
            error, status = _lock_message(wait), 429
        elif (use_recovery_code if factor == "recovery" else check_totp)(user.id, request.form.get("code", "")):
            target = _finish(user, state, factor)
            if factor == "recovery":
                left = factors(user.id)["recovery_left"]
                flash(t(f"Đã dùng một mã dự phòng, còn {left} mã. Hãy kiểm tra thiết bị xác thực của bạn.",
                        f"A recovery code was used, {left} left. Check your authenticator."), "ok")
            return redirect(target)
        else:
            db.session.rollback()
            _failed(user, factor)
            error, status = WRONG_CODE, 401
    return render_template("mfa/challenge.html", user=user, have=have, error=error,
                           demo=have["totp"] and is_demo_secret(user.id)), status


@bp.route("/login/2fa/passkey/options", methods=["POST"])
def challenge_passkey_options():
    found = pending_user()
    if found is None:
        return _json_error(ValidationFailed("pending: Phiên xác thực đã hết hạn / The sign-in expired",
                                            field="pending"), 401)
    options = webauthn_support.authentication_options(found[0])
    if options is None:
        return _json_error(ValidationFailed("credential: Chưa có khóa truy cập / No passkey enrolled",
                                            field="credential"), 404)
    return current_app.response_class(options, mimetype="application/json", headers={"Cache-Control": "no-store"})


@bp.route("/login/2fa/passkey", methods=["POST"])
def challenge_passkey():
    found = pending_user()
    if found is None:
        return _json_error(ValidationFailed("pending: Phiên xác thực đã hết hạn / The sign-in expired",
                                            field="pending"), 401)
    user, state = found
    wait = _locked(user)
    if wait:
        return _json_error(ValidationFailed(_lock_message(wait), field="credential"), 429)
    body = request.get_json(silent=True) or {}
    try:
        webauthn_support.authenticate(user, body.get("credential") if isinstance(body, dict) else None)
    except ValidationFailed as exc:
        db.session.rollback()
        _failed(user, "webauthn")
        return _json_error(exc, 401)
    return jsonify({"redirect": _finish(user, state, "webauthn")})


@bp.route("/login/2fa/cancel", methods=["POST"])
def cancel():
    session.pop(signin.PENDING_KEY, None)
    return redirect(url_for("tenants.login"))


# ---- pages: enrolment forced on a role that requires it ------------------------------------

def _enrolling():
    """The pending user who must enrol: their role requires a second factor and they have none.
    Anyone else is sent to the challenge (a password alone never adds a factor to an account
    that has one)."""
    found = pending_user()
    if found is None:
        return None, _expired()
    user, state = found
    if has_factor(user.id) or not role_requires(user.id):
        return None, redirect(url_for("mfa.challenge"))
    return (user, state), None


@bp.route("/login/2fa/enrol", methods=["GET", "POST"])
def enrol():
    found, response = _enrolling()
    if response is not None:
        return response
    user, state = found
    error, status = None, 200
    if request.method == "POST":
        if confirm_totp(user.id, request.form.get("code", "")):
            codes = new_recovery_codes(user.id)
            audit.record("user.mfa.enrol", unit_id=user.unit_id, actor=user, object_type="user", object_id=user.id,
                         detail={"factor": "totp", "forced": True})
            target = _finish(user, state, "totp")
            return render_template("mfa/recovery.html", codes=codes, next_url=target), 200, {"Cache-Control": "no-store"}
        db.session.rollback()
        error, status = WRONG_CODE, 422
    secret = start_totp(user.id)
    return render_template("mfa/enrol.html", user=user, secret=secret, qr=qr_svg(totp_uri(user, secret)),
                           error=error), status, {"Cache-Control": "no-store"}


@bp.route("/login/2fa/enrol/passkey/options", methods=["POST"])
def enrol_passkey_options():
    found, response = _enrolling()
    if response is not None:
        return _json_error(ValidationFailed("pending: Không thể đăng ký lúc này / Enrolment not allowed now",
                                            field="pending"), 401)
    return current_app.response_class(webauthn_support.registration_options(found[0]), mimetype="application/json",
                                      headers={"Cache-Control": "no-store"})


@bp.route("/login/2fa/enrol/passkey", methods=["POST"])
def enrol_passkey():
    found, response = _enrolling()
    if response is not None:
        return _json_error(ValidationFailed("pending: Không thể đăng ký lúc này / Enrolment not allowed now",
                                            field="pending"), 401)
    user, state = found
    body = request.get_json(silent=True) or {}
    body = body if isinstance(body, dict) else {}
    try:
        webauthn_support.register(user, body.get("credential"), body.get("name"))
    except ValidationFailed as exc:
        db.session.rollback()
        return _json_error(exc, 422)
    audit.record("user.mfa.enrol", unit_id=user.unit_id, actor=user, object_type="user", object_id=user.id,
                 detail={"factor": "webauthn", "forced": True})
    target = _finish(user, state, "webauthn")
    return jsonify({"redirect": url_for("mfa.recovery", next=target)})


# ---- pages: the signed-in user's own security ---------------------------------------------

@bp.route("/me/security/recovery", methods=["GET", "POST"])
@login_required
def recovery():
    """New recovery codes (replacing the old ones), shown once; after a passkey enrolment too."""
    target = _next({"next": request.args.get("next", "")}) if request.args.get("next") else url_for("mfa.security")
    if request.method == "POST":
        codes = new_recovery_codes(current_user.id)
        audit.record("user.mfa.recovery_codes", unit_id=current_user.unit_id, object_type="user",
                     object_id=current_user.id)
        db.session.commit()
        return render_template("mfa/recovery.html", codes=codes, next_url=target), 200, {"Cache-Control": "no-store"}
    return render_template("mfa/recovery.html", codes=None, next_url=target, have=factors(current_user.id))


def _security_action(user: User, action: str):
    """One change on the security page; returns a response or None (then the page is shown)."""
    if action == "totp-start":
        start_totp(user.id, fresh=True)
        return redirect(url_for("mfa.security") + "#totp")
    if action == "totp-confirm":
        first = not has_factor(user.id)
        if not confirm_totp(user.id, request.form.get("code", "")):
            raise ValidationFailed(WRONG_CODE, field="code")
        audit.record("user.mfa.enrol", unit_id=user.unit_id, object_type="user", object_id=user.id,
                     detail={"factor": "totp"})
        if first:
            codes = new_recovery_codes(user.id)
            db.session.commit()
            return render_template("mfa/recovery.html", codes=codes, next_url=url_for("mfa.security")), 200, \
                {"Cache-Control": "no-store"}
        db.session.commit()
        flash(t("Đã bật ứng dụng xác thực", "Authenticator app enabled"), "ok")
    elif action == "totp-remove":
        _keeps_a_factor(user.id, "totp")
        with system_scope():
            db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
        audit.record("user.mfa.remove", unit_id=user.unit_id, object_type="user", object_id=user.id,
                     detail={"factor": "totp"})
        db.session.commit()
        flash(t("Đã gỡ ứng dụng xác thực", "Authenticator app removed"), "ok")
    elif action == "passkey-remove":
        raw = request.form.get("credential_id", "")
        if not raw.isdigit():
            raise ValidationFailed("credential_id: Không hợp lệ / Invalid", field="credential_id")
        _keeps_a_factor(user.id, "passkey")
        if not webauthn_support.remove(user.id, int(raw)):
            raise ValidationFailed("credential_id: Không tìm thấy khóa truy cập / Passkey not found",
                                   field="credential_id")
        audit.record("user.mfa.remove", unit_id=user.unit_id, object_type="user", object_id=user.id,
                     detail={"factor": "webauthn", "credential": int(raw)})
        db.session.commit()
        flash(t("Đã xóa khóa truy cập", "Passkey removed"), "ok")
    elif action == "disable":
        if role_requires(user.id):
            raise ValidationFailed("action: Vai trò của bạn bắt buộc xác thực hai lớp / Your role requires "
                                   "two-factor sign-in", field="action")
        counts = clear_factors(user.id)
        audit.record("user.mfa.disable", unit_id=user.unit_id, object_type="user", object_id=user.id, detail=counts)
        db.session.commit()
        flash(t("Đã tắt xác thực hai lớp", "Two-factor sign-in turned off"), "ok")
    else:
        raise ValidationFailed("action: Không rõ thao tác / Unknown action", field="action")
    if not has_factor(user.id) and factors(user.id)["recovery_left"]:
        clear_factors(user.id)  # codes without a factor would be a second factor nobody asks for
        db.session.commit()
    return redirect(url_for("mfa.security"))


@bp.route("/me/security", methods=["GET", "POST"])
@login_required
def security():
    """Enrol an authenticator app or passkeys, regenerate recovery codes, turn two factors off."""
    user = current_user._get_current_object()
    error, status = None, 200
    if request.method == "POST":
        try:
            response = _security_action(user, request.form.get("action", ""))
        except ValidationFailed as exc:
            db.session.rollback()
            error, status = exc.message, 422
        else:
            if response is not None:
                return response
    pending_secret = pending_totp_secret(user.id)
    return render_template(
        "mfa/security.html", user=user, have=factors(user.id), required=role_requires(user.id),
        passkeys=webauthn_support.credentials_of(user.id), pending_secret=pending_secret,
        qr=qr_svg(totp_uri(user, pending_secret)) if pending_secret else None, error=error,
    ), status, {"Cache-Control": "no-store"}


@bp.route("/me/security/passkey/options", methods=["POST"])
@login_required
def security_passkey_options():
    return current_app.response_class(webauthn_support.registration_options(current_user), mimetype="application/json",
                                      headers={"Cache-Control": "no-store"})


@bp.route("/me/security/passkey", methods=["POST"])
@login_required
def security_passkey():
    user = current_user._get_current_object()
    body = request.get_json(silent=True) or {}
    body = body if isinstance(body, dict) else {}
    first = not has_factor(user.id)
    try:
        webauthn_support.register(user, body.get("credential"), body.get("name"))
    except ValidationFailed as exc:
        db.session.rollback()
        return _json_error(exc, 422)
    audit.record("user.mfa.enrol", unit_id=user.unit_id, object_type="user", object_id=user.id,
                 detail={"factor": "webauthn"})
    db.session.commit()
    target = url_for("mfa.recovery") if first else url_for("mfa.security")
    return jsonify({"redirect": target})


# ---- an admin: reset a user's two factors (loss of device) --------------------------------

@bp.route("/users/<int:user_id>/reset-two-factor", methods=["POST"])
@login_required
def admin_reset(user_id: int):
    require("users.manage")
    try:
        user = reset_for_user(user_id)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(t("Đã đặt lại xác thực hai lớp của ", "Two-factor sign-in reset for ") + user.username, "ok")
    return redirect(url_for("tenants.users"))


def init_app(app) -> None:
    """Settings, the blueprint, the rule ``signin`` asks, and the gate that keeps a half-signed-in
    browser on its second factor."""
    for key, value in settings.mfa_from_env().items():
        app.config.setdefault(key, value)
    unknown = required_roles(app.config) - set(ROLES)
    if unknown:
        raise SettingsError(f"MFA_REQUIRED_ROLES: unknown role codes {sorted(unknown)} (known: {', '.join(ROLES)})")
    app.register_blueprint(bp)
    if needs_second_factor not in signin.SECOND_FACTOR_RULES:
        signin.SECOND_FACTOR_RULES.append(needs_second_factor)
    app.before_request(_gate)
