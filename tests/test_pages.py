"""Server-rendered pages: Vietnamese first, English on request, each role's home, management pages."""
import pytest

from .world import FOREIGN

ROLES = ["admin", "police_dist", "chairman_a", "operator_a", "technician_a", "sponsor_a", "household_a"]


@pytest.mark.parametrize("username", ROLES)
def test_home_page_for_each_role_in_both_languages(app, world, client_for, username):
    client = client_for(username)
    vi = client.get("/").get_data(as_text=True)
    assert "Trang chủ" in vi and "Xin chào" in vi
    en = client.get("/?lang=en").get_data(as_text=True)
    assert "Hello" in en and "Home" in en
    # the choice sticks through the cookie
    assert "Hello" in client.get("/").get_data(as_text=True)
    if username != "admin" and not username.startswith("police"):
        assert FOREIGN not in vi


def test_anonymous_visitor_is_sent_to_sign_in(app, world):
    resp = app.test_client().get("/units")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_admin_creates_a_commune_and_a_village_through_the_pages(app, world, client_for):
    client = client_for("admin")
    resp = client.post("/units", data={"parent_id": world.id("dist"), "code": "XMOI", "name": "Xã Mới Lập",
                                       "level": "xã", "is_commune": "on", "households": "800"})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Xã Mới Lập" in page
    unit_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    client.post(f"/units/{unit_id}", data={"name": "Thôn Đoài", "kind": "thôn", "households": "120", "population": "450"})
    assert "Thôn Đoài" in client.get(f"/units/{unit_id}").get_data(as_text=True)


def test_bad_form_input_shows_the_field_and_writes_nothing(app, world, client_for):
    client = client_for("admin")
    resp = client.post("/units", data={"parent_id": world.id("dist"), "code": "bad code", "name": "",
                                       "level": "xã"}, follow_redirects=True)
    text = resp.get_data(as_text=True)
    assert "code" in text or "name" in text
    assert "bad code" not in client.get("/units").get_data(as_text=True)


def test_operator_cannot_open_another_communes_page(app, world, client_for):
    client = client_for("operator_a")
    assert client.get(f"/units/{world.id('b')}").status_code == 404
    assert client.get(f"/units/{world.id('a')}").status_code == 200
    assert client.get("/audit").status_code == 403


def test_police_read_the_audit_log_of_their_subtree_only(app, world, client_for):
    client_for("operator_a")  # a sign-in in commune a
    client_for("operator_b")
    client_for("chairman_a")
    page = client_for("police_dist").get("/audit").get_data(as_text=True)
    assert "operator_a" in page and "operator_b" in page
    rows = client_for("police_dist2").get("/api/v1/audit").get_json()
    assert all(r["unit_id"] not in (world.id("a"), world.id("b")) for r in rows)


def test_media_access_api_records_who_what_when_where_why(app, world, client_for):
    from camnet.tenants import audit
    from camnet.tenants.models import User

    with app.test_request_context(environ_base={"REMOTE_ADDR": "10.0.0.7"}):
        from flask_login import login_user
        from camnet.extensions import db
        from camnet.tenants.scope import system_scope
        with system_scope():
            user = db.session.get(User, world.users["operator_a"].id)
        login_user(user)
        audit.media_access(unit_id=world.id("a"), object_type="snapshot", object_id=42, reason="xác minh vụ trộm")
    rows = client_for("police_dist").get("/api/v1/audit?action=media.view").get_json()
    assert rows[0]["actor"] == "operator_a" and rows[0]["object_id"] == "42"
    assert rows[0]["reason"] == "xác minh vụ trộm" and rows[0]["ip"] == "10.0.0.7" and rows[0]["at"]


def test_users_page_lists_only_users_in_scope_and_grants_roles(app, world, client_for):
    admin = client_for("admin")
    resp = admin.post("/users", data={"action": "create", "username": "moi.vanhanh", "full_name": "Đỗ Văn Mới",
                                      "password": "mat-khau-rat-dai", "unit_id": world.id("a")})
    assert resp.status_code == 302
    api_users = admin.get("/api/v1/users").get_json()
    new = next(u for u in api_users if u["username"] == "moi.vanhanh")
    admin.post("/users", data={"action": "grant", "user_id": new["id"], "role": "operator", "unit_id": world.id("a")})
    page = client_for("chairman_a").get("/users").get_data(as_text=True)
    assert "Đỗ Văn Mới" in page and FOREIGN not in page
