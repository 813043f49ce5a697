"""A small world for tests: the tree, one user per role, and foreign data marked to spot leaks."""
from __future__ import annotations

from dataclasses import dataclass, field

from camnet.extensions import db
from camnet.tenants.models import AdminUnit, RoleGrant, User, Village
from camnet.tenants.passwords import hash_password
from camnet.tenants.scope import system_scope

FOREIGN = "ZZNGOAILAI"  # every name in commune B, C and the other district carries it
PASSWORD = "mat-khau-thu-nghiem"
_HASH = None


@dataclass
class World:
    units: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    villages: dict = field(default_factory=dict)
    # objects later features add, by kind then by commune key: extra["camera"]["b"] = [...]
    extra: dict = field(default_factory=dict)
    password: str = PASSWORD

    def id(self, key: str) -> int:
        return self.units[key].id

    def add(self, kind: str, commune_key: str, obj) -> None:
        self.extra.setdefault(kind, {}).setdefault(commune_key, []).append(obj)


def feature_plugins():
    """Each ``tests/world_<feature>.py`` adds its objects (``build(w)``) and its path parameters
    for the isolation matrix (``PARAMS``: name -> kind in ``World.extra``)."""
    import importlib
    from pathlib import Path

    mods = []
    for path in sorted(Path(__file__).parent.glob("world_*.py")):
        mods.append(importlib.import_module(f"tests.{path.stem}"))
    return mods


def _unit(key, w, name, level, parent=None, commune=False):
    unit = AdminUnit(code=key.upper(), name=name, level=level, parent_id=parent.id if parent else None,
                     is_commune=commune, households=1000, population=4000, path="/")
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    w.units[key] = unit
    return unit


def _user(key, w, unit, role, sponsor_id=None):
    global _HASH
    _HASH = _HASH or hash_password(PASSWORD)
    user = User(username=key, full_name=f"Người dùng {key}", unit_id=unit.id, password_hash=_HASH,
                sponsor_id=sponsor_id)
    db.session.add(user)
    db.session.flush()
    if role:
        db.session.add(RoleGrant(user_id=user.id, role=role, unit_id=unit.id))
    w.users[key] = user
    return user


def build_world(app) -> World:
    w = World()
    with app.app_context(), system_scope():
        root = _unit("root", w, "Việt Nam", "quốc gia")
        prov = _unit("prov", w, "Tỉnh Thử Nghiệm", "tỉnh", root)
        dist = _unit("dist", w, "Huyện Thử Nghiệm", "huyện", prov)
        a = _unit("a", w, "Xã Đông Anh Thử", "xã", dist, True)
        b = _unit("b", w, f"Xã {FOREIGN} B", "xã", dist, True)
        other = _unit("dist2", w, f"Huyện {FOREIGN} Hai", "huyện", prov)
        c = _unit("c", w, f"Xã {FOREIGN} C", "xã", other, True)
        # a two-tier branch: province straight to commune (Vietnam since 2025)
        prov2 = _unit("prov2", w, f"Tỉnh {FOREIGN} Hai Cấp", "tỉnh", root)
        d = _unit("d", w, f"Phường {FOREIGN} D", "phường", prov2, True)
        for key, commune in (("a", a), ("b", b), ("c", c), ("d", d)):
            name = "Thôn Một" if key == "a" else f"Thôn {FOREIGN} {key}"
            v = Village(commune_id=commune.id, name=name, kind="thôn", households=100, population=400)
            db.session.add(v)
            w.villages[key] = v
        _user("admin", w, root, "admin")
        _user("police_prov", w, prov, "police")
        _user("police_dist", w, dist, "police")
        _user("police_dist2", w, other, "police")
        _user("police_prov2", w, prov2, "police")
        for role in ("chairman", "operator", "technician", "sponsor", "household"):
            _user(f"{role}_a", w, a, role)
            _user(f"{role}_b", w, b, role)
        _user("nobody_a", w, a, None)
        db.session.commit()
        for plugin in feature_plugins():
            plugin.build(w)
            db.session.commit()
        extra = [o for per in w.extra.values() for objs in per.values() for o in objs]
        for obj in list(w.units.values()) + list(w.users.values()) + list(w.villages.values()) + extra:
            db.session.refresh(obj)
            db.session.expunge(obj)
    return w
