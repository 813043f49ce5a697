"""How a request's transaction ends: COMMIT when it only read, ROLLBACK otherwise.

psycopg forgets every statement it has prepared on a connection when it sees a ROLLBACK (the
rollback may have undone objects the statements use). Ending every request with one, as
closing the session does, made PostgreSQL parse and plan every statement of every request
again: about 0.4 ms of the database's time per statement, most of what a report cost it. A
transaction that ran nothing but SELECTs has nothing to undo, so it ends with COMMIT and keeps
the prepared statements; one that ran anything else (INSERT, UPDATE, DELETE, SAVEPOINT, ...)
and was not committed by its view still rolls back, exactly as before.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

_WROTE = "camnet_wrote"
_CONNECTION = "camnet_connection_info"


def install(app, db) -> None:
    if not getattr(install, "_done", False):
        install._done = True

        @event.listens_for(Engine, "before_cursor_execute")
        def _note_writes(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip()[:6].upper() != "SELECT":
                conn.info[_WROTE] = True

        def _forget(conn, *args):
            conn.info.pop(_WROTE, None)

        for name in ("begin", "commit", "rollback"):
            event.listen(Engine, name, _forget)

        @event.listens_for(Session, "after_begin")
        def _remember_connection(session, transaction, connection):
            session.info[_CONNECTION] = connection.info

        @event.listens_for(Session, "after_transaction_end")
        def _drop_connection(session, transaction):
            if transaction.parent is None:
                session.info.pop(_CONNECTION, None)

    @app.teardown_request
    def end_read_only_transaction(exc):
        if exc is not None:
            return  # the session's removal rolls back
        session = db.session()  # this request's session, not the registry
        info = session.info.get(_CONNECTION)
        if (info is not None and not info.get(_WROTE) and session.in_transaction()
                and not (session.new or session.dirty or session.deleted)):
            try:
                session.commit()
            except Exception:  # noqa: BLE001 - a failed COMMIT of a read leaves the rollback to removal
                session.rollback()
