"""The figures on each role's home page: the answer to the question that person comes with.

Police: cameras down and where, open faults, incidents this week. Chairman: coverage, money
raised -> allocated -> spent, repairs waiting. Sponsor: what the money bought and every đồng's
place. Household: their share, paid or due. Technician: the fault queue, oldest first. Operator:
today's incidents and cameras down. Admin: users and the system.

``tenants.home`` asks through the hook ``HOME_FIGURES`` (tenants sits below dashboards).
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from ..billing_socialization import receipts as shares
from ..billing_socialization import reports
from ..billing_socialization.models import Allocation
from ..clock import to_vn, utc_now, vn_day_start, vn_now
from ..extensions import db
from ..incidents.models import Incident
from ..streams.models import Camera, FaultTicket
from ..tenants import access
from ..tenants.idsets import member_of
from ..tenants.models import AdminUnit, User
from . import services

DOWN = services.DOWN


def _names(ids) -> dict[int, str]:
    ids = set(ids)
    return dict(db.session.execute(select(AdminUnit.id, AdminUnit.name).where(AdminUnit.id.in_(ids))).all()) if ids else {}


def cameras_down(commune_ids, limit: int = 12) -> dict:
    """How many cameras are down, and the longest-down ones with their commune and since when."""
    rows = list(db.session.execute(
        select(Camera).where(member_of(Camera.commune_id, commune_ids), Camera.status.in_(DOWN))
        .order_by(Camera.last_ok_at.is_(None).desc(), Camera.last_ok_at, Camera.id)).scalars())
    installed = db.session.execute(select(func.count()).select_from(Camera).where(
        member_of(Camera.commune_id, commune_ids), Camera.status.in_(services.COUNTED))).scalar() or 0
    names = _names(c.commune_id for c in rows[:limit])
    return {"count": len(rows), "installed": installed,
            "list": [{"camera": c, "commune": names.get(c.commune_id, ""), "since": to_vn(c.last_ok_at)}
                     for c in rows[:limit]]}


def fault_queue(commune_ids, limit: int = 30) -> dict:
    """Open fault tickets, oldest first, with their age in days and hours."""
    now = utc_now()
    rows = list(db.session.execute(
        select(FaultTicket).where(member_of(FaultTicket.commune_id, commune_ids), FaultTicket.status == "open")
        .order_by(FaultTicket.opened_at, FaultTicket.id).limit(limit)).scalars())
    total = db.session.execute(select(func.count()).select_from(FaultTicket).where(
        member_of(FaultTicket.commune_id, commune_ids), FaultTicket.status == "open")).scalar() or 0
    names = _names(t.commune_id for t in rows)
    out = []
    for ticket in rows:
        age = now - to_vn(ticket.opened_at)
        out.append({"ticket": ticket, "commune": names.get(ticket.commune_id, ""), "opened": to_vn(ticket.opened_at),
                    "days": age.days, "hours": int(age.total_seconds() // 3600)})
    return {"count": total, "list": out}


def incidents_since(commune_ids, since) -> dict:
    rows = list(db.session.execute(
        select(Incident).where(member_of(Incident.commune_id, commune_ids), Incident.occurred_at >= since)
        .order_by(Incident.occurred_at.desc()).limit(20)).scalars())
    total = db.session.execute(select(func.count()).select_from(Incident).where(
        member_of(Incident.commune_id, commune_ids), Incident.occurred_at >= since)).scalar() or 0
    return {"count": total, "list": rows, "names": _names(i.commune_id for i in rows)}


def _communes(perm: str) -> list[AdminUnit]:
    return sorted(access.communes_for(perm), key=lambda c: c.name)


def police() -> dict:
    communes = services.communes_for(("cameras.read", "incidents.read"))
    ids = [c.id for c in communes]
    week = vn_day_start(vn_now().date() - timedelta(days=6))
    return {"communes": len(ids), "down": cameras_down(ids), "faults": fault_queue(ids, 5),
            "week": incidents_since(ids, week)}


def operator() -> dict:
    ids = [c.id for c in _communes("incidents.manage")]
    return {"today": incidents_since(ids, vn_day_start(vn_now().date())), "down": cameras_down(ids, 6)}


def technician() -> dict:
    ids = [c.id for c in _communes("faults.read")]
    return {"queue": fault_queue(ids), "down": cameras_down(ids, 0)}


def chairman() -> list[dict]:
    """Per commune of the chairman: coverage, the money funnel, repairs waiting."""
    out = []
    for commune in _communes("funding.manage"):
        cov = services.coverage(commune)
        money = services.funding_report(reports.chairman_summary, commune.id)
        allocated = db.session.execute(select(func.coalesce(func.sum(Allocation.amount), 0))
                                       .where(Allocation.commune_id == commune.id)).scalar() or 0
        out.append({"commune": commune, "cov": cov, "money": money, "allocated": int(allocated),
                    "repairs": len(cov["backlog"])})
    return out


def sponsor() -> dict:
    return services.sponsor_data()


def household() -> list[dict]:
    return shares.my_shares()


def admin() -> dict:
    from ..tenants.scope import system_scope

    with system_scope():
        active = dict(db.session.execute(select(User.active, func.count()).group_by(User.active)).all())
    return {"users_active": active.get(True, 0), "users_inactive": active.get(False, 0)}


SECTIONS = {"police": police, "operator": operator, "technician": technician, "chairman": chairman,
            "sponsor": sponsor, "household": household, "admin": admin}


def figures(roles) -> dict:
    """The home figures of each role the user holds; a failing section is logged and left out
    (the page then shows its links only) rather than taking the home page down."""
    out = {}
    for role in roles:
        fn = SECTIONS.get(role)
        if fn is None:
            continue
        try:
            out[role] = fn()
        except Exception:  # noqa: BLE001 - see above
            if current_app.testing:
                raise
            db.session.rollback()
            current_app.logger.exception("home figures for %s failed", role)
    return out
