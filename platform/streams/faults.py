"""Fault tickets for technicians (list, evidence, close), reference view resets and uptime per day."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from ..clock import utc_now
from ..errors import ConflictError, NotFoundError
from ..extensions import db
from ..tenants import access, audit
from ..tenants.idsets import member_of
from ..tenants.models import AdminUnit
from ..tenants.scope import current_scope
from .media import consent_gate, deliver, view_snapshot
from .models import Camera, CameraUptimeDay, FaultTicket


def list_tickets(status: str | None = "open", unit_id: int | None = None, limit: int = 200) -> list[FaultTicket]:
    scope = current_scope()
    stmt = select(FaultTicket).order_by(FaultTicket.opened_at.desc(), FaultTicket.id.desc()).limit(limit)
    if not scope.system:
        stmt = stmt.where(member_of(FaultTicket.commune_id, scope.units_with("faults.read")))
    if status and status != "all":
        stmt = stmt.where(FaultTicket.status == status)
    if unit_id is not None:
        unit = access.get_scoped(AdminUnit, unit_id, "faults.read")
        stmt = stmt.where(FaultTicket.commune_id.in_(
            select(AdminUnit.id).where(AdminUnit.path.startswith(unit.path, autoescape=True))))
    return list(db.session.execute(stmt).scalars())


def ticket_evidence(ticket_id: int, reason: str | None):
    """The snapshot that proved the fault: for technicians too (faults.read), audited like any view."""
    ticket = access.get_scoped(FaultTicket, ticket_id, "faults.read")
    if ticket.evidence_snapshot_id:
        return view_snapshot(ticket.evidence_snapshot_id, reason, perm="faults.read",
                             via=f"fault_ticket:{ticket.id}")
    if not ticket.evidence_key:
        raise ConflictError("evidence: this ticket has no evidence picture", field="evidence")
    consent_gate(ticket.camera, "snapshots", reason)
    return deliver(unit_id=ticket.commune_id, object_type="fault_ticket", object_id=ticket.id,
                   key=ticket.evidence_key, reason=reason, detail={"camera_id": ticket.camera_id})


def close_ticket(ticket_id: int, note: str) -> FaultTicket:
    ticket = access.get_scoped(FaultTicket, ticket_id, "faults.manage")
    if ticket.status == "closed":
        raise ConflictError("status: ticket is already closed", field="status")
    ticket.status = "closed"
    ticket.closed_at = utc_now()
    ticket.closed_by_id = current_scope().user_id
    ticket.close_note = note
    audit.record("fault.close", unit_id=ticket.commune_id, object_type="fault_ticket", object_id=ticket.id,
                 detail={"camera_id": ticket.camera_id, "rule": ticket.rule, "note": note})
    db.session.commit()
    return ticket


# Re-aiming a camera is the technician's job (faults) or the operator's (camera register).
REFERENCE_RESET_PERMS = ("faults.manage", "cameras.manage")


def may_reset_reference(unit_id: int | None = None) -> bool:
    """Whether the current user may reset a reference view (in ``unit_id``, or anywhere)."""
    return access.may_any(*REFERENCE_RESET_PERMS, unit_id=unit_id)


def reset_reference(camera_id: int, reason: str) -> tuple[Camera, list[FaultTicket]]:
    """Forget a camera's reference view so the next healthy capture becomes the new one.

    Clearing ``reference_key`` makes any worker that (re)starts without a memory of the camera
    adopt the next view; ``reference_reset_at`` tells running workers to drop what they remember
    (they read it at each refresh of their camera list). The open "moved" tickets are closed: the
    new view is intended.
    """
    access.require_any(*REFERENCE_RESET_PERMS)
    camera = access.get_scoped(Camera, camera_id)
    if not may_reset_reference(camera.commune_id):
        raise NotFoundError()
    now = utc_now()
    previous_key, camera.reference_key, camera.reference_reset_at = camera.reference_key, None, now
    note = f"đặt lại khung nhìn chuẩn / reference view reset: {reason}"[:500]
    closed = list(db.session.execute(select(FaultTicket).where(
        FaultTicket.camera_id == camera.id, FaultTicket.status == "open", FaultTicket.rule == "moved")).scalars())
    for ticket in closed:
        ticket.status = "closed"
        ticket.closed_at = now
        ticket.closed_by_id = current_scope().user_id
        ticket.close_note = note
        audit.record("fault.close", unit_id=ticket.commune_id, object_type="fault_ticket", object_id=ticket.id,
                     detail={"camera_id": camera.id, "rule": ticket.rule, "note": note})
    audit.record("camera.reference_reset", unit_id=camera.commune_id, object_type="camera", object_id=camera.id,
                 reason=reason, detail={"previous_reference_key": previous_key,
                                        "closed_tickets": [t.id for t in closed]})
    db.session.commit()
    return camera, closed


def uptime(camera_id: int, days: int = 30, today: date | None = None) -> dict:
    camera = access.get_scoped(Camera, camera_id, "cameras.read")
    today = today or utc_now().date()
    first = today - timedelta(days=days - 1)
    rows = {r.day: r for r in db.session.execute(
        select(CameraUptimeDay).where(CameraUptimeDay.camera_id == camera.id, CameraUptimeDay.day >= first,
                                      CameraUptimeDay.day <= today)).scalars()}
    out = []
    for i in range(days):
        day = first + timedelta(days=i)
        r = rows.get(day)
        out.append({"day": day.isoformat(), "checks": r.checks if r else 0, "ok": r.ok if r else 0,
                    "uptime": round(r.uptime, 4) if r and r.checks else None})
    checks = sum(r.checks for r in rows.values())
    ok = sum(r.ok for r in rows.values())
    return {"camera_id": camera.id, "days": out, "checks": checks, "ok": ok,
            "uptime": round(ok / checks, 4) if checks else None}
