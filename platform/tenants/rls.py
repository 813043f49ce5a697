"""PostgreSQL's second wall: row-level security keyed on the request's scope, and append-only tables.

Used by migrations. The application sets ``app.unit_ranges`` (the scope's unit ids as an
int4multirange, ``idsets.ranges_literal``), ``app.system`` and, since migration 0008, ``app.scope_mac``
per transaction (see ``rls_session``); an unset or unsigned scope gives no rows, not an error.

Since 0008 the policies do not read those settings themselves (any role may set them): they call
``camnet_scope()``, owned by the owner role, which returns the scope only when ``app.scope_mac`` is
an HMAC of it under the key in ``camnet_private.scope_key`` (a table the application role cannot
read; the application holds the same key in its configuration). ``grant_app_role`` gives the
application role data privileges only; it runs after every migration (``migrations/env.py``).
"""
from __future__ import annotations

# The policies of migrations 0001-0006 (``enable``), kept as they were: the application then sent
# ``app.unit_ids`` (comma-separated ids). Migration 0007 replaces them.
SCOPE_PREDICATE = (
    "((SELECT coalesce(current_setting('app.system', true), 'off') = 'on') OR {column} IN (SELECT unnest("
    "string_to_array(coalesce(nullif(current_setting('app.unit_ids', true), ''), '-1'), ',')::bigint[])))"
)


# Since 0007: the scope as ranges, read once per statement (why: docs/SCALING.md, "Tenancy core").
# Processes of the previous release, still serving while an upgrade rolls out, send ``app.unit_ids``:
# ``camnet_ranges_of_unit_ids()`` turns that into ranges, called only when ``app.unit_ranges`` is absent.
SCOPE_RANGES_FUNCTION = """
CREATE OR REPLACE FUNCTION camnet_ranges_of_unit_ids() RETURNS int4multirange LANGUAGE sql STABLE AS $$
  SELECT coalesce(range_agg(int4range(u, u, '[]')), '{}'::int4multirange)
    FROM unnest(string_to_array(nullif(current_setting('app.unit_ids', true), ''), ',')::int[]) AS u
$$"""
# (coalesce(..., false) keeps the planner's guess at half the rows, as ``idsets.in_ranges`` does)
# Frozen for migration 0007: it trusts settings the application role can set itself (0008 replaces it).
RANGES_PREDICATE_0007 = ("((SELECT coalesce(current_setting('app.system', true), 'off') = 'on') "
                         "OR coalesce({column} <@ (SELECT coalesce(nullif(current_setting('app.unit_ranges', true), '')"
                         "::int4multirange, camnet_ranges_of_unit_ids())), false))")


# Since 0008: the scope as ``camnet_scope()`` vouches for it, called once per table a statement
# names (not per row), in 0007's shape so the planner's guesses stay the same (cost: docs/SCALING.md).
RANGES_PREDICATE = ("(coalesce({column} <@ (SELECT camnet_scope()), false) "
                    "OR (SELECT camnet_scope_system()))")
# Tables only the platform itself reads (``scope.system_scope``).
SYSTEM_ONLY_PREDICATE = "((SELECT camnet_scope_system()))"

SCOPE_KEY_TABLE = "camnet_private.scope_key"
# The message the application signs (``rls_session.rls_settings``) is 'v1|<issued>|<system>|<ranges>';
# app.scope_mac is '<issued, 10 digits>:<HMAC-SHA256 in hex>'. The HMAC is computed here with the
# built-in sha256() over the key's inner and outer pads (stored, so no pgcrypto is needed). The
# MAC is checked before its time is parsed, so garbage can only give the empty scope, never an
# error. A MAC issued more than SCOPE_MAC_PAST seconds before the transaction began is refused
# (a scope read off one transaction cannot be replayed for long). Sessions of the owner role itself
# (migrations, a single-role development set-up) may still use the plain settings: that role can
# switch row-level security off anyway.
SCOPE_MAC_PAST = 3600
SCOPE_FUNCTIONS = [
    "CREATE SCHEMA IF NOT EXISTS camnet_private",
    "REVOKE ALL ON SCHEMA camnet_private FROM PUBLIC",
    f"CREATE TABLE IF NOT EXISTS {SCOPE_KEY_TABLE} (id integer PRIMARY KEY CHECK (id = 1), "
    "ikey bytea NOT NULL, okey bytea NOT NULL)",
    f"REVOKE ALL ON {SCOPE_KEY_TABLE} FROM PUBLIC",
    f"""CREATE OR REPLACE FUNCTION public.camnet_scope() RETURNS int4multirange
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  mac text := current_setting('app.scope_mac', true);
  sys text := current_setting('app.system', true);
  ranges text := current_setting('app.unit_ranges', true);
  k record;
BEGIN
  IF length(mac) = 75 THEN
    SELECT s.ikey, s.okey INTO k FROM {SCOPE_KEY_TABLE} s WHERE s.id = 1;
    -- nested, not AND: the time is parsed only once the MAC vouched for it (garbage is never cast)
    IF encode(sha256(k.okey || sha256(k.ikey || convert_to('v1|' || left(mac, 10) || '|' || sys || '|' || ranges,
                                                           'UTF8'))), 'hex') = right(mac, 64) THEN
      IF left(mac, 10)::bigint > extract(epoch FROM transaction_timestamp()) - {SCOPE_MAC_PAST} THEN
        RETURN CASE WHEN sys = 'on' THEN '{{(,)}}'::int4multirange ELSE ranges::int4multirange END;
      END IF;
    END IF;
  END IF;
  IF pg_has_role(session_user, current_user, 'MEMBER') THEN
    RETURN CASE WHEN sys = 'on' THEN '{{(,)}}'::int4multirange
                ELSE coalesce(nullif(ranges, '')::int4multirange, '{{}}'::int4multirange) END;
  END IF;
  RETURN '{{}}'::int4multirange;
END $$""",  # nosec B608 - built from constants of this module only
    # The system scope is the unbounded range, which no unit scope is. Inlined where it is used (so
    # no SET search_path: names are qualified instead; it runs with the caller's rights anyway).
    "CREATE OR REPLACE FUNCTION public.camnet_scope_system() RETURNS boolean LANGUAGE sql STABLE AS $$ "
    "SELECT public.camnet_scope() OPERATOR(pg_catalog.=) '{(,)}'::pg_catalog.int4multirange $$",
]
DROP_SCOPE_FUNCTIONS = [
    "DROP FUNCTION IF EXISTS public.camnet_scope_system()",
    "DROP FUNCTION IF EXISTS public.camnet_scope()",
    "DROP SCHEMA IF EXISTS camnet_private CASCADE",
]


def scope_key_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys (RFC 2104) for a key of at most 64 bytes."""
    padded = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)


def after_migrations(conn, key: bytes | None, app_role: str | None) -> list[str]:
    """What ``camnet db upgrade`` does after the revisions, in their transaction: store the scope key,
    and give ``app_role`` data privileges only. Returns notes for the operator."""
    from sqlalchemy import text

    notes = []
    owner = conn.execute(text("SELECT current_user")).scalar()
    key_table = conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": SCOPE_KEY_TABLE}).scalar()
    if key_table and key:
        ikey, okey = scope_key_pads(key)
        conn.execute(text(f"INSERT INTO {SCOPE_KEY_TABLE} (id, ikey, okey) VALUES (1, :i, :o) "  # nosec B608 - constant table name
                          "ON CONFLICT (id) DO UPDATE SET ikey = excluded.ikey, okey = excluded.okey"),
                     {"i": ikey, "o": okey})
    if not app_role or app_role == owner:
        notes.append(f"database: the application connects as the owner role {owner}: row-level security "
                     "holds against mistakes, not against an attacker (set DATABASE_MIGRATE_URL)")
        return notes
    grant_app_role(conn, app_role)
    notes.append(f"database: {app_role} has data privileges only (owner {owner})")
    return notes


def grant_app_role(conn, role: str) -> None:
    """Data privileges only for ``role``, on everything in schema public, given afresh (what a table
    had before is revoked first): SELECT/INSERT/UPDATE/DELETE on tables, no UPDATE/DELETE on
    append-only ones (nor TRUNCATE, REFERENCES, TRIGGER anywhere), SELECT only on alembic_version,
    USAGE/SELECT on sequences. Default privileges cover tables made later by the owner."""
    from sqlalchemy import text


    found = conn.execute(text("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
                              "WHERE rolname = :r"), {"r": role}).first()
    if found is None:
        raise RuntimeError(f"DATABASE_APP_ROLE: role {role!r} does not exist (CREATE ROLE {role} LOGIN ...)")
    if found[0] or found[1]:
        raise RuntimeError(f"DATABASE_APP_ROLE: role {role!r} is a superuser or BYPASSRLS: row-level "
                           "security would not hold (ALTER ROLE ... NOSUPERUSER NOBYPASSRLS)")
    who = _quote(conn, role)
    append_only = conn.execute(text(
        "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE n.nspname = 'public' AND p.proname = 'camnet_refuse_change' ORDER BY 1")).scalars().all()
    for sql in (
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {who}",
        *(f"REVOKE UPDATE, DELETE ON public.{_quote(conn, t)} FROM {who}" for t in append_only),
        f"REVOKE INSERT, UPDATE, DELETE ON TABLE public.alembic_version FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
        f"GRANT USAGE ON SCHEMA public TO {who}",
        f"REVOKE ALL ON SCHEMA camnet_private FROM {who}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {who}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {who}",
    ):
        if "alembic_version" in sql and not conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar():
            continue
        if "camnet_private" in sql and not conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = 'camnet_private'")).scalar():
            continue
        conn.execute(text(sql))
    # Before PostgreSQL 15 every role could create objects in schema public; only its owner may
    # take that back (the database's owner, when the owner role made the database).
    if conn.execute(text("SELECT pg_has_role(current_user, n.nspowner, 'USAGE') FROM pg_namespace n "
                         "WHERE n.nspname = 'public'")).scalar():
        conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))


def _quote(conn, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)

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
