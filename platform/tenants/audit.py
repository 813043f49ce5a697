"""The audit API: append-only rows for sign-ins, grants, tokens and every view of camera media."""
from __future__ import annotations

from flask import has_request_context, request
from flask_login import current_user

from ..extensions import db
from .models import AuditEvent
from .scope import system_scope


def client_ip() -> str | None:
    if not has_request_context():
        return None
    return request.remote_addr


def record(action: str, *, unit_id: int | None = None, object_type: str | None = None,
           object_id=None, reason: str | None = None, outcome: str = "ok",
           detail: dict | None = None, actor=None, actor_name: str | None = None) -> AuditEvent:
    """Add an audit row to the current transaction (the caller commits with its own work)."""
    if actor is None and has_request_context() and getattr(current_user, "is_authenticated", False):
        actor = current_user
    event = AuditEvent(
        action=action,
        unit_id=unit_id,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        reason=reason,
        outcome=outcome,
        detail=detail,
        actor_id=getattr(actor, "id", None),
        actor_name=actor_name or getattr(actor, "username", None),
        ip=client_ip(),
    )
    # Auditing is the platform's own act: written whatever the actor's scope.
    with system_scope():
        db.session.add(event)
        db.session.flush()
    return event


def media_access(*, unit_id: int, object_type: str, object_id, action: str = "media.view",
                 reason: str | None = None, detail: dict | None = None) -> AuditEvent:
    """Record a view or download of camera media and commit it before the media leaves."""
    event = record(action, unit_id=unit_id, object_type=object_type, object_id=object_id,
                   reason=reason, detail=detail)
    db.session.commit()
    return event
