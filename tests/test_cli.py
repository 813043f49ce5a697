"""The camnet command: units, villages, users, grants, tokens and the demo (installed entry point)."""
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from camnet.extensions import db
from camnet.tenants.models import AdminUnit, RoleGrant, User, Village
from camnet.tenants.scope import system_scope


def _count(model):
    with system_scope():
        return db.session.execute(select(func.count()).select_from(model)).scalar()


def test_create_units_users_grants_and_tokens(app, runner):
    assert runner.invoke(args=["unit", "create", "--code", "VN", "--name", "Việt Nam", "--level", "quốc gia"]).exit_code == 0
    res = runner.invoke(args=["unit", "create", "--parent", "VN", "--code", "QT", "--name", "Tỉnh Quảng Trị", "--level", "tỉnh"])
    assert res.exit_code == 0, res.output
    # two tiers: a commune straight under the province
    res = runner.invoke(args=["unit", "create", "--parent", "QT", "--code", "HOXA", "--name", "Thị trấn Hồ Xá",
                              "--level", "thị trấn", "--commune", "--households", "4200"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(args=["village", "create", "--commune", "HOXA", "--name", "Khóm 1", "--kind", "khu phố",
                              "--households", "300"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(args=["user", "create", "--username", "vanhanh.hoxa", "--full-name", "Nguyễn Thị Hà",
                              "--unit", "HOXA", "--password", "mat-khau-rat-dai"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(args=["user", "grant", "--user", "vanhanh.hoxa", "--role", "operator", "--unit", "HOXA"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(args=["token", "create", "--user", "vanhanh.hoxa", "--name", "tích hợp"])
    secret = res.output.strip()
    assert res.exit_code == 0 and secret.startswith("cn_")
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert me["roles"] == ["operator"] and me["full_name"] == "Nguyễn Thị Hà"
    listed = runner.invoke(args=["token", "list", "--user", "vanhanh.hoxa"]).output
    assert "tích hợp" in listed and secret not in listed
    token_id = listed.split("\t")[0]
    assert runner.invoke(args=["token", "revoke", "--user", "vanhanh.hoxa", "--id", token_id]).exit_code == 0
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    with system_scope():
        unit = db.session.execute(select(AdminUnit).where(AdminUnit.code == "HOXA")).scalar_one()
        assert unit.name == "Thị trấn Hồ Xá" and unit.depth == 2


def test_cli_errors_name_the_field_and_write_nothing(app, runner):
    runner.invoke(args=["unit", "create", "--code", "VN", "--name", "Việt Nam", "--level", "quốc gia"])
    before = _count(AdminUnit)
    res = runner.invoke(args=["unit", "create", "--parent", "NOPE", "--code", "X", "--name", "X", "--level", "xã"])
    assert res.exit_code != 0 and "--unit" in res.output or "NOPE" in res.output
    res = runner.invoke(args=["unit", "create", "--parent", "VN", "--code", "bad code!", "--name", "X", "--level", "xã"])
    assert res.exit_code != 0 and "code" in res.output
    res = runner.invoke(args=["user", "grant", "--user", "nobody", "--role", "operator", "--unit", "VN"])
    assert res.exit_code != 0 and "--user" in res.output
    assert _count(AdminUnit) == before


def test_grant_checks_the_role_fits_the_unit(app, runner):
    runner.invoke(args=["unit", "create", "--code", "VN", "--name", "Việt Nam", "--level", "quốc gia"])
    runner.invoke(args=["unit", "create", "--parent", "VN", "--code", "T", "--name", "Tỉnh T", "--level", "tỉnh"])
    runner.invoke(args=["user", "create", "--username", "abc", "--full-name", "A", "--unit", "T", "--password", "mat-khau-rat-dai"])
    res = runner.invoke(args=["user", "grant", "--user", "abc", "--role", "operator", "--unit", "T"])
    assert res.exit_code != 0 and "unit_id" in res.output
    res = runner.invoke(args=["user", "grant", "--user", "abc", "--role", "wizard", "--unit", "T"])
    assert res.exit_code != 0 and "role" in res.output
    assert _count(RoleGrant) == 0


def test_demo_loads_the_seed_communes_and_is_idempotent(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    counts = (_count(AdminUnit), _count(User), _count(Village))
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert (_count(AdminUnit), _count(User), _count(Village)) == counts
    with system_scope():
        nui_doi = db.session.execute(select(AdminUnit).where(AdminUnit.code == "NUIDOI")).scalar_one()
        assert (nui_doi.name, nui_doi.households, nui_doi.population) == ("Thị trấn Núi Đối", 1200, 4130)
        groups = db.session.execute(select(Village).where(Village.commune_id == nui_doi.id)).scalars().all()
        assert len(groups) == 6 and all(g.kind == "tổ dân phố" for g in groups)
        names = set(db.session.execute(select(AdminUnit.name).where(AdminUnit.is_commune)).scalars())
        assert {"Xã Ngũ Hiệp", "Xã Hải Đông", "Thị trấn Hồ Xá", "Thị trấn Bến Sung"} <= names
    from camnet.tenants.demo import DEMO_PASSWORD, USERS

    roles = {u[2] for u in USERS}
    assert roles >= {"admin", "police", "chairman", "operator", "technician", "sponsor", "household"}
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert DEMO_PASSWORD in readme and all(u[0] in readme for u in USERS)


def test_installed_entry_point_and_flask_app_option_work(app, tmp_path):
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONSAFEPATH": "1", "CAMNET_INSTANCE": str(tmp_path), "DATABASE_URL": "",
           "REDIS_URL": "", "S3_ENDPOINT": ""}
    out = subprocess.run([str(bindir / "camnet"), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([str(bindir / "flask"), "--app", "camnet", "unit", "list"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "camnet.db").exists()
