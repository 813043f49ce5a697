"""Server-side sessions, from the attacker's side: a copied cookie after sign-out, password change,
deactivation or "sign out everywhere"; idle and absolute limits; a unit's admin reaching outside
their scope. Time is moved by writing the session row's timestamps, never by sleeping."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import event, func, select, update

from camnet.extensions import db
from camnet.tenants.models import AuditEvent, RoleGrant, User, UserSession
from camnet.tenants.scope import system_scope


def _copy_of(app, client):
    """A second browser holding a copy of ``client``'s session cookie (a stolen cookie)."""
    cookie = client.get_cookie("session")
    thief = app.test_client()
    thief.set_cookie("session", cookie.value, domain=cookie.domain)
    return thief


def _signed_in(resp) -> bool:
    return resp.status_code == 200


def _rows(username):
    with system_scope():
        return db.session.execute(
            select(UserSession).join(User, User.id == UserSession.user_id).where(User.username == username)
            .order_by(UserSession.id)).scalars().all()


def _move(username, **delta):
    """Move a user's live sessions into the past: ``created=timedelta``, ``last_seen=timedelta``."""
    values = {}
    now = datetime.now(timezone.utc)
    if "created" in delta:
        values["created_at"] = now - delta["created"]
    if "last_seen" in delta:
        values["last_seen_at"] = now - delta["last_seen"]
    with system_scope():
        user_id = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
        db.session.execute(update(UserSession).where(UserSession.user_id == user_id).values(**values))
        db.session.commit()


def _audit_count(action):
    with system_scope():
        return db.session.execute(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.action == action)).scalar()


def test_session_is_a_server_record_and_the_cookie_holds_only_its_secret(any_app, world, client_for):
    client = client_for("operator_a")
    rows = _rows("operator_a")
    assert len(rows) == 1 and rows[0].revoked_at is None and rows[0].method == "password"
    with client.session_transaction() as sess:
        secret = sess["sid"]
    assert len(rows[0].secret_hash) == 64 and secret not in rows[0].secret_hash
    assert rows[0].ip == "127.0.0.1" and rows[0].user_agent


def test_copied_cookie_is_refused_after_sign_out(any_app, world, client_for):
    client = client_for("police_dist")
    thief = _copy_of(any_app, client)
    assert _signed_in(thief.get("/api/v1/me"))  # the copy works while the session lives
    client.post("/logout")
    assert thief.get("/api/v1/me").status_code == 401
    page = thief.get("/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert client.get("/api/v1/me").status_code == 401
    assert _rows("police_dist")[0].revoked_reason == "signed_out"


def test_a_cookie_without_a_live_session_record_is_nobody(any_app, world, client_for):
    """A cookie of the old stateless kind (user id only), or one with a made-up secret, signs in nobody."""
    client = client_for("admin")
    with client.session_transaction() as sess:
        sess.pop("sid")
    assert client.get("/api/v1/me").status_code == 401
    other = client_for("admin")
    with other.session_transaction() as sess:
        sess["sid"] = "made-up-secret"
    assert other.get("/api/v1/me").status_code == 401


def test_password_change_ends_the_other_sessions_but_not_this_one(any_app, world, client_for):
    laptop = client_for("chairman_a")
    phone = client_for("chairman_a")
    thief = _copy_of(any_app, phone)
    resp = laptop.post("/me", data={"action": "password", "current_password": world.password,
                                    "new_password": "mot-mat-khau-moi-dai", "confirm_password": "mot-mat-khau-moi-dai"})
    assert resp.status_code == 302
    assert phone.get("/api/v1/me").status_code == 401
    assert thief.get("/api/v1/me").status_code == 401
    assert _signed_in(laptop.get("/api/v1/me"))
    fresh = any_app.test_client()
    assert fresh.post("/login", data={"username": "chairman_a", "password": world.password}).status_code == 401
    assert fresh.post("/login", data={"username": "chairman_a", "password": "mot-mat-khau-moi-dai"}).status_code == 302


def test_deactivation_ends_sessions_and_tokens_at_once(any_app, world, client_for):
    victim = client_for("operator_a")
    token = victim.post("/api/v1/tokens", json={"name": "tích hợp"}).get_json()["token"]
    thief = _copy_of(any_app, victim)
    admin = client_for("admin")
    resp = admin.post(f"/users/{world.users['operator_a'].id}/deactivate")
    assert resp.status_code == 302
    assert victim.get("/api/v1/me").status_code == 401
    assert thief.get("/api/v1/me").status_code == 401
    assert any_app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    relogin = any_app.test_client().post("/login", data={"username": "operator_a", "password": world.password})
    assert relogin.status_code == 401
    assert _audit_count("user.deactivate") == 1
    # reactivation restores neither the session nor the token
    assert admin.post(f"/users/{world.users['operator_a'].id}/activate").status_code == 302
    assert thief.get("/api/v1/me").status_code == 401
    assert any_app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_admin_signs_a_user_out_everywhere(any_app, world, client_for):
    one, two = client_for("technician_a"), client_for("technician_a")
    admin = client_for("admin")
    assert admin.post(f"/users/{world.users['technician_a'].id}/sign-out-everywhere").status_code == 302
    assert one.get("/api/v1/me").status_code == 401 and two.get("/api/v1/me").status_code == 401
    assert _signed_in(admin.get("/api/v1/me"))
    assert {r.revoked_reason for r in _rows("technician_a")} == {"admin_signed_out"}


def _commune_admin(world, key="a"):
    """A unit's admin: the admin role held at commune ``key`` (written directly, as a world would)."""
    with system_scope():
        db.session.add(RoleGrant(user_id=world.users["nobody_a"].id, role="admin", unit_id=world.id(key)))
        db.session.commit()
    return "nobody_a"


def test_commune_admin_of_a_cannot_touch_a_user_of_b(any_app, world, client_for):
    attacker = client_for(_commune_admin(world))
    victim = client_for("operator_b")
    victim_id = world.users["operator_b"].id
    for action in ("deactivate", "sign-out-everywhere", "reset-link"):
        assert attacker.post(f"/users/{victim_id}/{action}").status_code == 404, action
    # nothing happened: still active, still signed in, no reset link, nothing audited
    assert _signed_in(victim.get("/api/v1/me"))
    with system_scope():
        assert db.session.get(User, victim_id).active is True
    assert [r.revoked_at for r in _rows("operator_b")] == [None]
    for action in ("user.deactivate", "auth.session.revoke_all", "user.password_reset_issue"):
        assert _audit_count(action) == 0
    # their own commune's users they do manage
    assert attacker.post(f"/users/{world.users['operator_a'].id}/deactivate").status_code == 302
    with system_scope():
        assert db.session.get(User, world.users["operator_a"].id).active is False


def test_commune_admin_cannot_lock_out_someone_holding_roles_above_the_commune(any_app, world, client_for):
    """A user who lives in commune A but is district police is beyond a commune admin of A."""
    with system_scope():
        officer = db.session.get(User, world.users["police_dist"].id)
        officer.unit_id = world.id("a")
        db.session.commit()
    attacker = client_for(_commune_admin(world))
    officer_client = client_for("police_dist")
    resp = attacker.post(f"/users/{world.users['police_dist'].id}/deactivate")
    assert resp.status_code == 403
    assert _signed_in(officer_client.get("/api/v1/me"))
    assert _audit_count("user.deactivate") == 0


def test_roles_without_users_manage_cannot_deactivate(any_app, world, client_for):
    for name in ("chairman_a", "police_dist", "operator_a"):
        resp = client_for(name).post(f"/users/{world.users['technician_a'].id}/deactivate")
        assert resp.status_code == 403, name
    with system_scope():
        assert db.session.get(User, world.users["technician_a"].id).active is True


def test_an_admin_cannot_deactivate_themself(any_app, world, client_for):
    admin = client_for("admin")
    resp = admin.post(f"/users/{world.users['admin'].id}/deactivate", follow_redirects=True)
    assert "user_id" in resp.get_data(as_text=True)
    assert _signed_in(admin.get("/api/v1/me"))


def test_idle_police_session_ends_after_30_minutes(any_app, world, client_for):
    client = client_for("police_dist")
    _move("police_dist", last_seen=timedelta(minutes=29))
    assert _signed_in(client.get("/api/v1/me"))
    _move("police_dist", last_seen=timedelta(minutes=31))
    assert client.get("/api/v1/me").status_code == 401
    assert _rows("police_dist")[0].revoked_reason == "idle"


def test_police_session_ends_after_12_hours_however_active(any_app, world, client_for):
    client = client_for("admin")
    _move("admin", created=timedelta(hours=12, minutes=1), last_seen=timedelta(seconds=0))
    assert client.get("/api/v1/me").status_code == 401
    assert _rows("admin")[0].revoked_reason == "expired"


def test_other_roles_have_the_longer_limits(any_app, world, client_for):
    client = client_for("operator_a")
    _move("operator_a", created=timedelta(days=6), last_seen=timedelta(hours=7))
    assert _signed_in(client.get("/api/v1/me"))
    _move("operator_a", last_seen=timedelta(hours=8, minutes=1))
    assert client.get("/api/v1/me").status_code == 401


def test_limits_follow_the_settings(make_app):
    from tests.world import build_world

    app = make_app("sqlite", {"SESSION_IDLE_MINUTES_OTHER": 5, "SESSION_STRICT_ROLES": ["chairman"]})
    with app.app_context():
        w = build_world(app)
        client = app.test_client()
        client.post("/login", data={"username": "household_a", "password": w.password})
        _move("household_a", last_seen=timedelta(minutes=6))
        assert client.get("/").status_code == 302


def test_last_seen_is_written_at_most_once_a_minute(any_app, world, client_for):
    client = client_for("operator_a")
    first = _rows("operator_a")[0].last_seen_at
    for _ in range(3):
        assert _signed_in(client.get("/api/v1/me"))
    assert _rows("operator_a")[0].last_seen_at == first
    _move("operator_a", last_seen=timedelta(minutes=2))
    moved = _rows("operator_a")[0].last_seen_at
    assert _signed_in(client.get("/api/v1/me"))
    assert _rows("operator_a")[0].last_seen_at > moved


def test_bearer_requests_never_touch_the_sessions_table(any_app, world, client_for):
    client = client_for("police_dist")
    token = client.post("/api/v1/tokens", json={"name": "t"}).get_json()["token"]
    seen = []

    def spy(conn, cursor, statement, *args):
        if "user_sessions" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", spy)
    try:
        for _ in range(3):
            resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", spy)
    assert seen == []


def test_profile_lists_sessions_and_ends_one_of_them(any_app, world, client_for):
    office = any_app.test_client()
    office.post("/login", data={"username": "chairman_a", "password": world.password},
                environ_base={"REMOTE_ADDR": "192.0.2.10", "HTTP_USER_AGENT": "Firefox/130 office"})
    home = any_app.test_client()
    home.post("/login", data={"username": "chairman_a", "password": world.password},
              environ_base={"REMOTE_ADDR": "198.51.100.20", "HTTP_USER_AGENT": "Chrome/128 home"})
    page = office.get("/me", environ_base={"REMOTE_ADDR": "192.0.2.10", "HTTP_USER_AGENT": "Firefox/130 office"})
    text = page.get_data(as_text=True)
    assert "192.0.2.10" in text and "198.51.100.20" in text and "Chrome/128 home" in text
    home_row = next(r for r in _rows("chairman_a") if r.ip == "198.51.100.20")
    resp = office.post("/me", data={"action": "end-session", "session_id": home_row.id},
                       environ_base={"REMOTE_ADDR": "192.0.2.10", "HTTP_USER_AGENT": "Firefox/130 office"})
    assert resp.status_code == 302
    env = {"REMOTE_ADDR": "198.51.100.20", "HTTP_USER_AGENT": "Chrome/128 home"}
    assert home.get("/api/v1/me", environ_base=env).status_code == 401


def test_cannot_end_someone_elses_session(any_app, world, client_for):
    victim = client_for("operator_b")
    victim_row = _rows("operator_b")[0]
    attacker = client_for("operator_a")
    resp = attacker.post("/me", data={"action": "end-session", "session_id": victim_row.id})
    assert resp.status_code == 404
    assert _signed_in(victim.get("/api/v1/me"))
    assert _rows("operator_b")[0].revoked_at is None


def test_end_every_other_session(any_app, world, client_for):
    here, there = client_for("sponsor_a"), client_for("sponsor_a")
    assert here.post("/me", data={"action": "end-others"}).status_code == 302
    assert there.get("/").status_code == 302
    assert here.get("/").status_code == 200
