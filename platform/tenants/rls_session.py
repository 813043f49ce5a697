"""The current scope, told to PostgreSQL's row-level security (``rls``) in every transaction.

Row-level security reads the scope from three transaction-local settings: the ranges, the system
flag and an HMAC of both under the scope key, which PostgreSQL's ``camnet_scope()`` checks. Any role
may set the first two; without the key no one signs them.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..extensions import db
from ..settings import SCOPE_KEY_OPTION
from .idsets import ranges_literal
from .scope import Scope, current_scope

SET_SCOPE_SQL = ("SELECT set_config('app.unit_ranges', %s, true), set_config('app.system', %s, true), "
                 "set_config('app.scope_mac', %s, true)")
# A signature names the start of its 10-minute slot; the database refuses one older than an hour
# (``rls.SCOPE_MAC_PAST``), so a scope read off a transaction cannot be replayed for long.
SCOPE_MAC_SLOT = 600


def rls_settings(scope: Scope, key: bytes | None = None) -> tuple[str, str, str]:
    """(app.unit_ranges, app.system, app.scope_mac) for a scope: the parameters of SET_SCOPE_SQL, the
    same tuple for a scope and key throughout a slot. ``key``: the app's engine's (``settings.scope_signing_key``)."""
    if key is None:
        key = _engine_scope_key()
    slot = int(time.time()) // SCOPE_MAC_SLOT * SCOPE_MAC_SLOT
    return _signed_settings(scope, key, slot)


@functools.lru_cache(maxsize=512)
def _signed_settings(scope: Scope, key: bytes | None, slot: int) -> tuple[str, str, str]:
    ranges, system = ranges_literal(scope.unit_ids), "on" if scope.system else "off"
    if not key:
        return ranges, system, ""  # no key: PostgreSQL gives the empty scope
    issued = f"{slot:010d}"
    mac = hmac.new(key, f"v1|{issued}|{system}|{ranges}".encode(), hashlib.sha256).hexdigest()
    return ranges, system, f"{issued}:{mac}"


def _engine_scope_key() -> bytes | None:
    return db.engine.get_execution_options().get(SCOPE_KEY_OPTION)


_RLS_KEY = "camnet_rls_sent"


def install() -> None:
    """Register the engine hooks that send the settings (idempotent)."""
    if getattr(install, "_done", False):
        return
    install._done = True

    # Sent on the connection just before a statement runs whenever the scope differs from what this
    # transaction last heard, so a scope switched and switched back without a query costs nothing.
    @event.listens_for(Engine, "before_cursor_execute")
    def _send_scope(conn, cursor, statement, parameters, context, executemany):
        if conn.dialect.name != "postgresql":
            return
        want = rls_settings(current_scope(), conn.get_execution_options().get(SCOPE_KEY_OPTION) or b"")
        if conn.info.get(_RLS_KEY) is not want:
            conn.connection.driver_connection.execute(SET_SCOPE_SQL, want)
            conn.info[_RLS_KEY] = want

    def _forget(conn, *args):
        conn.info.pop(_RLS_KEY, None)

    # Transaction-local settings end with the transaction, and a savepoint rolled back takes
    # back whatever was set inside it.
    for name in ("begin", "commit", "rollback", "rollback_savepoint"):
        event.listen(Engine, name, _forget)
