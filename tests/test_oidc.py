"""Single sign-on through OpenID Connect, against a real provider (oidc-provider on loopback) and camnet
served over real HTTP. Each refusal is checked from the browser's side: the answer, the audit row,
and that no user, identity, grant or session was made."""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from camnet.extensions import db
from camnet.tenants import sso
from camnet.tenants.models import AuditEvent, RoleGrant, SsoClaimRule, SsoIdentity, SsoProvider, User
from camnet.tenants.scope import system_scope

from .oidc_rig import LiveCamnet, Provider, sign_in_at_provider
from .world import build_world

AN = {"name": "Nguyễn Văn An", "preferred_username": "nguyen.van.an", "email": "an@congan.test",
      "groups": ["congan-tinh"]}


@pytest.fixture(scope="session")
def rig():
    live = LiveCamnet()
    provider = Provider(live.callback)
    yield live, provider
    provider.stop()
    live.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def env(request, make_app, rig):
    """camnet on one backend behind the live server, its world, and the provider."""
    live, provider = rig
    app = make_app(request.param, {"OIDC_LEEWAY_SECONDS": 0, "OIDC_ALLOW_HTTP": True})
    world = build_world(app)
    live.app = app
    with app.app_context():
        yield Env(app, world, live, provider)
    live.app = None


@pytest.fixture
def sqlite_env(make_app, rig):
    live, provider = rig
    app = make_app("sqlite", {"OIDC_LEEWAY_SECONDS": 0, "OIDC_ALLOW_HTTP": True})
    world = build_world(app)
    live.app = app
    with app.app_context():
        yield Env(app, world, live, provider)
    live.app = None


class Env:
    def __init__(self, app, world, live, provider):
        self.app, self.world, self.live, self.provider = app, world, live, provider
        self.url = live.url

    def add_provider(self, client_id="camnet-good", rules=None, province="PROV", name="Cổng định danh tỉnh"):
        rules = rules or ["groups=congan-tinh:police@PROV"]
        args = ["sso", "add", "--province", province, "--name", name, "--issuer", self.provider.issuer,
                "--client-id", client_id, "--client-secret", self.provider.secret,
                "--scopes", "openid profile email groups"]
        for rule in rules:
            args += ["--rule", rule]
        result = self.app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 0, result.output
        return int(result.output.split("\t", 1)[0])

    def sign_in(self, provider_id, login, claims=None, next_url=None, browser=None):
        """The whole round trip; returns (browser, callback URL, camnet's answer to it)."""
        if claims is not None:
            self.provider.set_account(login, claims)
        browser = browser or requests.Session()
        callback = sign_in_at_provider(browser, self.url, provider_id, login, next_url)
        return browser, callback, browser.get(callback, allow_redirects=False)

    def signed_in(self, browser) -> bool:
        resp = browser.get(self.url + "/", allow_redirects=False)
        return resp.status_code == 200

    def count(self, model, *where) -> int:
        with system_scope():
            n = db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()
        db.session.rollback()
        return n

    def refusals(self, reason: str) -> list[AuditEvent]:
        with system_scope():
            rows = list(db.session.execute(select(AuditEvent).where(
                AuditEvent.action == "auth.sso", AuditEvent.reason == reason)).scalars())
            for row in rows:
                db.session.expunge(row)
        db.session.rollback()
        return rows


def _user(username):
    """(the user's columns as a detached row, their grants as (role, unit id) pairs)."""
    with system_scope():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        grants = sorted((g.role, g.unit_id) for g in user.grants) if user else []
        if user is not None:
            db.session.expunge(user)
    db.session.rollback()
    return user, grants


# ---- the good path ---------------------------------------------------------------------------

def test_first_sign_in_creates_user_and_grant_and_opens_a_session(env):
    provider_id = env.add_provider()
    page = requests.get(env.url + "/login").text
    assert f"/login/sso/{provider_id}" in page and "Cổng định danh tỉnh" in page
    users_before = env.count(User)

    browser, _, resp = env.sign_in(provider_id, "an-01", AN, next_url="/units")

    assert resp.status_code == 302 and resp.headers["Location"].endswith("/units"), resp.text[:300]
    assert env.signed_in(browser)
    user, grants = _user("nguyen.van.an")
    assert user is not None and user.full_name == "Nguyễn Văn An" and user.email == "an@congan.test"
    assert user.unit_id == env.world.id("prov")
    assert grants == [("police", env.world.id("prov"))]
    assert env.count(User) == users_before + 1
    assert env.count(SsoIdentity, SsoIdentity.subject == "an-01", SsoIdentity.user_id == user.id) == 1
    with system_scope():
        signin = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "auth.signin", AuditEvent.actor_id == user.id)).scalar_one()
    assert signin.detail["method"] == f"oidc:{provider_id}"


def test_sso_user_has_no_password_and_local_accounts_still_sign_in(sqlite_env):
    env = sqlite_env
    provider_id = env.add_provider()
    env.sign_in(provider_id, "an-02", AN)
    browser = requests.Session()
    refused = browser.post(env.url + "/login", data={"username": "nguyen.van.an", "password": sso.NO_PASSWORD},
                           allow_redirects=False)
    assert refused.status_code == 401 and not env.signed_in(browser)
    local = requests.Session()
    resp = local.post(env.url + "/login", data={"username": "police_prov", "password": env.world.password},
                      allow_redirects=False)
    assert resp.status_code == 302 and env.signed_in(local)


def test_later_sign_in_resyncs_mapped_grants_and_leaves_local_grants(sqlite_env):
    env = sqlite_env
    rules = ["groups=congan-tinh:police@PROV", "groups=vanhanh-a:operator@PROV/DIST/A"]
    provider_id = env.add_provider(rules=rules)
    claims = {**AN, "groups": ["congan-tinh", "vanhanh-a"]}
    env.sign_in(provider_id, "an-03", claims)
    user, grants = _user("nguyen.van.an")
    a, prov = env.world.id("a"), env.world.id("prov")
    assert grants == [("operator", a), ("police", prov)]
    with system_scope():  # an administrator adds a grant by hand
        db.session.add(RoleGrant(user_id=user.id, role="technician", unit_id=a))
        db.session.commit()

    _, _, resp = env.sign_in(provider_id, "an-03", {**claims, "groups": ["vanhanh-a"], "name": "Nguyễn Văn Ân"})
    assert resp.status_code == 302
    user2, grants = _user("nguyen.van.an")
    assert user2.id == user.id and user2.full_name == "Nguyễn Văn Ân"
    assert grants == [("operator", a), ("technician", a)]  # police revoked, the hand-given grant kept

    browser, _, resp = env.sign_in(provider_id, "an-03", {**claims, "groups": []})
    assert resp.status_code == 403 and not env.signed_in(browser)
    _, grants = _user("nguyen.van.an")
    assert grants == [("technician", a)]
    assert env.count(User, User.username.like("nguyen.van.an%")) == 1


# ---- refusals ----------------------------------------------------------------------------------

def test_wrong_audience_is_refused_nothing_created_and_audited(env):
    provider_id = env.add_provider(client_id="camnet-wrongaud")
    users, grants = env.count(User), env.count(RoleGrant)

    browser, _, resp = env.sign_in(provider_id, "an-04", AN)

    assert resp.status_code == 401
    assert "không hợp lệ" in resp.text and "not accepted" in resp.text
    assert not env.signed_in(browser)
    assert (env.count(User), env.count(RoleGrant), env.count(SsoIdentity)) == (users, grants, 0)
    [event] = env.refusals("wrong_audience")
    assert event.unit_id == env.world.id("prov") and event.outcome == "refused"
    assert event.detail["sub"] == "an-04" and event.detail["provider_id"] == provider_id


def test_replayed_state_is_refused(env):
    provider_id = env.add_provider()
    env.provider.set_account("an-05", AN)
    browser = requests.Session()
    callback = sign_in_at_provider(browser, env.url, provider_id, "an-05")
    cookies_before = browser.cookies.copy()  # what a thief of the browser's cookie jar would hold
    assert browser.get(callback, allow_redirects=False).status_code == 302

    again = browser.get(callback, allow_redirects=False)
    thief = requests.Session()
    thief.cookies.update(cookies_before)
    stolen = thief.get(callback, allow_redirects=False)

    assert again.status_code == 400 and stolen.status_code == 400
    assert "đã được dùng" in stolen.text and "already used" in stolen.text
    assert not env.signed_in(thief)
    assert len(env.refusals("replayed_state")) == 2
    assert len(env.refusals("unknown_state")) + len(env.refusals("state_not_from_this_browser")) == 0
    assert env.count(User, User.username == "nguyen.van.an") == 1


def test_callback_carried_to_another_browser_is_refused(sqlite_env):
    """Login CSRF: an attacker's finished sign-in pushed into the victim's browser opens nothing."""
    env = sqlite_env
    provider_id = env.add_provider()
    env.provider.set_account("attacker", {**AN, "preferred_username": "ke.tan.cong"})
    callback = sign_in_at_provider(requests.Session(), env.url, provider_id, "attacker")
    victim = requests.Session()
    resp = victim.get(callback, allow_redirects=False)
    assert resp.status_code == 400 and not env.signed_in(victim)
    assert len(env.refusals("state_not_from_this_browser")) == 1
    assert env.count(User, User.username == "ke.tan.cong") == 0


def test_expired_id_token_is_refused(env):
    """The provider's ID tokens for camnet-expired live 1 s and arrive 2.1 s late; camnet's leeway is 0."""
    provider_id = env.add_provider(client_id="camnet-expired")
    browser, _, resp = env.sign_in(provider_id, "an-06", AN)
    assert resp.status_code == 401 and "hết hạn" in resp.text and "expired" in resp.text
    assert not env.signed_in(browser)
    assert env.count(User, User.username == "nguyen.van.an") == 0
    [event] = env.refusals("expired_token")
    assert event.unit_id == env.world.id("prov")


def test_claims_that_map_to_no_grant_are_refused_and_audited(env):
    provider_id = env.add_provider()
    users = env.count(User)
    browser, _, resp = env.sign_in(provider_id, "khach-07", {**AN, "groups": ["khach"]})
    assert resp.status_code == 403
    assert "chưa được gán vai trò" in resp.text and "maps to no camnet role" in resp.text
    assert not env.signed_in(browser)
    assert (env.count(User), env.count(SsoIdentity)) == (users, 0)
    [event] = env.refusals("no_grant")
    assert event.unit_id == env.world.id("prov") and event.detail["sub"] == "khach-07"
    assert "khach" in event.detail["detail"]


def test_rule_outside_the_province_is_refused_when_configured(sqlite_env):
    env = sqlite_env
    runner = env.app.test_cli_runner()
    base = ["sso", "add", "--province", "PROV", "--name", "Tỉnh", "--issuer", env.provider.issuer,
            "--client-id", "camnet-good", "--client-secret", "s"]
    cases = {
        "groups=x:operator@D": "rules.1.unit: D lies outside the province PROV",
        "groups=x:police@PROV2": "rules.1.unit: PROV2 lies outside the province PROV",
        "groups=x:operator@DIST": "rules.1.unit: the operator role is held at a commune",
        "groups=x:admin@PROV": "rules.1.role",
    }
    for rule, message in cases.items():
        result = runner.invoke(args=[*base, "--rule", "groups=ok:police@PROV", "--rule", rule])
        assert result.exit_code != 0 and message in result.output, (rule, result.output)
    not_a_province = runner.invoke(args=[*base[:3], "A", *base[4:], "--rule", "groups=x:operator@A"])
    assert not_a_province.exit_code != 0 and "province: A is not a province" in not_a_province.output
    assert env.count(SsoProvider) == 0 and env.count(SsoClaimRule) == 0


def test_provider_of_one_province_cannot_grant_in_another(env):
    """A rule that points into another province (written straight into the database) gives nothing."""
    provider_id = env.add_provider(rules=["groups=congan-tinh:police@PROV"])
    with system_scope():
        db.session.add(SsoClaimRule(provider_id=provider_id, position=1, claim="groups", value="chiem-tinh-khac",
                                    role="operator", unit_id=env.world.id("d")))
        db.session.commit()
    _, _, resp = env.sign_in(provider_id, "an-08", {**AN, "groups": ["congan-tinh", "chiem-tinh-khac"]})
    assert resp.status_code == 302
    _, grants = _user("nguyen.van.an")
    assert grants == [("police", env.world.id("prov"))]
    browser, _, resp = env.sign_in(provider_id, "binh-08", {"name": "Trần Thị Bình", "groups": ["chiem-tinh-khac"]})
    assert resp.status_code == 403 and not env.signed_in(browser)
    assert env.count(SsoIdentity, SsoIdentity.subject == "binh-08") == 0


def test_disabled_provider_has_no_button_and_cannot_start(sqlite_env):
    env = sqlite_env
    provider_id = env.add_provider()
    result = env.app.test_cli_runner().invoke(args=["sso", "disable", "--id", str(provider_id)])
    assert result.exit_code == 0
    assert f"/login/sso/{provider_id}" not in requests.get(env.url + "/login").text
    assert requests.get(f"{env.url}/login/sso/{provider_id}", allow_redirects=False).status_code == 404
    listing = env.app.test_cli_runner().invoke(args=["sso", "list"])
    assert "disabled" in listing.output and "groups=congan-tinh -> police@PROV" in listing.output


def test_unknown_state_and_open_redirect_are_refused(sqlite_env):
    env = sqlite_env
    provider_id = env.add_provider()
    resp = requests.get(env.url + "/login/sso/callback?state=forged&code=x", allow_redirects=False)
    assert resp.status_code == 400 and len(env.refusals("unknown_state")) == 1
    _, _, resp = env.sign_in(provider_id, "an-09", AN, next_url="//evil.example/phish")
    assert resp.status_code == 302 and resp.headers["Location"] in ("/", env.url + "/")


def test_client_secret_is_encrypted_at_rest(sqlite_env):
    env = sqlite_env
    env.add_provider()
    with system_scope():
        stored = db.session.execute(select(SsoProvider.client_secret_enc)).scalar_one()
    assert env.provider.secret not in stored and stored.startswith("gAAAA")
