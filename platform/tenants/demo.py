"""The demo district, drawn from the seed articles, with one demo user per role."""
from __future__ import annotations

from sqlalchemy import select

from ..clock import utc_now
from ..extensions import db
from .mfa import DEMO_TOTP_SECRET, required_roles
from .models import AdminUnit, RoleGrant, User, Village
from .passwords import hash_password
from .scope import system_scope

DEMO_PASSWORD = "camnet-demo-2026"

# (code, name, level, households, population, [(village, kind, households, population)])
COMMUNES = [
    ("NUIDOI", "Thị trấn Núi Đối", "thị trấn", 1200, 4130,
     [(f"Tổ dân phố {n}", "tổ dân phố", hh, pop) for n, hh, pop in
      [("Đồng Tâm", 210, 720), ("Tân Thành", 190, 660), ("Núi Đối", 230, 790),
       ("Quyết Tiến", 180, 620), ("Minh Khai", 200, 690), ("Cẩm Hoàn", 190, 650)]]),
    ("NGUHIEP", "Xã Ngũ Hiệp", "xã", 5200, 19800,
     [(f"Thôn {n}", "thôn", hh, pop) for n, hh, pop in
      [("Đông Trạch", 1100, 4200), ("Ngũ Hiệp", 1300, 4900), ("Yên Ngưu", 900, 3400),
       ("Lạc Thị", 1000, 3800), ("Lưu Phái", 900, 3500)]]),
    ("HAIDONG", "Xã Hải Đông", "xã", 2600, 9800,
     [(f"Thôn {n}", "thôn", 230 + 10 * n, 870 + 30 * n) for n in range(1, 12)]),
    ("HOXA", "Thị trấn Hồ Xá", "thị trấn", 4200, 15600,
     [(f"Khóm {n}", "khu phố", 330 + 5 * n, 1250 + 20 * n) for n in range(1, 13)]),
    ("BENSUNG", "Thị trấn Bến Sung", "thị trấn", 3100, 11500,
     [(f"Khu phố {n}", "khu phố", 350 + 10 * i, 1300 + 40 * i) for i, n in
      enumerate(["1", "2", "3", "4", "Hải Tiến", "Đồng Xuân", "Xuân Tiến", "Hải Vân"])]),
]

# username, full name, role, where ("district" or a commune code)
USERS = [
    ("admin", "Quản trị Nền tảng", "admin", "root"),
    ("congan.huyen", "Đại úy Nguyễn Văn Hùng", "police", "district"),
    ("congan.tinh", "Thượng tá Đào Thanh Hải", "police", "province"),
    ("chutich.nuidoi", "Phạm Thị Vinh", "chairman", "NUIDOI"),
    ("vanhanh.nuidoi", "Trần Đức Minh", "operator", "NUIDOI"),
    ("vanhanh.nguhiep", "Lê Thị Hồng Nhung", "operator", "NGUHIEP"),
    ("kythuat.nuidoi", "Vũ Quang Khải", "technician", "NUIDOI"),
    ("taitro.viettel", "Viettel Construction (đại diện)", "sponsor", "NGUHIEP"),
    ("hogiadinh.bensung", "Hộ ông Lê Văn Đức", "household", "BENSUNG"),
]


def _unit(code, name, level, parent=None, commune=False, households=None, population=None):
    unit = db.session.execute(select(AdminUnit).where(AdminUnit.code == code)).scalar_one_or_none()
    if unit is None:
        unit = AdminUnit(code=code, name=name, level=level, parent_id=parent.id if parent else None,
                         is_commune=commune, households=households, population=population, path="/")
        db.session.add(unit)
        db.session.flush()
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    return unit


def load_demo() -> dict:
    """Idempotent: running it twice leaves one demo district."""
    with system_scope():
        root = _unit("VN", "Việt Nam", "quốc gia")
        province = _unit("DEMO-TINH", "Tỉnh Mẫu (demo)", "tỉnh", root)
        district = _unit("DEMO-HUYEN", "Huyện Liên Kết (demo)", "huyện", province)
        places = {"root": root, "province": province, "district": district}
        for code, name, level, hh, pop, villages in COMMUNES:
            commune = _unit(code, name, level, district, True, hh, pop)
            places[code] = commune
            for vname, kind, vhh, vpop in villages:
                exists = db.session.execute(select(Village.id).where(
                    Village.commune_id == commune.id, Village.name == vname)).first()
                if not exists:
                    db.session.add(Village(commune_id=commune.id, name=vname, kind=kind,
                                           households=vhh, population=vpop))
        for username, full_name, role, where in USERS:
            unit = places[where]
            user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                user = User(username=username, full_name=full_name, unit_id=unit.id,
                            password_hash=hash_password(DEMO_PASSWORD))
                db.session.add(user)
                db.session.flush()
            has = db.session.execute(select(RoleGrant.id).where(
                RoleGrant.user_id == user.id, RoleGrant.role == role, RoleGrant.unit_id == unit.id)).first()
            if not has:
                db.session.add(RoleGrant(user_id=user.id, role=role, unit_id=unit.id))
        db.session.commit()
        _enrol_two_factor()
    return places


def _enrol_two_factor() -> None:
    """Demo users whose role requires a second factor get the published TOTP secret (once)."""
    from .. import crypto
    from .models import TotpCredential

    required = required_roles()
    for username, _, role, _ in USERS:
        if role not in required:
            continue
        user_id = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
        if db.session.execute(select(TotpCredential.id).where(TotpCredential.user_id == user_id)).first():
            continue
        db.session.add(TotpCredential(user_id=user_id, secret_enc=crypto.encrypt(DEMO_TOTP_SECRET),
                                      confirmed_at=utc_now()))
    db.session.commit()


def load_summary() -> dict:
    places = load_demo()
    return {"communes": sum(1 for p in places.values() if p.is_commune), "users": len(USERS)}
