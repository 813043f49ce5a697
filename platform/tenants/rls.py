"""PostgreSQL's second wall: row-level security keyed on the request's scope, and append-only tables.

Used by migrations. The application sets ``app.unit_ids`` (comma-separated ids) and
``app.system`` per transaction (see ``scoping``); an unset scope gives no rows, not an error.
"""
from __future__ import annotations

# The system flag sits in an uncorrelated sub-select (evaluated once per statement), and the id
# list is an uncorrelated IN (SELECT unnest ...), which PostgreSQL runs as a hashed SubPlan: one
# hash probe per row instead of a scan of the whole list (thousands of ids for a province).
SCOPE_PREDICATE = (
    "((SELECT coalesce(current_setting('app.system', true), 'off') = 'on') OR {column} IN (SELECT unnest("
    "string_to_array(coalesce(nullif(current_setting('app.unit_ids', true), ''), '-1'), ',')::bigint[])))"
)


def enable(op, table: str, column: str) -> None:
    """Enable and force RLS on ``table`` so rows outside the scope are invisible and unwritable."""
    if op.get_bind().dialect.name != "postgresql":
        return
    predicate = SCOPE_PREDICATE.format(column=column)
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {table}_scope ON {table} USING {predicate} WITH CHECK {predicate}")


def disable(op, table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP POLICY IF EXISTS {table}_scope ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def append_only(op, table: str) -> None:
    """The database itself refuses UPDATE, DELETE and TRUNCATE on ``table``."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION camnet_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    )
    op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
               f"FOR EACH ROW EXECUTE FUNCTION camnet_refuse_change()")
    op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
               f"FOR EACH STATEMENT EXECUTE FUNCTION camnet_refuse_change()")


def drop_append_only(op, table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
