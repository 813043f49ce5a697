"""Two-factor sign-in (issue #12): what a password alone reaches, TOTP, recovery codes, the admin's
reset, and the attacks on each, on SQLite and PostgreSQL. Passkeys in the browser: tests/e2e."""
from __future__ import annotations

import hashlib
import re
import time

import pyotp
import pytest
from sqlalchemy import func, select, text

from camnet.extensions import db
from camnet.settings import SettingsError
from camnet.tenants.models import (AuditEvent, RecoveryCode, RoleGrant, TotpCredential, User, UserSession,
                                   WebAuthnCredential)
from camnet.tenants.scope import system_scope

REQUIRED = "admin,police"


@pytest.fixture
def mfa_app(any_app):
    any_app.config["MFA_REQUIRED_ROLES"] = REQUIRED
    return any_app


def _count(model, *where) -> int:
    with system_scope():
        found = db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    db.session.rollback()
    return found


def _user_id(username: str) -> int:
    with system_scope():
        found = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
    db.session.rollback()
    return found


def _password(client, world, username):
    return client.post("/login", data={"username": username, "password": world.password})


def _secret_on(page: str) -> str:
    return re.search(r'id="totp-secret" class="secret">([A-Z2-7]+)<', page).group(1)


def _codes_on(page: str) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9-]{19})</code></li>", page)


def _enrol_by_password(client, world, username) -> tuple[str, list[str]]:
    """Password, then the forced enrolment: the secret read off the page, the first code."""
    assert _password(client, world, username).headers["Location"].endswith("/login/2fa")
    assert client.get("/login/2fa").headers["Location"].endswith("/login/2fa/enrol")
    page = client.get("/login/2fa/enrol").get_data(as_text=True)
    secret = _secret_on(page)
    assert "<svg" in page  # the QR code, drawn on the server
    resp = client.post("/login/2fa/enrol", data={"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    codes = _codes_on(resp.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def _next_code(secret: str) -> str:
    """The code of the next 30-second step: inside the ±1 window, never the step enrolment used."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_a_password_alone_reaches_nothing_for_a_role_that_requires_two_factors(mfa_app, world):
    client = mfa_app.test_client()
    resp = _password(client, world, "police_dist")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/2fa")
    for url in ("/", "/units", "/users", "/audit", "/me", "/me/security", "/tokens", "/no-such-page"):
        got = client.get(url)
        assert got.status_code == 302 and got.headers["Location"].endswith("/login/2fa"), url
    assert client.get("/api/v1/me").status_code == 401
    assert client.post("/api/v1/tokens", json={"name": "x"}).status_code == 401
    with client.session_transaction() as sess:
        assert "_user_id" not in sess and "sid" not in sess
    assert _count(UserSession, UserSession.user_id == world.users["police_dist"].id) == 0
    # with no factor yet, the only way on is enrolment
    assert client.get("/login/2fa").headers["Location"].endswith("/login/2fa/enrol")


def test_enrolment_then_sign_in_with_a_code_each_code_once(mfa_app, world):
    client = mfa_app.test_client()
    secret, _ = _enrol_by_password(client, world, "police_dist")
    assert client.get("/api/v1/me").status_code == 200
    client.post("/logout")
    assert client.get("/api/v1/me").status_code == 401

    _password(client, world, "police_dist")
    enrolled_code = pyotp.TOTP(secret).now()  # the step enrolment consumed (or the one before)
    resp = client.post("/login/2fa", data={"code": enrolled_code})
    assert resp.status_code == 401 and "already used" in resp.get_data(as_text=True)
    code = _next_code(secret)
    resp = client.post("/login/2fa", data={"code": code})
    assert resp.status_code == 302 and not resp.headers["Location"].endswith("/login/2fa")
    assert client.get("/api/v1/me").get_json()["username"] == "police_dist"
    with system_scope():
        methods = db.session.execute(select(UserSession.method).where(
            UserSession.user_id == world.users["police_dist"].id).order_by(UserSession.id)).scalars().all()
    assert methods == ["password+totp", "password+totp"]
    client.post("/logout")

    # a replayed code (someone watching over the shoulder) is refused and counts as a failure
    _password(client, world, "police_dist")
    resp = client.post("/login/2fa", data={"code": code})
    assert resp.status_code == 401
    assert client.get("/api/v1/me").status_code == 401
    assert _count(AuditEvent, AuditEvent.action == "auth.mfa", AuditEvent.outcome == "failed") == 2


def test_a_recovery_code_works_once(mfa_app, world):
    client = mfa_app.test_client()
    _, codes = _enrol_by_password(client, world, "police_prov")
    client.post("/logout")
    _password(client, world, "police_prov")
    resp = client.post("/login/2fa", data={"kind": "recovery", "code": codes[3].upper().replace("-", " ")})
    assert resp.status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    client.post("/logout")
    _password(client, world, "police_prov")
    assert client.post("/login/2fa", data={"kind": "recovery", "code": codes[3]}).status_code == 401
    assert client.get("/api/v1/me").status_code == 401
    user_id = world.users["police_prov"].id
    assert _count(RecoveryCode, RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)) == 9
    with system_scope():
        hashes = set(db.session.execute(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id)).scalars())
    assert hashlib.sha256(codes[0].replace("-", "").encode()).hexdigest() in hashes  # only hashes are kept
    assert not any(c.replace("-", "") in h for c in codes for h in hashes)


def test_a_password_never_adds_a_factor_to_an_account_that_has_one(mfa_app, world):
    """The attacker knows the password, not the phone: enrolling their own app is refused."""
    victim = mfa_app.test_client()
    secret, _ = _enrol_by_password(victim, world, "police_dist")
    attacker = mfa_app.test_client()
    _password(attacker, world, "police_dist")
    assert attacker.get("/login/2fa/enrol").headers["Location"].endswith("/login/2fa")
    mine = pyotp.random_base32()
    resp = attacker.post("/login/2fa/enrol", data={"code": pyotp.TOTP(mine).now()})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/2fa")
    assert attacker.post("/login/2fa/enrol/passkey/options").status_code == 401
    assert attacker.post("/login/2fa/enrol/passkey", json={"credential": {"id": "x"}}).status_code == 401
    assert attacker.get("/api/v1/me").status_code == 401
    user_id = world.users["police_dist"].id
    with system_scope():
        row = db.session.execute(select(TotpCredential.pending_secret_enc, TotpCredential.secret_enc)
                                 .where(TotpCredential.user_id == user_id)).one()
    db.session.rollback()
    assert row[0] is None and secret not in row[1]  # unchanged, encrypted
    assert _count(WebAuthnCredential, WebAuthnCredential.user_id == user_id) == 0


def test_the_pending_sign_in_expires_after_five_minutes(mfa_app, world):
    client = mfa_app.test_client()
    secret, _ = _enrol_by_password(client, world, "police_dist")
    client.post("/logout")
    _password(client, world, "police_dist")
    with client.session_transaction() as sess:
        sess["pending_2fa"]["at"] -= 301
        sess.modified = True
    resp = client.post("/login/2fa", data={"code": _next_code(secret)})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"] and "2fa" not in resp.headers["Location"]
    assert client.get("/api/v1/me").status_code == 401
    with client.session_transaction() as sess:
        assert "pending_2fa" not in sess
    # the code was not spent: a fresh sign-in takes it
    _password(client, world, "police_dist")
    assert client.post("/login/2fa", data={"code": _next_code(secret)}).status_code == 302


def test_wrong_codes_lock_the_account_like_wrong_passwords(mfa_app, world):
    client = mfa_app.test_client()
    secret, _ = _enrol_by_password(client, world, "police_dist")
    client.post("/logout")
    _password(client, world, "police_dist")
    for _ in range(mfa_app.config["LOGIN_MAX_FAILURES"]):
        assert client.post("/login/2fa", data={"code": "000000"}).status_code == 401
    resp = client.post("/login/2fa", data={"code": _next_code(secret)})
    assert resp.status_code == 429 and "locked" in resp.get_data(as_text=True)
    assert client.get("/api/v1/me").status_code == 401
    # the account itself is locked: the password is refused too
    resp = mfa_app.test_client().post("/login", data={"username": "police_dist", "password": world.password})
    assert resp.status_code == 401 and "Sign-in locked" in resp.get_data(as_text=True)


def test_garbage_passkey_answers_are_refused_with_a_named_field(mfa_app, world):
    client = mfa_app.test_client()
    _enrol_by_password(client, world, "police_dist")
    client.post("/logout")
    _password(client, world, "police_dist")
    assert client.post("/login/2fa/passkey/options").status_code == 404  # no passkey enrolled
    for body in ({}, {"credential": "not json"}, {"credential": {"id": "AAAA", "response": {}}}, [1, 2]):
        resp = client.post("/login/2fa/passkey", json=body)
        assert resp.status_code == 401 and resp.get_json()["field"] == "credential", body
    assert client.get("/api/v1/me").status_code == 401


def _commune_admin(world, key="a") -> str:
    with system_scope():
        user = User(username=f"admin_{key}", full_name="Quản trị xã", unit_id=world.units[key].id,
                    password_hash=db.session.execute(select(User.password_hash).where(
                        User.username == "operator_a")).scalar_one())
        db.session.add(user)
        db.session.flush()
        db.session.add(RoleGrant(user_id=user.id, role="admin", unit_id=world.units[key].id))
        db.session.commit()
    return user.username


def _enrol_directly(username: str) -> str:
    """A TOTP enrolled without the pages (the setting for tests that are about something else)."""
    from camnet.tenants import mfa

    user_id = _user_id(username)
    with system_scope():
        secret = mfa.start_totp(user_id)
        assert mfa.confirm_totp(user_id, pyotp.TOTP(secret).now())
        mfa.new_recovery_codes(user_id)
        db.session.commit()
    return secret


def test_an_admin_of_commune_a_cannot_reset_two_factors_in_commune_b(mfa_app, world, client_for):
    admin_a = _commune_admin(world)
    mfa_app.config["MFA_REQUIRED_ROLES"] = "police"  # the commune admin signs in by password here
    _enrol_directly("operator_b")
    secret_a = _enrol_directly("operator_a")
    target_b, target_a = _user_id("operator_b"), _user_id("operator_a")
    client = client_for(admin_a)
    resp = client.post(f"/users/{target_b}/reset-two-factor")
    assert resp.status_code == 404
    assert _count(TotpCredential, TotpCredential.user_id == target_b) == 1
    assert _count(RecoveryCode, RecoveryCode.user_id == target_b) == 10
    assert _count(AuditEvent, AuditEvent.action == "user.mfa.reset") == 0
    # a chairman may read the commune's users but not manage them
    chairman = client_for("chairman_a")
    assert chairman.post(f"/users/{target_a}/reset-two-factor").status_code == 403
    assert _count(TotpCredential, TotpCredential.user_id == target_a) == 1
    # an id beyond any row answers the same as one outside the scope
    assert client.post("/users/999999/reset-two-factor").status_code == 404
    # in scope: cleared, audited, sessions ended
    operator = client_for("operator_a")
    assert operator.post("/login/2fa", data={"code": _next_code(secret_a)}).status_code == 302
    assert operator.get("/api/v1/me").status_code == 200
    resp = client.post(f"/users/{target_a}/reset-two-factor")
    assert resp.status_code == 302
    assert operator.get("/api/v1/me").status_code == 401
    assert _count(TotpCredential, TotpCredential.user_id == target_a) == 0
    assert _count(RecoveryCode, RecoveryCode.user_id == target_a) == 0
    assert _count(AuditEvent, AuditEvent.action == "user.mfa.reset", AuditEvent.object_id == str(target_a)) == 1
    # an admin cannot reset their own (that is the Security page's business)
    client.post(f"/users/{_user_id(admin_a)}/reset-two-factor")
    assert _count(AuditEvent, AuditEvent.action == "user.mfa.reset") == 1


def test_after_a_reset_a_required_role_enrols_again(mfa_app, world, client_for):
    client = mfa_app.test_client()
    _enrol_by_password(client, world, "police_dist")
    client.post("/logout")
    admin = mfa_app.test_client()
    admin_secret = _enrol_directly("admin")
    _password(admin, world, "admin")
    assert admin.post("/login/2fa", data={"code": _next_code(admin_secret)}).status_code == 302
    assert admin.post(f"/users/{world.users['police_dist'].id}/reset-two-factor").status_code == 302
    _password(client, world, "police_dist")
    assert client.get("/login/2fa").headers["Location"].endswith("/login/2fa/enrol")
    secret = _secret_on(client.get("/login/2fa/enrol").get_data(as_text=True))
    assert client.post("/login/2fa/enrol", data={"code": pyotp.TOTP(secret).now()}).status_code == 200
    assert client.get("/api/v1/me").status_code == 200


def test_a_required_role_cannot_turn_two_factors_off(mfa_app, world):
    client = mfa_app.test_client()
    _enrol_by_password(client, world, "police_dist")
    user_id = world.users["police_dist"].id
    for action in ("disable", "totp-remove"):
        resp = client.post("/me/security", data={"action": action})
        assert resp.status_code == 422 and "requires two-factor" in resp.get_data(as_text=True), action
    assert _count(TotpCredential, TotpCredential.user_id == user_id, TotpCredential.secret_enc.is_not(None)) == 1
    assert _count(RecoveryCode, RecoveryCode.user_id == user_id) == 10
    resp = client.post("/me/security", data={"action": "passkey-remove", "credential_id": "1"})
    assert resp.status_code == 422
    assert client.post("/me/security", data={"action": "nonsense"}).status_code == 422


def test_an_optional_user_enrols_on_the_security_page_and_may_turn_it_off(mfa_app, world, client_for):
    client = client_for("operator_a")
    assert client.get("/api/v1/me").status_code == 200  # no role requiring it: password alone
    assert client.post("/me/security", data={"action": "totp-start"}).status_code == 302
    secret = _secret_on(client.get("/me/security").get_data(as_text=True))
    wrong = client.post("/me/security", data={"action": "totp-confirm", "code": "123456"})
    assert wrong.status_code == 422 and "code:" in wrong.get_data(as_text=True)
    resp = client.post("/me/security", data={"action": "totp-confirm", "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200 and len(_codes_on(resp.get_data(as_text=True))) == 10
    client.post("/logout")
    resp = _password(client, world, "operator_a")
    assert resp.headers["Location"].endswith("/login/2fa")  # chose it, so asked for it
    assert client.post("/login/2fa", data={"code": _next_code(secret)}).status_code == 302
    codes = _codes_on(client.post("/me/security/recovery").get_data(as_text=True))
    assert len(codes) == 10 and _count(RecoveryCode, RecoveryCode.user_id == world.users["operator_a"].id) == 10
    assert client.post("/me/security", data={"action": "disable"}).status_code == 302
    assert _count(TotpCredential, TotpCredential.user_id == world.users["operator_a"].id) == 0
    assert _count(RecoveryCode, RecoveryCode.user_id == world.users["operator_a"].id) == 0
    client.post("/logout")
    assert _password(client, world, "operator_a").headers["Location"].endswith("/")


def test_second_factors_are_readable_only_by_the_platform_itself(mfa_app, world, client_for):
    """Secrets are encrypted; on PostgreSQL even raw SQL under a tenant's scope sees no row."""
    secret = _enrol_directly("police_dist")
    with system_scope():
        stored = db.session.execute(text("SELECT secret_enc FROM mfa_totp")).scalars().all()
    db.session.rollback()
    assert len(stored) == 1 and secret not in stored[0]
    if mfa_app.config["CAMNET_BACKEND"] == "postgres":
        for table in ("mfa_totp", "mfa_recovery_codes", "mfa_webauthn_credentials"):
            assert db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
            db.session.rollback()
        from camnet.tenants.roles import scope_for_user
        from camnet.tenants.scope import use_scope

        with use_scope(scope_for_user(world.users["admin"])):
            assert db.session.execute(text("SELECT count(*) FROM mfa_recovery_codes")).scalar() == 0
        db.session.rollback()


def test_unknown_role_codes_in_the_setting_stop_start_up(make_app):
    with pytest.raises(SettingsError, match="MFA_REQUIRED_ROLES"):
        make_app("sqlite", {"MFA_REQUIRED_ROLES": "admin,polise"})


def test_the_demo_enrols_its_police_and_admin_with_the_published_secret(make_app):
    from camnet.tenants import mfa
    from camnet.tenants.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, load_demo

    app = make_app("sqlite", {"MFA_REQUIRED_ROLES": REQUIRED})
    with app.app_context():
        load_demo()
        load_demo()  # idempotent
        assert mfa.is_demo_secret(_user_id("congan.huyen")) and mfa.is_demo_secret(_user_id("admin"))
        assert not mfa.factors(_user_id("chutich.nuidoi"))["totp"]
        assert _count(TotpCredential) == 3
        client = app.test_client()
        client.post("/login", data={"username": "congan.tinh", "password": DEMO_PASSWORD})
        page = client.get("/login/2fa").get_data(as_text=True)
        assert 'id="demo-hint"' in page and DEMO_TOTP_SECRET in page
        assert client.post("/login/2fa", data={"code": pyotp.TOTP(DEMO_TOTP_SECRET).now()}).status_code == 302
        assert client.get("/api/v1/me").status_code == 200
