"""Every route of the OpenAPI document, for every role, against another commune's and a parent's data.

A route leaks if it answers 200 with foreign data, 500, 401 to a signed-in user, or a 403
that depends on the id (a 403 is only fair when the role never holds the route's permission).
"""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from camnet.extensions import db
from camnet.tenants.roles import ROLE_PERMISSIONS
from camnet.tenants.scope import system_scope

from .world import feature_plugins

ATTACKERS = ["chairman_a", "operator_a", "technician_a", "sponsor_a", "household_a", "nobody_a",
             "police_dist2", "police_prov2"]


def _subtree_paths(world, username):
    user = world.users[username]
    return [world.units[k].path for k, u in world.units.items()
            if any(g.unit_id == u.id for g in user.grants)] or [world.units[
                next(k for k, u in world.units.items() if u.id == user.unit_id)].path]


def _in_scope(world, username, unit_id) -> bool:
    unit = next(u for u in world.units.values() if u.id == unit_id)
    return any(unit.path.startswith(p) for p in _subtree_paths(world, username))


def _foreign(world, username):
    """Ids per path parameter and the names that must never appear for this user."""
    units = [u for u in world.units.values() if not _in_scope(world, username, u.id)]
    unit_ids = {u.id for u in units}
    users = [u for u in world.users.values() if u.unit_id in unit_ids]
    ids = {
        "unit_id": [u.id for u in units],
        "user_id": [u.id for u in users],
        "grant_id": [g.id for u in users for g in u.grants],
        "token_id": list(world.extra.get("token_ids", {}).get("all", [])),
    }
    names = [u.name for u in units] + [v.name for k, v in world.villages.items() if v.commune_id in unit_ids]
    for plugin in feature_plugins():
        for param, kind in getattr(plugin, "PARAMS", {}).items():
            objs = [o for key, lst in world.extra.get(kind, {}).items()
                    if world.units[key].id in unit_ids for o in lst]
            ids[param] = [o.id for o in objs]
        names += [n for n in getattr(plugin, "foreign_names", lambda w, ids: [])(world, unit_ids)]
    return ids, names


def _perms(world, username):
    user = world.users[username]
    return set().union(*[ROLE_PERMISSIONS[g.role] for g in user.grants]) if user.grants else set()


def _fill(value, unit_id):
    if isinstance(value, str) and value == "{unit_id}":
        return unit_id
    if isinstance(value, dict):
        return {k: _fill(v, unit_id) for k, v in value.items()}
    return value


def _row_counts():
    with system_scope():
        return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar()
                for t in db.metadata.sorted_tables if t.name not in ("audit_events",)}


@pytest.fixture
def tokens_for_matrix(any_app, world, client_for):
    ids = []
    for name in ("operator_b", "police_dist", "admin"):
        ids.append(client_for(name).post("/api/v1/tokens", json={"name": "khóa " + name}).get_json()["id"])
    world.extra["token_ids"] = {"all": ids}
    return ids


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_no_route_leaks_across_tenants(any_app, world, client_for, tokens_for_matrix, attacker):
    spec = any_app.test_client().get("/api/v1/openapi.json").get_json()
    ids, names = _foreign(world, attacker)
    perms = _perms(world, attacker)
    client = client_for(attacker)
    before = _row_counts()
    problems = []
    checked = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            params = re.findall(r"{(\w+)}", path)
            missing = [p for p in params if p not in ids]
            assert not missing, f"{method.upper()} {path}: the matrix knows no foreign ids for {missing}"
            example = op.get("x-example")
            targets_foreign = bool(params) or (example is not None and "{unit_id}" in json.dumps(example))
            combos = []
            if params:
                n = max(len(ids[p]) for p in params)
                if any(not ids[p] for p in params):
                    continue  # this attacker has nothing foreign of that kind
                combos = [{p: ids[p][i % len(ids[p])] for p in params} for i in range(n)]
            else:
                combos = [{}]
            foreign_units = ids["unit_id"] or [None]
            for combo in combos:
                url = path
                for p, v in combo.items():
                    url = url.replace("{" + p + "}", str(v))
                for unit_id in (foreign_units if targets_foreign and not params else [foreign_units[0]]):
                    body = _fill(example, unit_id) if example is not None else None
                    if method in ("get", "delete"):
                        resp = client.open(url, method=method.upper())
                    else:
                        resp = client.open(url, method=method.upper(), json=body if body is not None else {})
                    checked += 1
                    text = resp.get_data(as_text=True)
                    label = f"{method.upper()} {url} body={body} -> {resp.status_code}"
                    if resp.status_code >= 500 or resp.status_code == 401:
                        problems.append(label)
                    elif resp.status_code == 403:
                        if any(p in perms for p in op.get("x-permission-any") or [op.get("x-permission")]):
                            problems.append(label + " (403 confirms existence)")
                    elif resp.status_code < 300 and (params or targets_foreign):
                        problems.append(label + " (acted on foreign data)")
                    leaked = [n for n in names if n in text]
                    if leaked:
                        problems.append(label + f" leaked {leaked[:3]}")
    assert checked > 10
    assert not problems, "\n".join(problems)
    # POST /tokens makes the attacker's own token; nothing else may have been written
    after = _row_counts()
    after.pop("api_tokens"), before.pop("api_tokens")
    assert after == before, "a foreign write went through"
