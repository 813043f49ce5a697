"""The one scoping mechanism: forgotten filters return nothing foreign, on SQLite and PostgreSQL."""
import pytest
from sqlalchemy import select, text, update

from camnet.errors import NotFoundError
from camnet.extensions import db
from camnet.tenants.models import AdminUnit, AuditEvent, User, Village
from camnet.tenants.roles import scope_for_user
from camnet.tenants.scope import EMPTY, system_scope, use_scope


def _scope_of(world, username):
    return scope_for_user(world.users[username])


def test_unfiltered_query_returns_only_the_users_commune(any_app, world):
    with use_scope(_scope_of(world, "operator_a")):
        names = db.session.execute(select(Village.name)).scalars().all()
    assert names == ["Thôn Một"]


def test_no_scope_at_all_returns_nothing(any_app, world):
    with use_scope(EMPTY):
        assert db.session.execute(select(Village)).scalars().all() == []
        assert db.session.execute(select(User)).scalars().all() == []


def test_district_police_see_every_commune_below_and_nothing_beside(any_app, world):
    with use_scope(_scope_of(world, "police_dist")):
        communes = set(db.session.execute(select(Village.commune_id)).scalars())
    assert communes == {world.id("a"), world.id("b")}


def test_two_tier_province_police_reach_a_commune_directly_below(any_app, world):
    with use_scope(_scope_of(world, "police_prov2")):
        communes = set(db.session.execute(select(Village.commune_id)).scalars())
    assert communes == {world.id("d")}


def test_get_by_foreign_id_finds_nothing(any_app, world):
    from camnet.tenants.access import get_scoped

    with use_scope(_scope_of(world, "chairman_a")):
        with pytest.raises(NotFoundError):
            get_scoped(Village, world.villages["b"].id)
        assert db.session.execute(select(AdminUnit).where(AdminUnit.id == world.id("b"))).first() is None


def test_write_into_another_commune_is_refused_and_nothing_is_written(any_app, world):
    with use_scope(_scope_of(world, "operator_a")):
        db.session.add(Village(commune_id=world.id("b"), name="Thôn Xâm Nhập"))
        with pytest.raises(NotFoundError):
            db.session.flush()
        db.session.rollback()
    with system_scope():
        assert db.session.execute(select(Village).where(Village.name == "Thôn Xâm Nhập")).first() is None


def test_bulk_update_cannot_reach_another_commune(any_app, world):
    with use_scope(_scope_of(world, "operator_a")):
        db.session.execute(update(Village).values(households=999))
        db.session.commit()
    with system_scope():
        rows = dict(db.session.execute(select(Village.commune_id, Village.households)).all())
    assert rows[world.id("a")] == 999 and rows[world.id("b")] == 100


def test_row_level_security_holds_raw_sql_on_postgres(pg_app, world):
    """Even SQL that skips the ORM meets the database's own policy."""
    a, b = world.id("a"), world.id("b")
    with use_scope(_scope_of(world, "operator_a")):
        rows = db.session.execute(text("SELECT commune_id FROM villages")).scalars().all()
        assert set(rows) == {a}
        db.session.rollback()
    with use_scope(EMPTY):
        assert db.session.execute(text("SELECT count(*) FROM villages")).scalar() == 0
        db.session.rollback()
    with use_scope(_scope_of(world, "operator_a")):
        with pytest.raises(Exception, match="row-level security"):
            db.session.execute(text("INSERT INTO villages (commune_id, name, kind, households, population) "
                                    "VALUES (:b, 'Thôn Lậu', 'thôn', 0, 0)"), {"b": b})
        db.session.rollback()


def test_audit_rows_cannot_be_changed_even_by_raw_sql_on_postgres(pg_app, world):
    with system_scope():
        db.session.add(AuditEvent(action="media.view", unit_id=world.id("a")))
        db.session.commit()
        # the app role holds no UPDATE/DELETE on it (migration 0008); the trigger stands behind that
        with pytest.raises(Exception, match="append-only|permission denied"):
            db.session.execute(text("UPDATE audit_events SET action = 'x'"))
        db.session.rollback()
        with pytest.raises(Exception, match="append-only|permission denied"):
            db.session.execute(text("DELETE FROM audit_events"))
        db.session.rollback()


def test_orm_refuses_to_change_audit_rows(any_app, world):
    with system_scope():
        event = AuditEvent(action="media.view", unit_id=world.id("a"))
        db.session.add(event)
        db.session.commit()
        event.action = "edited"
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.flush()
        db.session.rollback()


def test_scope_ranges_literal():
    from camnet.tenants.idsets import ranges_literal

    assert ranges_literal(frozenset({9, 1, 2, 3, 7, 10})) == "{[1,4),[7,8),[9,11)}"
    assert ranges_literal(frozenset({5})) == "{[5,6)}"
    assert ranges_literal(frozenset()) == "{}"  # holds nothing: fail closed


def _gapped_scope(world):
    """Communes a and c but not b, which lies between them: two ranges with a gap."""
    from camnet.tenants.scope import Scope

    return Scope(unit_ids=frozenset({world.id("a"), world.id("c")}))


def test_a_scope_with_gaps_holds_on_both_walls_of_postgres(pg_app, world, live_services):
    """The ORM's criterion and the row-level security policy each keep exactly the scope's units,
    ranges with a gap between them included; either wall alone suffices."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    a, b, c = world.id("a"), world.id("b"), world.id("c")
    assert min(a, c) < b < max(a, c)  # so the scope is two ranges with b in the gap
    scope = _gapped_scope(world)
    with use_scope(scope):  # both walls
        assert set(db.session.execute(select(Village.commune_id)).scalars()) == {a, c}
        assert set(db.session.execute(text("SELECT commune_id FROM villages")).scalars()) == {a, c}
        db.session.rollback()
    # the criterion alone: the superuser is not held by row-level security
    admin = live_services["CAMNET_TEST_PG_URL"].rsplit("/", 1)[0] + "/" + db.engine.url.database
    engine = sa.create_engine(admin)
    try:
        with Session(engine) as session, use_scope(scope):
            assert set(session.execute(select(Village.commune_id)).scalars()) == {a, c}
            assert b in set(session.execute(text("SELECT commune_id FROM villages")).scalars())  # no RLS here
    finally:
        engine.dispose()


def test_policy_no_longer_trusts_the_unsigned_id_list_of_the_previous_release(pg_app, world):
    """Since migration 0008 ``app.unit_ids`` (unsigned: any role could set it) is not read at all;
    a transaction that sends neither it nor a signed scope sees nothing."""
    a = world.id("a")
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection  # psycopg itself: the app's hook would send the new settings
        raw.execute("SELECT set_config('app.unit_ids', %s, true)", (str(a),))
        assert raw.execute("SELECT count(*) FROM villages").fetchone()[0] == 0
        raw.rollback()
        assert raw.execute("SELECT count(*) FROM villages").fetchone()[0] == 0
        raw.rollback()
