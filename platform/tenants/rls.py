"""PostgreSQL's second wall: row-level security keyed on the request's scope, and append-only tables.

Used by migrations. The application sets ``app.unit_ranges`` (the scope's unit ids as an
int4multirange, ``scoping.ranges_literal``) and ``app.system`` per transaction (see ``scoping``);
an unset scope gives no rows, not an error.
"""
from __future__ import annotations

# The policies of migrations 0001-0006 (``enable``), kept as they were: the application then sent
# ``app.unit_ids`` (comma-separated ids), tested through a hashed SubPlan built per table a
# statement names (~0.08 ms for a province's 500 ids). Migration 0007 replaces them.
SCOPE_PREDICATE = (
    "((SELECT coalesce(current_setting('app.system', true), 'off') = 'on') OR {column} IN (SELECT unnest("
    "string_to_array(coalesce(nullif(current_setting('app.unit_ids', true), ''), '-1'), ',')::bigint[])))"
)


# Since 0007. The system flag and the scope sit in uncorrelated sub-selects (evaluated once per
# statement): the ranges are parsed once, then each row is a binary search over them. Processes
# of the previous release, still serving while an upgrade rolls out, send ``app.unit_ids``
# instead: ``camnet_ranges_of_unit_ids()`` turns that into ranges, called only when
# ``app.unit_ranges`` is absent (a function in the common path cost ~40 us per table a statement
# names; this way it costs nothing).
SCOPE_RANGES_FUNCTION = """
CREATE OR REPLACE FUNCTION camnet_ranges_of_unit_ids() RETURNS int4multirange LANGUAGE sql STABLE AS $$
  SELECT coalesce(range_agg(int4range(u, u, '[]')), '{}'::int4multirange)
    FROM unnest(string_to_array(nullif(current_setting('app.unit_ids', true), ''), ',')::int[]) AS u
$$"""
# (coalesce(..., false) keeps the planner's guess at half the rows, as ``scoping.in_ranges`` does)
RANGES_PREDICATE = ("((SELECT coalesce(current_setting('app.system', true), 'off') = 'on') "
                    "OR coalesce({column} <@ (SELECT coalesce(nullif(current_setting('app.unit_ranges', true), '')"
                    "::int4multirange, camnet_ranges_of_unit_ids())), false))")


def replace_policy(op, table: str, column: str, predicate: str) -> None:
    """Swap the scope policy of ``table`` (enabled by ``enable``) for one with ``predicate``."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP POLICY IF EXISTS {table}_scope ON {table}")
    clause = predicate.format(column=column)
    op.execute(f"CREATE POLICY {table}_scope ON {table} USING {clause} WITH CHECK {clause}")


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
