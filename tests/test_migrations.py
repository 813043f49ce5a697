"""Migrations build the schema on empty SQLite and PostgreSQL, and match the models."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from camnet.extensions import db


def _drift(app):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, db.metadata)


def test_models_and_migrations_do_not_drift(any_app):
    diff = _drift(any_app)
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_creates_every_model_table(any_app):
    tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables


def test_postgres_tables_have_forced_row_level_security(pg_app):
    rows = db.session.execute(text(
        "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity AND relkind = 'r'")).scalars().all()
    for table in ("villages", "users", "audit_events", "admin_units"):
        assert table in rows


def test_app_role_is_not_superuser_nor_bypassrls(pg_app):
    row = db.session.execute(text(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
    assert row == (False, False)


def test_scope_policies_go_back_to_id_lists_and_forth_to_checked_ranges(pg_app):
    """Migration 0007 swaps every scope policy for ranges, 0008 for ranges vouched for by
    ``camnet_scope()``; their downgrades restore what was before, and upgrading again gives the same."""
    from flask_migrate import downgrade, upgrade

    directory = pg_app.config["MIGRATIONS_DIR"]

    def policies():
        rows = db.session.execute(text("SELECT tablename, qual FROM pg_policies "
                                       "WHERE policyname = tablename || '_scope'")).all()
        db.session.rollback()
        return dict(rows)

    def functions(name):
        count = db.session.execute(text("SELECT count(*) FROM pg_proc WHERE proname = :n"), {"n": name}).scalar()
        db.session.rollback()
        return count

    now = policies()
    assert len(now) >= 29 and all("camnet_scope()" in q and "current_setting" not in q for q in now.values())
    assert functions("camnet_scope") == 1 and functions("camnet_ranges_of_unit_ids") == 0
    downgrade(directory=directory, revision="0007_scope_as_ranges")
    ranges = policies()
    assert len(ranges) == 29 and all("app.unit_ranges" in q and "camnet_scope()" not in q for q in ranges.values())
    assert functions("camnet_scope") == 0 and functions("camnet_ranges_of_unit_ids") == 1
    downgrade(directory=directory, revision="0006_ledger_accounts_sponsor")
    before = policies()
    assert set(before) == set(ranges) and not any("unit_ranges" in q for q in before.values())
    assert all("app.unit_ids" in q for q in before.values()) and functions("camnet_ranges_of_unit_ids") == 0
    upgrade(directory=directory)
    assert policies() == now and functions("camnet_scope") == 1 and functions("camnet_ranges_of_unit_ids") == 0
