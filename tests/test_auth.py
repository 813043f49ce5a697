"""Sign-in, throttling (counters in the real Redis Cluster), bearer tokens and CSRF."""
import pytest
from sqlalchemy import select

from camnet.extensions import db
from camnet.tenants.models import AuditEvent
from camnet.tenants.scope import system_scope


def _audits(action):
    with system_scope():
        return db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.id)).scalars().all()


def test_sign_in_with_good_password_reaches_home_and_is_audited(app, world, client_for):
    client = client_for("operator_a")
    page = client.get("/")
    assert page.status_code == 200
    assert "Người dùng operator_a" in page.get_data(as_text=True)
    rows = _audits("auth.signin")
    assert rows[-1].outcome == "ok" and rows[-1].actor_name == "operator_a"
    assert rows[-1].unit_id == world.id("a") and rows[-1].ip == "127.0.0.1"


def test_wrong_password_is_refused_and_audited_as_failure(app, world):
    client = app.test_client()
    resp = client.post("/login", data={"username": "operator_a", "password": "sai-mat-khau"})
    assert resp.status_code == 401
    assert "Sai tên đăng nhập" in resp.get_data(as_text=True)
    assert _audits("auth.signin")[-1].outcome == "failed"


def test_unknown_user_gets_the_same_answer_as_wrong_password(app, world):
    client = app.test_client()
    a = client.post("/login", data={"username": "khong-ton-tai", "password": "x"})
    b = client.post("/login", data={"username": "operator_a", "password": "x"})
    assert a.status_code == b.status_code == 401


def test_five_failures_in_thirty_seconds_lock_the_account_even_for_the_right_password(app, world):
    client = app.test_client()
    for _ in range(5):
        client.post("/login", data={"username": "chairman_a", "password": "wrong"})
    resp = client.post("/login", data={"username": "chairman_a", "password": world.password})
    assert resp.status_code == 401 and "Tạm khóa" in resp.get_data(as_text=True)
    assert _audits("auth.signin")[-1].outcome == "locked"
    # another account from another address is not affected
    other = app.test_client()
    ok = other.post("/login", data={"username": "operator_a", "password": world.password},
                    environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert ok.status_code == 302


def test_lockout_counters_live_in_the_redis_cluster(app, world):
    from redis.cluster import RedisCluster

    store = app.extensions["camnet.coord"]
    assert isinstance(store.client, RedisCluster)
    client = app.test_client()
    for _ in range(5):
        client.post("/login", data={"username": "technician_a", "password": "wrong"})
    assert 0 < store.client.ttl(store.k("login:{acct:technician_a}:lock")) <= 300


def test_many_failures_from_one_address_lock_that_address(app, world):
    client = app.test_client()
    env = {"REMOTE_ADDR": "10.1.2.3"}
    for i in range(20):
        client.post("/login", data={"username": f"user{i}", "password": "x"}, environ_base=env)
    resp = client.post("/login", data={"username": "operator_a", "password": world.password}, environ_base=env)
    assert resp.status_code == 401


def test_api_without_credentials_answers_401_json(app, world):
    resp = app.test_client().get("/api/v1/me")
    assert resp.status_code == 401 and resp.get_json()["error"] == "unauthorized"


def test_token_create_use_list_and_revoke(app, world, client_for):
    client = client_for("police_dist")
    created = client.post("/api/v1/tokens", json={"name": "báo cáo tuần"})
    assert created.status_code == 201
    secret = created.get_json()["token"]
    bearer = {"Authorization": f"Bearer {secret}"}
    anon = app.test_client()
    me = anon.get("/api/v1/me", headers=bearer)
    assert me.status_code == 200 and me.get_json()["username"] == "police_dist"
    listed = client.get("/api/v1/tokens").get_json()
    assert [t["name"] for t in listed] == ["báo cáo tuần"] and "token" not in listed[0]
    assert client.delete(f"/api/v1/tokens/{created.get_json()['id']}").status_code == 200
    assert anon.get("/api/v1/me", headers=bearer).status_code == 401
    actions = [a.action for a in _audits("token.create") + _audits("token.revoke")]
    assert actions == ["token.create", "token.revoke"]


@pytest.mark.parametrize("forged", ["cn_" + "A" * 43, "not-a-token", "cn_", ""])
def test_forged_tokens_are_refused(app, world, forged):
    resp = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401


def test_cannot_revoke_someone_elses_token(app, world, client_for):
    owner = client_for("police_dist")
    token_id = owner.post("/api/v1/tokens", json={"name": "t"}).get_json()["id"]
    other = client_for("admin")
    assert other.delete(f"/api/v1/tokens/{token_id}").status_code == 404


def test_a_token_stops_working_when_it_expires_or_its_user_is_deactivated(any_app, world, client_for):
    """Both checks now run inside the one look-up query: on SQLite and on PostgreSQL."""
    from datetime import datetime, timedelta, timezone

    from camnet.tenants.models import ApiToken, User

    client = client_for("police_dist")
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    first = client.post("/api/v1/tokens", json={"name": "hết hạn", "expires_at": later}).get_json()
    second = client.post("/api/v1/tokens", json={"name": "người nghỉ"}).get_json()
    anon = any_app.test_client()
    for made in (first, second):
        assert anon.get("/api/v1/me", headers={"Authorization": f"Bearer {made['token']}"}).status_code == 200
    with system_scope():
        db.session.get(ApiToken, first["id"]).expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
        db.session.commit()
    assert anon.get("/api/v1/me", headers={"Authorization": f"Bearer {first['token']}"}).status_code == 401
    assert anon.get("/api/v1/me", headers={"Authorization": f"Bearer {second['token']}"}).status_code == 200
    with system_scope():
        db.session.execute(select(User).where(User.username == "police_dist")).scalar_one().active = False
        db.session.commit()
    assert anon.get("/api/v1/me", headers={"Authorization": f"Bearer {second['token']}"}).status_code == 401


def test_token_expiry_in_the_past_is_rejected_naming_the_field(app, world, client_for):
    resp = client_for("operator_a").post("/api/v1/tokens", json={"name": "x", "expires_at": "2020-01-01T00:00:00Z"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "expires_at"


def test_csrf_is_required_on_forms_and_cookie_api_writes(make_app):
    from tests.world import build_world

    app = make_app("sqlite", {"WTF_CSRF_ENABLED": True})
    with app.app_context():
        w = build_world(app)
        client = app.test_client()
        assert client.post("/login", data={"username": "admin", "password": w.password}).status_code == 400
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        resp = client.post("/login", data={"username": "admin", "password": w.password, "csrf_token": token})
        assert resp.status_code == 302
        # a cookie-authenticated API write without the CSRF header is refused
        assert client.post("/api/v1/tokens", json={"name": "x"}).status_code == 400
        ok = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRFToken": token})
        assert ok.status_code == 201
        # a bearer request carries no cookie to forge, so it needs no CSRF token
        bearer = {"Authorization": f"Bearer {ok.get_json()['token']}"}
        assert app.test_client().post("/api/v1/tokens", json={"name": "y"}, headers=bearer).status_code == 201


def test_session_cookie_is_httponly_and_samesite(app, world):
    resp = app.test_client().post("/login", data={"username": "admin", "password": world.password})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_open_redirect_after_sign_in_is_refused(app, world):
    resp = app.test_client().post("/login?next=https://evil.example/", data={"username": "admin", "password": world.password})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_failures_either_side_of_a_redis_outage_add_up_to_a_lockout(app, world):
    """Two failures while Redis cannot be reached are counted in this process, three more once it
    is back go to the cluster: five in the window lock the account, as five on one side would."""
    import socket

    from camnet.coord import RedisStore

    cluster_store = app.extensions["camnet.coord"]
    with socket.socket() as s:  # a port nobody listens on: a real refused connection
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    client = app.test_client()
    app.extensions["camnet.coord"] = RedisStore.from_url(f"redis://127.0.0.1:{dead_port}", "dead:")
    try:
        for _ in range(2):
            assert client.post("/login", data={"username": "household_a", "password": "wrong"}).status_code == 401
    finally:
        app.extensions["camnet.coord"] = cluster_store
    for _ in range(3):
        client.post("/login", data={"username": "household_a", "password": "wrong"})
    assert 0 < cluster_store.client.ttl(cluster_store.k("login:{acct:household_a}:lock")) <= 300
    resp = client.post("/login", data={"username": "household_a", "password": world.password})
    assert resp.status_code == 401 and "Tạm khóa" in resp.get_data(as_text=True)


# ---- real client addresses behind the Ingress (issue #12, finding 5) ----------------------

PROXY = {"REMOTE_ADDR": "10.0.0.2"}  # the Ingress, inside TRUSTED_PROXIES


def _via_proxy(client_ip):
    return {**PROXY, "HTTP_X_FORWARDED_FOR": client_ip}


@pytest.fixture
def proxied_app(make_app):
    from tests.world import build_world

    app = make_app("sqlite", {"TRUSTED_PROXIES": ["10.0.0.0/8"]})
    with app.app_context():
        app.world = build_world(app)
        yield app


def test_random_names_from_one_client_behind_the_proxy_do_not_lock_out_the_others(proxied_app):
    world = proxied_app.world
    attacker = proxied_app.test_client()
    for i in range(21):
        attacker.post("/login", data={"username": f"ngau-nhien-{i}", "password": "x"},
                      environ_base=_via_proxy("203.0.113.5"))
    neighbour = proxied_app.test_client()
    ok = neighbour.post("/login", data={"username": "operator_a", "password": world.password},
                        environ_base=_via_proxy("203.0.113.9"))
    assert ok.status_code == 302
    # the attacker's own address is locked, even with a right password
    locked = attacker.post("/login", data={"username": "chairman_a", "password": world.password},
                           environ_base=_via_proxy("203.0.113.5"))
    assert locked.status_code == 401 and "Tạm khóa" in locked.get_data(as_text=True)
    failed = [r for r in _audits("auth.signin") if r.outcome == "failed"]
    assert len(failed) >= 20 and {r.ip for r in failed} == {"203.0.113.5"}
    assert _audits("auth.signin")[-1].ip == "203.0.113.5"


def test_five_failures_on_one_account_lock_that_account_only(proxied_app):
    world = proxied_app.world
    attacker = proxied_app.test_client()
    for _ in range(5):
        attacker.post("/login", data={"username": "chairman_a", "password": "sai"},
                      environ_base=_via_proxy("203.0.113.5"))
    owner = proxied_app.test_client().post("/login", data={"username": "chairman_a", "password": world.password},
                                           environ_base=_via_proxy("198.51.100.1"))
    assert owner.status_code == 401 and "Tạm khóa" in owner.get_data(as_text=True)
    same_address = proxied_app.test_client().post(
        "/login", data={"username": "operator_a", "password": world.password}, environ_base=_via_proxy("203.0.113.5"))
    assert same_address.status_code == 302


def test_forwarded_for_from_an_untrusted_peer_is_ignored(proxied_app):
    client = proxied_app.test_client()
    client.post("/login", data={"username": "operator_a", "password": "sai"},
                environ_base={"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "10.0.0.9"})
    assert _audits("auth.signin")[-1].ip == "198.51.100.7"


def test_addresses_the_client_prepends_are_not_believed(proxied_app):
    """X-Forwarded-For: <made up>, <real>: the proxy appended the real one; the first is the client's word."""
    client = proxied_app.test_client()
    client.post("/login", data={"username": "operator_a", "password": "sai"},
                environ_base=_via_proxy("6.6.6.6, 203.0.113.5"))
    assert _audits("auth.signin")[-1].ip == "203.0.113.5"


def test_without_trusted_proxies_forwarded_for_is_ignored(app, world):
    app.test_client().post("/login", data={"username": "operator_a", "password": "sai"},
                           environ_base=_via_proxy("203.0.113.5"))
    assert _audits("auth.signin")[-1].ip == "10.0.0.2"


def test_session_and_audit_rows_record_the_real_address(proxied_app):
    from camnet.tenants.models import UserSession

    client = proxied_app.test_client()
    client.post("/login", data={"username": "operator_a", "password": proxied_app.world.password},
                environ_base=_via_proxy("203.0.113.44"))
    with system_scope():
        row = db.session.execute(select(UserSession)).scalar_one()
    assert row.ip == "203.0.113.44" and _audits("auth.signin")[-1].ip == "203.0.113.44"


@pytest.mark.parametrize("peer, header, expected", [
    ("10.0.0.2", "203.0.113.5", "203.0.113.5"),
    ("10.0.0.2", "203.0.113.5, 10.0.0.3", "203.0.113.5"),  # two proxies deep
    ("10.0.0.2", "6.6.6.6, 203.0.113.5", "203.0.113.5"),
    ("10.0.0.2", "not-an-ip", "10.0.0.2"),
    ("10.0.0.2", "10.0.0.4", "10.0.0.4"),  # only proxies: the farthest one
    ("10.0.0.2", None, "10.0.0.2"),
    ("203.0.113.1", "10.0.0.2", "203.0.113.1"),  # an untrusted peer's header
    ("10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
])
def test_resolve_client(peer, header, expected):
    from camnet.tenants.auth import resolve_client, trusted_networks

    assert resolve_client(peer, header, trusted_networks(["10.0.0.0/8"])) == expected


def test_a_bad_trusted_proxies_setting_stops_start_up(make_app):
    from camnet.settings import SettingsError

    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        make_app("sqlite", {"TRUSTED_PROXIES": ["10.0.0.0/8", "ingress"]})


def test_ipv6_clients_are_counted_by_their_slash_64():
    from camnet.tenants.throttle import address_key

    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.5") == "203.0.113.5"


# ---- bearer tokens stand alone (issue #12, finding 14) -----------------------------------

def test_bearer_token_works_beside_an_anonymous_session_cookie(app, world, client_for):
    secret = client_for("police_dist").post("/api/v1/tokens", json={"name": "t"}).get_json()["token"]
    client = app.test_client()
    client.get("/login")  # the sign-in page leaves an anonymous session cookie behind
    assert client.get_cookie("session") is not None
    resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 200 and resp.get_json()["username"] == "police_dist"


def test_a_token_is_judged_alone_whatever_session_rides_along(app, world, client_for):
    secret = client_for("police_dist").post("/api/v1/tokens", json={"name": "t"}).get_json()["token"]
    browser = client_for("operator_a")
    me = browser.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert me["username"] == "police_dist"
    # a bad token does not fall back to the cookie's session
    assert browser.get("/api/v1/me", headers={"Authorization": "Bearer cn_made-up"}).status_code == 401
    assert browser.get("/api/v1/me").get_json()["username"] == "operator_a"


# ---- who may hold API tokens, and for how long ---------------------------------------------

@pytest.mark.parametrize("username", ["household_a", "sponsor_a"])
def test_households_and_sponsors_get_no_tokens(app, world, client_for, username):
    from camnet.tenants.models import ApiToken

    client = client_for(username)
    assert client.get("/tokens").status_code == 403
    assert client.post("/tokens", data={"name": "x"}).status_code == 403
    assert client.post("/api/v1/tokens", json={"name": "x"}).status_code == 403
    assert "/tokens" not in client.get("/").get_data(as_text=True)
    with system_scope():
        assert db.session.execute(select(ApiToken)).first() is None


def test_staff_see_the_tokens_menu(app, world, client_for):
    client = client_for("operator_a")
    assert "/tokens" in client.get("/").get_data(as_text=True)
    assert client.get("/tokens").status_code == 200


def test_tokens_expire_in_90_days_by_default_and_at_most_in_365(app, world, client_for):
    from datetime import datetime, timedelta, timezone

    client = client_for("police_dist")
    made = client.post("/api/v1/tokens", json={"name": "mặc định"}).get_json()
    expires = datetime.fromisoformat(made["expires_at"])
    expires = expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)
    assert timedelta(days=89) < expires - datetime.now(timezone.utc) <= timedelta(days=90)
    too_far = (datetime.now(timezone.utc) + timedelta(days=366)).isoformat()
    resp = client.post("/api/v1/tokens", json={"name": "quá xa", "expires_at": too_far})
    assert resp.status_code == 422 and resp.get_json()["field"] == "expires_at"
    page = client.post("/tokens", data={"name": "trang", "days": "400"}, follow_redirects=True)
    assert "expires_at" in page.get_data(as_text=True)
    assert [t["name"] for t in client.get("/api/v1/tokens").get_json()] == ["mặc định"]


def test_a_token_without_an_expiry_is_not_accepted(app, world, client_for):
    """Tokens made before migration 0009 got an expiry there; a row without one is refused."""
    from camnet.tenants.models import ApiToken

    client = client_for("police_dist")
    made = client.post("/api/v1/tokens", json={"name": "cũ"}).get_json()
    with system_scope():
        db.session.get(ApiToken, made["id"]).expires_at = None
        db.session.commit()
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {made['token']}"}).status_code == 401
