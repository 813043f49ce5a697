"""Two-factor sign-in in Debian's Chromium (issue #12): enrolment, sign-in, replay, recovery codes,
passkeys through Chromium's virtual authenticator (CDP ``WebAuthn``), and the loss of a device.

The server is reached as ``localhost``: WebAuthn refuses an IP address as relying party id."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from camnet.extensions import db
from camnet.tenants.scope import system_scope

from ..conftest import _make_app
from .test_browser import ARGS, CHROMIUM, SHOTS

PASSWORD = "camnet-demo-2026"
# police officers made for these tests, each for one story (a code used by one test never meets another)
NEW_POLICE = ("congan.totp", "congan.passkey", "congan.matmay")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server(request, tmp_path_factory, live_services):
    from camnet.tenants import mfa
    from camnet.tenants.demo import load_demo
    from camnet.tenants.models import AdminUnit, RoleGrant, User
    from camnet.tenants.passwords import hash_password

    app, cleanup = _make_app("sqlite", request, tmp_path_factory.mktemp("e2e-mfa"), live_services,
                             {"WTF_CSRF_ENABLED": True, "MFA_REQUIRED_ROLES": "admin,police"})
    secrets = {}
    with app.app_context():
        load_demo()  # enrols the demo's admin and police with the published secret
        with system_scope():
            district = db.session.execute(select(AdminUnit).where(AdminUnit.code == "DEMO-HUYEN")).scalar_one()
            for username in NEW_POLICE:
                user = User(username=username, full_name=f"Cán bộ {username}", unit_id=district.id,
                            password_hash=hash_password(PASSWORD))
                db.session.add(user)
                db.session.flush()
                db.session.add(RoleGrant(user_id=user.id, role="police", unit_id=district.id))
            db.session.commit()
            lost = db.session.execute(select(User.id).where(User.username == "congan.matmay")).scalar_one()
            secrets["congan.matmay"] = mfa.start_totp(lost)
            assert mfa.confirm_totp(lost, pyotp.TOTP(secrets["congan.matmay"]).now())
            db.session.commit()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://localhost:{httpd.server_port}", "app": app, "secrets": secrets}
    httpd.shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if cleanup:
        cleanup()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _shot(page, name):
    page.screenshot(path=str(SHOTS / f"mfa-{name}.png"), full_page=True)


def _password(page, server, username):
    page.goto(server["url"] + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/2fa" in url)


def _sign_out(page):
    page.click("header form button[type=submit]")
    page.wait_for_url(lambda url: url.endswith("/login"))


def _code(page, code, kind="totp"):
    form = "#totp-form" if kind == "totp" else "#recovery-form"
    if kind == "recovery":
        page.click("#recovery summary")
    page.fill(f"{form} input[name=code]", code)
    page.click(f"{form} button[type=submit]")


def _next_code(secret):
    """The next 30-second step's code: inside the ±1 window, never a step already spent."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_a_police_officer_with_only_a_password_reaches_only_the_second_factor_page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    _password(page, server, "congan.huyen")
    assert page.is_visible("#demo-hint")  # the demo says where its TOTP secret is
    _shot(page, "challenge-demo")
    for path in ("/", "/units", "/users", "/oversight", "/cameras", "/me", "/me/security", "/audit"):
        page.goto(server["url"] + path)
        assert page.url.endswith("/login/2fa"), path
    assert page.request.get(server["url"] + "/api/v1/me").status == 401
    context.close()


def test_enrol_an_app_sign_in_with_its_codes_once_each_and_a_recovery_code_once(browser, server):
    context = browser.new_context()
    page = context.new_page()
    _password(page, server, "congan.totp")
    page.wait_for_url(lambda url: url.endswith("/login/2fa/enrol"))
    assert page.locator(".qr svg").count() == 1
    _shot(page, "enrol")
    secret = page.inner_text("#totp-secret").strip()
    page.fill("#totp-confirm input[name=code]", pyotp.TOTP(secret).now())
    page.click("#totp-confirm button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    codes = [c.strip() for c in page.locator("#recovery-codes code").all_inner_texts()]
    assert len(codes) == 10 and len(set(codes)) == 10
    _shot(page, "recovery-codes")
    page.click("#continue")
    page.wait_for_url(lambda url: "/login" not in url)
    assert page.request.get(server["url"] + "/api/v1/me").status == 200
    _sign_out(page)

    _password(page, server, "congan.totp")
    code = _next_code(secret)
    _code(page, code)
    page.wait_for_url(lambda url: "/login" not in url)
    assert "Xin chào" in page.content()
    _sign_out(page)

    _password(page, server, "congan.totp")
    _code(page, code)  # the same code again: refused
    assert page.is_visible(".flash.error") and page.url.endswith("/login/2fa")
    assert page.request.get(server["url"] + "/api/v1/me").status == 401
    _shot(page, "replay-refused")
    _code(page, codes[0], kind="recovery")
    page.wait_for_url(lambda url: "/login" not in url)
    assert page.request.get(server["url"] + "/api/v1/me").status == 200
    _sign_out(page)

    _password(page, server, "congan.totp")
    _code(page, codes[0], kind="recovery")  # spent
    assert page.is_visible(".flash.error") and page.url.endswith("/login/2fa")
    assert page.request.get(server["url"] + "/api/v1/me").status == 401
    context.close()


def _virtual_authenticator(context, page):
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})
    return cdp, found["authenticatorId"]


def test_enrol_a_passkey_then_sign_in_with_it(browser, server):
    context = browser.new_context()
    page = context.new_page()
    cdp, authenticator = _virtual_authenticator(context, page)
    _password(page, server, "congan.passkey")
    page.wait_for_url(lambda url: url.endswith("/login/2fa/enrol"))
    page.fill("#passkey-name", "Máy thử")
    page.click("button[data-passkey=register]")
    page.wait_for_url(lambda url: "/me/security/recovery" in url)
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1
    page.click("#make-codes")
    page.wait_for_selector("#recovery-codes")
    page.click("#continue")
    page.wait_for_url(lambda url: "/login" not in url and "/me/security" not in url)
    page.goto(server["url"] + "/me/security")
    assert "Máy thử" in page.inner_text("#passkeys")
    _shot(page, "security-passkey")
    _sign_out(page)

    _password(page, server, "congan.passkey")
    assert page.locator("#totp-form").count() == 0  # no app enrolled: the passkey is the way
    page.click("button[data-passkey=signin]")
    page.wait_for_url(lambda url: "/login" not in url)
    assert page.request.get(server["url"] + "/api/v1/me").json()["username"] == "congan.passkey"
    with server["app"].app_context(), system_scope():
        from camnet.tenants.models import UserSession

        methods = db.session.execute(select(UserSession.method).order_by(UserSession.id.desc()).limit(1)).scalar()
    assert methods == "password+webauthn"
    context.close()


def test_a_lost_phone_the_admin_resets_and_the_officer_enrols_again(browser, server):
    from camnet.tenants.demo import DEMO_TOTP_SECRET

    admin_ctx = browser.new_context()
    admin = admin_ctx.new_page()
    _password(admin, server, "admin")
    _code(admin, pyotp.TOTP(DEMO_TOTP_SECRET).now())
    admin.wait_for_url(lambda url: "/login" not in url)
    admin.goto(server["url"] + "/users")
    admin.click("button[data-reset-2fa='congan.matmay']")
    admin.wait_for_url(lambda url: url.endswith("/users"))
    assert admin.is_visible(".flash.ok")
    _shot(admin, "admin-reset")
    admin_ctx.close()

    context = browser.new_context()
    page = context.new_page()
    _password(page, server, "congan.matmay")
    page.wait_for_url(lambda url: url.endswith("/login/2fa/enrol"))  # the old phone no longer counts
    secret = page.inner_text("#totp-secret").strip()
    assert secret != server["secrets"]["congan.matmay"]
    page.fill("#totp-confirm input[name=code]", pyotp.TOTP(secret).now())
    page.click("#totp-confirm button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    page.click("#continue")
    page.wait_for_url(lambda url: "/login" not in url)
    assert page.request.get(server["url"] + "/api/v1/me").status == 200
    context.close()
