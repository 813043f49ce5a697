"""Password rules, self-service change and admin-issued reset links, from the attacker's side."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from camnet.errors import ValidationFailed
from camnet.extensions import db
from camnet.tenants.models import PasswordReset, User
from camnet.tenants.passwords import check_new_password, common_passwords
from camnet.tenants.scope import system_scope

NEW = "mot-mat-khau-moi-dai"


def _signs_in(app, username, password) -> bool:
    return app.test_client().post("/login", data={"username": username, "password": password}).status_code == 302


def _hash_of(username):
    with system_scope():
        return db.session.execute(select(User.password_hash).where(User.username == username)).scalar_one()


# ---- the rules -----------------------------------------------------------------------------

def test_common_list_is_shipped_with_vietnamese_favourites_and_not_the_demo_password():
    common = common_passwords()
    assert len(common) >= 10_000
    assert {"123456789", "matkhau", "anhyeuem", "password", "qwerty123"} <= common
    assert "camnet-demo-2026" not in common


@pytest.mark.parametrize("password, staff, field_message", [
    ("ngan-qua", True, "quá ngắn"),  # 8: short for staff
    ("1234567", False, "quá ngắn"),  # 7: short for anyone
    ("anhyeuem", False, "phổ biến"),
    ("1q2w3e4r5t6y", True, "phổ biến"),
    ("QWERTYUIOP123", True, "phổ biến"),  # case does not hide it
    ("hoa.mai-2026-hoa.mai", True, "tên đăng nhập"),
])
def test_bad_passwords_are_refused_naming_the_field(password, staff, field_message):
    with pytest.raises(ValidationFailed) as err:
        check_new_password(password, username="hoa.mai", staff=staff, field="new_password")
    assert err.value.field == "new_password" and field_message in err.value.message


def test_good_passwords_pass_including_the_demo_one():
    check_new_password("camnet-demo-2026", username="admin", staff=True)
    check_new_password("tre-xanh", username="household_a", staff=False)  # 8 is enough for a household


def test_admin_cannot_create_a_user_with_a_short_or_common_password(app, world, client_for):
    admin = client_for("admin")
    for password in ("ngan-qua-10", "qwertyuiop123"):
        resp = admin.post("/api/v1/users", json={"username": "moi.nguoi", "full_name": "Mới", "password": password,
                                                 "unit_id": world.id("a")})
        assert resp.status_code == 422 and resp.get_json()["field"] == "password"
    with system_scope():
        assert db.session.execute(select(User).where(User.username == "moi.nguoi")).first() is None


# ---- self-service change -------------------------------------------------------------------

def test_change_refuses_wrong_current_password_and_writes_nothing(any_app, world, client_for):
    client = client_for("operator_a")
    before = _hash_of("operator_a")
    resp = client.post("/me", data={"action": "password", "current_password": "doan-mo", "new_password": NEW,
                                    "confirm_password": NEW})
    assert resp.status_code == 422 and "current_password" in resp.get_data(as_text=True)
    assert _hash_of("operator_a") == before


@pytest.mark.parametrize("new, message", [
    ("ngan-qua", "new_password"), ("1q2w3e4r5t6y", "new_password"), ("operator_a-la-toi-2026", "new_password"),
])
def test_change_refuses_weak_new_passwords_naming_the_field(app, world, client_for, new, message):
    client = client_for("operator_a")
    resp = client.post("/me", data={"action": "password", "current_password": world.password, "new_password": new,
                                    "confirm_password": new})
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert _signs_in(app, "operator_a", world.password)


def test_household_may_choose_an_eight_character_password_staff_may_not(app, world, client_for):
    resp = client_for("household_a").post("/me", data={"action": "password", "current_password": world.password,
                                                       "new_password": "tre-xanh", "confirm_password": "tre-xanh"})
    assert resp.status_code == 302 and _signs_in(app, "household_a", "tre-xanh")
    resp = client_for("technician_a").post("/me", data={"action": "password", "current_password": world.password,
                                                        "new_password": "tre-xanh", "confirm_password": "tre-xanh"})
    assert resp.status_code == 422 and "12" in resp.get_data(as_text=True)


def test_guessing_the_current_password_counts_towards_the_lockout(app, world, client_for):
    client = client_for("chairman_a")
    for _ in range(5):
        client.post("/me", data={"action": "password", "current_password": "doan", "new_password": NEW,
                                 "confirm_password": NEW})
    resp = client.post("/me", data={"action": "password", "current_password": world.password, "new_password": NEW,
                                    "confirm_password": NEW})
    assert resp.status_code == 429 and "Tạm khóa" in resp.get_data(as_text=True)
    assert not _signs_in(app, "chairman_a", NEW)


# ---- reset links ---------------------------------------------------------------------------

def _issue(admin, world, username) -> str:
    resp = admin.post(f"/users/{world.users[username].id}/reset-link")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    link = text.split('<code id="reset-link">')[1].split("</code>")[0].replace("&amp;", "&")
    return "/reset?" + link.split("/reset?", 1)[1]


def test_reset_link_sets_a_password_once_and_ends_every_session(any_app, world, client_for):
    victim = client_for("technician_a")
    url = _issue(client_for("admin"), world, "technician_a")
    with system_scope():
        row = db.session.execute(select(PasswordReset)).scalar_one()
    assert url.split("t=")[1] not in row.token_hash  # stored hashed
    user = any_app.test_client()
    page = user.get(url)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert user.post(url, data={"new_password": NEW, "confirm_password": NEW}).status_code == 302
    assert victim.get("/api/v1/me").status_code == 401
    assert _signs_in(any_app, "technician_a", NEW) and not _signs_in(any_app, "technician_a", world.password)
    # the same link again: refused, and the password stays
    again = any_app.test_client().post(url, data={"new_password": "ke-tan-cong-dat-lai", "confirm_password":
                                                  "ke-tan-cong-dat-lai"})
    assert again.status_code == 400 and "không hợp lệ" in again.get_data(as_text=True)
    assert not _signs_in(any_app, "technician_a", "ke-tan-cong-dat-lai")


def test_expired_or_made_up_reset_link_is_refused(any_app, world, client_for):
    url = _issue(client_for("admin"), world, "operator_a")
    with system_scope():
        db.session.execute(update(PasswordReset).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    attacker = any_app.test_client()
    assert attacker.get(url).status_code == 400
    assert attacker.post(url, data={"new_password": NEW, "confirm_password": NEW}).status_code == 400
    assert attacker.post("/reset?t=doan-bua", data={"new_password": NEW, "confirm_password": NEW}).status_code == 400
    assert _signs_in(any_app, "operator_a", world.password)


def test_weak_password_on_a_reset_link_is_refused_and_the_link_still_works(app, world, client_for):
    url = _issue(client_for("admin"), world, "operator_a")
    client = app.test_client()
    resp = client.post(url, data={"new_password": "matkhau123", "confirm_password": "matkhau123"})
    assert resp.status_code == 422 and "new_password" in resp.get_data(as_text=True)
    assert client.post(url, data={"new_password": NEW, "confirm_password": NEW}).status_code == 302


def test_a_new_link_voids_the_previous_one(app, world, client_for):
    admin = client_for("admin")
    first = _issue(admin, world, "operator_a")
    _issue(admin, world, "operator_a")
    assert app.test_client().get(first).status_code == 400


def test_commune_staff_cannot_issue_reset_links(app, world, client_for):
    for name in ("chairman_a", "operator_a", "household_a"):
        resp = client_for(name).post(f"/users/{world.users['operator_a'].id}/reset-link")
        assert resp.status_code == 403, name
    with system_scope():
        assert db.session.execute(select(func.count()).select_from(PasswordReset)).scalar() == 0
