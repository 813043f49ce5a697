"""Rows that are written once and never changed or deleted (audit log, ledger journal).

A model mixes in ``AppendOnly``; the ORM then refuses to flush a change or a deletion of such a
row. PostgreSQL refuses too, by trigger (``tenants/rls.py``), for anything that bypasses the ORM.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session


class AppendOnly:
    """Mixin: rows of this model are never updated or deleted."""


def install() -> None:
    """Register the guard on every Session (idempotent)."""
    if getattr(install, "_done", False):
        return
    install._done = True

    @event.listens_for(Session, "before_flush")
    def _refuse(session, flush_context, instances):
        for obj in list(session.dirty) + list(session.deleted):
            if isinstance(obj, AppendOnly) and (obj in session.deleted or session.is_modified(obj)):
                raise RuntimeError(f"{obj.__tablename__} is append-only")
