"""The one permission layer (``tenants.access``) from the caller's side, on SQLite and PostgreSQL:
a role that never holds a permission gets 403 before any id is looked at; a unit or row outside its
reach does not exist (404)."""
from __future__ import annotations

import pytest

from camnet.errors import ForbiddenError, NotFoundError
from camnet.tenants import access
from camnet.tenants.roles import scope_for_user
from camnet.tenants.scope import SYSTEM, use_scope


def _as(world, username: str):
    return use_scope(scope_for_user(world.users[username]))


def test_communes_for_lists_only_the_communes_held_with_the_permission(any_app, world):
    a, b = world.id("a"), world.id("b")
    with _as(world, "operator_a"):
        assert [u.id for u in access.communes_for("cameras.manage")] == [a]
    with _as(world, "chairman_a"):
        assert access.communes_for("cameras.manage") == []
    with _as(world, "police_dist"):
        assert {u.id for u in access.communes_for("media.view")} == {a, b}  # no district, no foreign commune
        assert access.communes_for("cameras.manage") == []


def test_get_commune_is_404_outside_reach_for_a_missing_permission_or_a_unit_that_is_no_commune(any_app, world):
    with _as(world, "police_dist"):
        assert access.get_commune(world.id("a"), "incidents.read").id == world.id("a")
        for unit in ("c", "dist"):  # another district's commune; a unit in reach that is no commune
            with pytest.raises(NotFoundError):
                access.get_commune(world.id(unit), "incidents.read")
    with _as(world, "chairman_a"), pytest.raises(NotFoundError):
        access.get_commune(world.id("a"), "media.view")  # its own commune, but no video grant


def test_require_is_403_for_a_role_that_never_holds_it_and_404_outside_its_reach(any_app, world):
    a, b = world.id("a"), world.id("b")
    with _as(world, "technician_a"):
        with pytest.raises(ForbiddenError):
            access.require("funding.read")
        with pytest.raises(ForbiddenError):
            access.require_any("funding.read", "media.view")
        with pytest.raises(ForbiddenError):
            access.require_all("faults.read", "media.view")
        with pytest.raises(NotFoundError):
            access.require("faults.read", b)
        with pytest.raises(ForbiddenError):
            access.require_at("cameras.manage", a)  # sees the commune, may not manage its cameras
        access.require("faults.read", a)
        access.require_at("faults.manage", a)
        assert access.may_any("cameras.manage", "faults.manage", unit_id=a)
        assert not access.may_any("cameras.manage", "faults.manage", unit_id=b)


def test_holds_role_counts_grants_at_or_above_the_unit_and_never_the_system(any_app, world):
    a = world.id("a")
    with _as(world, "police_dist"):
        assert access.holds_role(("police",), a)
    with _as(world, "police_dist2"):
        assert not access.holds_role(("police",), a)
    with _as(world, "operator_a"):
        assert not access.holds_role(("police",), a)
    with use_scope(SYSTEM):
        assert not access.holds_role(("police",), a)


def test_an_api_permission_is_refused_before_any_id_is_looked_at(app, world, client_for):
    """A technician (no users.read) asking for users gets 403 whether the id is in its commune,
    foreign or made up: the answer tells nothing about which ids exist."""
    client = client_for("technician_a")
    for user_id in (world.users["operator_a"].id, world.users["operator_b"].id, 2**31 - 1):
        resp = client.get(f"/api/v1/users/{user_id}")
        assert resp.status_code == 403, (user_id, resp.get_data(as_text=True)[:300])
    assert client.get(f"/api/v1/units/{world.id('a')}").status_code == 200  # units.read it holds
