"""Fault tickets for technicians (list, evidence, close) and per-camera uptime per day."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from ..errors import ConflictError
from ..extensions import db
from ..tenants import audit
from ..tenants.models import AdminUnit
from ..tenants.scoping import current_scope, member_of
from ..tenants.services import get_scoped
from .media import consent_gate, deliver, view_snapshot
from .models import Camera, CameraUptimeDay, FaultTicket


def ticket_json(t: FaultTicket) -> dict:
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    has_evidence = bool(t.evidence_snapshot_id or t.evidence_key)
    return {"id": t.id, "camera_id": t.camera_id, "commune_id": t.commune_id,
            "camera_code": t.camera.code, "camera_name": t.camera.name, "rule": t.rule, "status": t.status,
            "opened_at": iso(t.opened_at), "closed_at": iso(t.closed_at), "detail": t.detail,
            "close_note": t.close_note, "closed_by_id": t.closed_by_id,
            "evidence": f"/api/v1/faults/{t.id}/evidence" if has_evidence else None}


def list_tickets(status: str | None = "open", unit_id: int | None = None, limit: int = 200) -> list[FaultTicket]:
    scope = current_scope()
    stmt = select(FaultTicket).order_by(FaultTicket.opened_at.desc(), FaultTicket.id.desc()).limit(limit)
    if not scope.system:
        stmt = stmt.where(member_of(FaultTicket.commune_id, scope.units_with("faults.read")))
    if status and status != "all":
        stmt = stmt.where(FaultTicket.status == status)
    if unit_id is not None:
        unit = get_scoped(AdminUnit, unit_id, "faults.read")
        stmt = stmt.where(FaultTicket.commune_id.in_(
            select(AdminUnit.id).where(AdminUnit.path.startswith(unit.path, autoescape=True))))
    return list(db.session.execute(stmt).scalars())


def ticket_evidence(ticket_id: int, reason: str | None):
    """The snapshot that proved the fault: for technicians too (faults.read), audited like any view."""
    ticket = get_scoped(FaultTicket, ticket_id, "faults.read")
    if ticket.evidence_snapshot_id:
        return view_snapshot(ticket.evidence_snapshot_id, reason, perm="faults.read",
                             via=f"fault_ticket:{ticket.id}")
    if not ticket.evidence_key:
        raise ConflictError("evidence: this ticket has no evidence picture", field="evidence")
    consent_gate(ticket.camera, "snapshots", reason)
    return deliver(unit_id=ticket.commune_id, object_type="fault_ticket", object_id=ticket.id,
                   key=ticket.evidence_key, reason=reason, detail={"camera_id": ticket.camera_id})


def close_ticket(ticket_id: int, note: str) -> FaultTicket:
    ticket = get_scoped(FaultTicket, ticket_id, "faults.manage")
    if ticket.status == "closed":
        raise ConflictError("status: ticket is already closed", field="status")
    ticket.status = "closed"
    ticket.closed_at = datetime.now(timezone.utc)
    ticket.closed_by_id = current_scope().user_id
    ticket.close_note = note
    audit.record("fault.close", unit_id=ticket.commune_id, object_type="fault_ticket", object_id=ticket.id,
                 detail={"camera_id": ticket.camera_id, "rule": ticket.rule, "note": note})
    db.session.commit()
    return ticket


def uptime(camera_id: int, days: int = 30, today: date | None = None) -> dict:
    camera = get_scoped(Camera, camera_id, "cameras.read")
    today = today or datetime.now(timezone.utc).date()
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
