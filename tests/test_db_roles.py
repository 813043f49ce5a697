"""Issue #12, finding 1, from the attacker's side: someone holding the application role's password
(or an SQL injection running as it) connects to PostgreSQL and tries to switch the walls off or
widen the scope. Every change to tables, triggers and policies is refused; a forged scope sees no
row of another commune; the scope the application itself signs still works."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from camnet import settings
from camnet.extensions import db
from camnet.tenants import idsets, rls_session
from camnet.tenants.models import AuditEvent
from camnet.tenants.rls_session import SET_SCOPE_SQL, rls_settings
from camnet.tenants.scope import SYSTEM, Scope, system_scope, use_scope



def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def attacker(pg_app, world):
    """A psycopg connection as the app role (what a stolen DATABASE_URL gives), autocommit."""
    with system_scope():
        db.session.add(AuditEvent(action="media.view", unit_id=world.id("a")))
        db.session.commit()
    with psycopg.connect(_dsn(pg_app.config["SQLALCHEMY_DATABASE_URI"]), autocommit=True) as conn:
        yield conn


@pytest.fixture
def owner(pg_app):
    with psycopg.connect(_dsn(pg_app.config["DATABASE_MIGRATE_URL"]), autocommit=True) as conn:
        yield conn


def _as_platform(conn, sql, params=None):
    """Run ``sql`` as the owner with the platform's scope (the owner's plain settings are trusted)."""
    with conn.transaction():
        conn.execute("SELECT set_config('app.system', 'on', true)")
        return conn.execute(sql, params).fetchall()


def test_app_role_is_neither_superuser_nor_bypassrls_nor_creates_roles_or_databases(attacker):
    row = attacker.execute("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
                           "WHERE rolname = current_user").fetchone()
    assert row == (False, False, False, False)
    owns = attacker.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user").fetchone()
    assert owns == (0,)


REFUSED = [
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
    "ALTER TABLE postings DISABLE TRIGGER postings_append_only",
    "ALTER TABLE journal_transactions DISABLE TRIGGER ALL",
    "ALTER TABLE cameras DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE cameras NO FORCE ROW LEVEL SECURITY",
    "DROP POLICY cameras_scope ON cameras",
    "CREATE POLICY everything ON cameras USING (true)",
    "ALTER POLICY cameras_scope ON cameras USING (true)",
    "CREATE TABLE stolen (id integer)",
    "DROP TABLE villages",
    "TRUNCATE audit_events",
    "TRUNCATE postings",
    "TRUNCATE villages",
    "UPDATE audit_events SET action = 'forged'",
    "DELETE FROM audit_events",
    "UPDATE postings SET amount = amount + 1",
    "DELETE FROM postings",
    "UPDATE journal_transactions SET commune_id = commune_id",
    "UPDATE alembic_version SET version_num = 'forged'",
    "SELECT * FROM camnet_private.scope_key",
    "CREATE OR REPLACE FUNCTION camnet_scope() RETURNS int4multirange LANGUAGE sql AS $$ SELECT '{(,)}'::int4multirange $$",
    "ALTER FUNCTION camnet_scope() SECURITY INVOKER",
    "CREATE FUNCTION camnet_scope_always() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$",
    "GRANT camnet_owner TO CURRENT_USER",
    "SET ROLE camnet_owner",
    "ALTER ROLE CURRENT_USER BYPASSRLS",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_app_role_is_refused(attacker, owner, sql):
    def state():
        return (_as_platform(owner, "SELECT count(*), string_agg(action, ',') FROM audit_events"),
                _as_platform(owner, "SELECT count(*), sum(amount) FROM postings"),
                owner.execute("SELECT tablename, policyname, qual FROM pg_policies ORDER BY 1, 2").fetchall(),
                owner.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1").fetchall(),
                owner.execute("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                              "WHERE relkind = 'r' ORDER BY 1").fetchall(),
                owner.execute("SELECT version_num FROM alembic_version").fetchall(),
                owner.execute("SELECT md5(prosrc) FROM pg_proc WHERE proname LIKE 'camnet_scope%' ORDER BY 1").fetchall())

    before = state()
    with attacker.transaction():  # the platform's scope as the app would sign it: rows are there to change
        attacker.execute(SET_SCOPE_SQL, _signed(SYSTEM))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            attacker.execute(sql)
    assert state() == before  # nothing written


def _signed(scope, key=None, slot=None):
    from flask import current_app

    key = key or settings.scope_signing_key(current_app.config)
    if slot is None:
        return rls_settings(scope, key)
    return rls_session._signed_settings(scope, key, slot)


def _villages(conn, settings_sql, params):
    with conn.transaction():
        conn.execute(settings_sql, params)
        return {r[0] for r in conn.execute("SELECT commune_id FROM villages")}, \
            {r[0] for r in conn.execute("SELECT unit_id FROM audit_events")}, \
            conn.execute("SELECT count(*) FROM api_tokens").fetchone()[0]


def test_forged_scope_sees_nothing_of_another_commune(attacker, world):
    a, b = world.id("a"), world.id("b")
    empty = (set(), set(), 0)
    # the settings of 0007, set by hand: no longer believed
    assert _villages(attacker, "SELECT set_config('app.system', 'on', true)", ()) == empty
    assert _villages(attacker, "SELECT set_config('app.unit_ranges', %s, true), set_config('app.system', 'off', true)",
                     (f"{{[{b},{b + 1})}}",)) == empty
    assert _villages(attacker, "SELECT set_config('app.unit_ids', %s, true)", (str(b),)) == empty
    # a signature that is garbage, made with another key, or made for another scope
    ranges_b = idsets.ranges_literal(frozenset({b}))
    assert _villages(attacker, SET_SCOPE_SQL, (ranges_b, "off", "1" * 75)) == empty
    assert _villages(attacker, SET_SCOPE_SQL, (ranges_b, "on", "z" * 75)) == empty  # never an error either
    assert _villages(attacker, SET_SCOPE_SQL, ("not ranges", "on", "")) == empty
    assert _villages(attacker, SET_SCOPE_SQL, _signed(Scope(unit_ids=frozenset({b})), key=b"k" * 32)) == empty
    _, _, mac_of_a = _signed(Scope(unit_ids=frozenset({a})))
    assert _villages(attacker, SET_SCOPE_SQL, (ranges_b, "off", mac_of_a)) == empty
    assert _villages(attacker, SET_SCOPE_SQL, (idsets.ranges_literal(frozenset({a})), "on", mac_of_a)) == empty
    # a genuine signature of the platform's scope, but two hours old (read off an old transaction)
    import time

    old_slot = (int(time.time()) - 7200) // rls_session.SCOPE_MAC_SLOT * rls_session.SCOPE_MAC_SLOT
    assert _villages(attacker, SET_SCOPE_SQL, _signed(SYSTEM, slot=old_slot)) == empty


def test_scope_signed_by_the_application_still_works(attacker, world):
    a, b = world.id("a"), world.id("b")
    villages, audits, _ = _villages(attacker, SET_SCOPE_SQL, _signed(Scope(unit_ids=frozenset({a}))))
    assert villages == {a} and audits <= {a} and a in audits
    villages, audits, tokens = _villages(attacker, SET_SCOPE_SQL, _signed(SYSTEM))
    assert {a, b} <= villages and a in audits
    # and through the application's own session hook
    with use_scope(Scope(unit_ids=frozenset({b}))):
        assert set(db.session.execute(text("SELECT commune_id FROM villages")).scalars()) == {b}
    db.session.rollback()


def test_no_policy_reads_a_setting_the_app_role_could_set(owner):
    """Every policy goes through camnet_scope() (so a migration that reads current_setting() itself
    would reopen the hole)."""
    rows = owner.execute("SELECT tablename, policyname, coalesce(qual, '') || coalesce(with_check, '') "
                         "FROM pg_policies").fetchall()
    assert rows and not [r for r in rows if "current_setting" in r[2] or "camnet_scope" not in r[2]]


def test_scope_key_and_functions_belong_to_the_owner(owner, pg_app):
    found = owner.execute("SELECT p.proname, pg_get_userbyid(p.proowner), p.prosecdef, p.proconfig FROM pg_proc p "
                          "WHERE p.proname = 'camnet_scope'").fetchone()
    assert found[1] == "camnet_owner" and found[2] is True and "search_path=pg_catalog, pg_temp" in found[3]
    privileges = owner.execute(
        "SELECT has_table_privilege('camnet', 'audit_events', 'UPDATE'), "
        "has_table_privilege('camnet', 'postings', 'DELETE'), has_table_privilege('camnet', 'villages', 'TRUNCATE'), "
        "has_table_privilege('camnet', 'villages', 'TRIGGER'), has_table_privilege('camnet', 'villages', 'UPDATE'), "
        "has_schema_privilege('camnet', 'camnet_private', 'USAGE')").fetchone()
    assert privileges == (False, False, False, False, True, False)


def test_grants_reach_tables_of_later_migrations(owner, pg_app):
    """The grant step runs after every upgrade: a table made by a later migration is covered too."""
    missing = owner.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT has_table_privilege('camnet', c.oid, 'SELECT')"
    ).fetchall()
    assert missing == []


def test_migrations_refuse_a_superuser_app_role(pg_app):
    """DATABASE_APP_ROLE naming a role that bypasses row-level security stops the upgrade (nothing
    half done: it runs in the migration's transaction)."""
    from flask_migrate import upgrade

    pg_app.config["DATABASE_APP_ROLE"] = "postgres"
    try:
        with pytest.raises(SystemExit):  # `camnet db upgrade` exits 1 with the message
            upgrade(directory=pg_app.config["MIGRATIONS_DIR"])
    finally:
        pg_app.config["DATABASE_APP_ROLE"] = None
    from sqlalchemy import create_engine

    from camnet.tenants import rls

    engine = create_engine(pg_app.config["DATABASE_MIGRATE_URL"])
    try:
        with engine.connect() as conn:
            with pytest.raises(RuntimeError, match="DATABASE_APP_ROLE: role 'postgres' is a superuser or BYPASSRLS"):
                rls.grant_app_role(conn, "postgres")
            with pytest.raises(RuntimeError, match="role 'nobody_here' does not exist"):
                rls.grant_app_role(conn, "nobody_here")
    finally:
        engine.dispose()


def test_helm_gives_the_owner_url_to_the_migration_job_only():
    """The chart with two roles: the owner's URL sits in a Secret of its own (a hook made before the
    migration Job and deleted after it), read by the Job alone; web, worker and cronjobs never see it."""
    from .test_helm import CHART, FULLNAME, _by_kind, _objects, _render, _schema_errors

    two_roles = {"secrets": {"secretKey": "x" * 40, "cameraSecretKey": "k" * 44,
                             "databaseUrl": "postgresql+psycopg://camnet:app@db/camnet",
                             "databaseMigrateUrl": "postgresql+psycopg://camnet_owner:owner@db/camnet",
                             "scopeSigningKey": "s" * 40},
                 "config": {"databaseAppRole": "camnet"}}
    existing = {"secrets": {"existingSecret": "camnet-prod", "existingMigrateSecret": "camnet-prod-owner"}}
    results = _render(CHART, [two_roles, existing])
    for result, migrate_secret in zip(results, (f"{FULLNAME}-migrate", "camnet-prod-owner"), strict=True):
        objects = _objects(result["templates"])
        assert _schema_errors(objects) == []
        kinds = _by_kind(objects)
        for kind, objs in kinds.items():
            for name, obj in objs.items():
                if kind not in ("Deployment", "Job", "CronJob"):
                    continue
                pod = obj["spec"]["template"] if kind != "CronJob" else obj["spec"]["jobTemplate"]["spec"]["template"]
                env = [e for c in pod["spec"]["containers"] for e in c.get("env", [])]
                migrate_env = [e for e in env if e["name"] == "DATABASE_MIGRATE_URL"]
                if kind == "Job":
                    assert migrate_env == [{"name": "DATABASE_MIGRATE_URL", "valueFrom": {"secretKeyRef": {
                        "name": migrate_secret, "key": "DATABASE_MIGRATE_URL"}}}], name
                else:
                    assert migrate_env == [], name
                    refs = [r for c in pod["spec"]["containers"] for r in c.get("envFrom", [])]
                    assert {"secretRef": {"name": migrate_secret}} not in refs, name
        if migrate_secret.endswith("-migrate"):
            secret = kinds["Secret"][migrate_secret]
            assert secret["stringData"] == {"DATABASE_MIGRATE_URL": "postgresql+psycopg://camnet_owner:owner@db/camnet"}
            assert secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
            main = kinds["Secret"][f"{FULLNAME}-secrets"]["stringData"]
            assert "DATABASE_MIGRATE_URL" not in main and main["SCOPE_SIGNING_KEY"] == "s" * 40
            assert kinds["ConfigMap"][f"{FULLNAME}-config"]["data"]["DATABASE_APP_ROLE"] == "camnet"
        else:
            assert "Secret" not in kinds
