"""Funders and promises: sponsors, programme phases, pledges (cam kết) and their cancellation."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ..errors import ConflictError, ValidationFailed
from ..extensions import db
from ..tenants import audit
from ..tenants.access import get_commune, get_scoped, may
from . import access, ledger
from .models import FundingPhase, Pledge, Sponsor


def create_sponsor(commune_id: int, data) -> Sponsor:
    """Add a sponsor (company, organisation, household or budget line) to a commune."""
    unit = get_commune(commune_id, access.MANAGE)
    if db.session.execute(select(Sponsor.id).where(Sponsor.commune_id == unit.id, Sponsor.name == data.name)).first():
        raise ConflictError(f"name: sponsor {data.name!r} already exists", field="name")
    sponsor = Sponsor(commune_id=unit.id, name=data.name, kind=data.kind, contact=data.contact,
                      tax_code=data.tax_code)
    db.session.add(sponsor)
    db.session.flush()
    audit.record("funding.sponsor.create", unit_id=unit.id, object_type="sponsor", object_id=sponsor.id,
                 detail={"name": sponsor.name, "kind": sponsor.kind})
    db.session.commit()
    return sponsor


def list_sponsors(commune_id: int) -> list[Sponsor]:
    unit = get_commune(commune_id, access.READ)
    return list(db.session.execute(
        select(Sponsor).where(Sponsor.commune_id == unit.id).order_by(Sponsor.name)).scalars())


def create_phase(commune_id: int, data) -> FundingPhase:
    unit = get_commune(commune_id, access.MANAGE)
    if db.session.execute(select(FundingPhase.id).where(FundingPhase.commune_id == unit.id,
                                                        FundingPhase.name == data.name)).first():
        raise ConflictError(f"name: phase {data.name!r} already exists", field="name")
    phase = FundingPhase(commune_id=unit.id, name=data.name, target=data.target,
                         cameras_planned=data.cameras_planned, starts_on=data.starts_on)
    db.session.add(phase)
    db.session.flush()
    audit.record("funding.phase.create", unit_id=unit.id, object_type="phase", object_id=phase.id,
                 detail={"name": phase.name, "target": phase.target})
    db.session.commit()
    return phase


def list_phases(commune_id: int) -> list[FundingPhase]:
    unit = get_commune(commune_id, access.READ)
    return list(db.session.execute(
        select(FundingPhase).where(FundingPhase.commune_id == unit.id).order_by(FundingPhase.id)).scalars())


def phase_in(commune_id: int, phase_id: int | None, field: str = "phase_id") -> FundingPhase | None:
    """A phase of this commune, or a 422 naming the field (a foreign id is simply unknown)."""
    if phase_id is None:
        return None
    phase = db.session.execute(select(FundingPhase).where(FundingPhase.id == phase_id)).scalar_one_or_none()
    if phase is None or phase.commune_id != commune_id:
        raise ValidationFailed(f"{field}: unknown phase", field=field)
    return phase


def sponsor_in(commune_id: int, sponsor_id: int, field: str = "sponsor_id") -> Sponsor:
    sponsor = db.session.execute(select(Sponsor).where(Sponsor.id == sponsor_id)).scalar_one_or_none()
    if sponsor is None or sponsor.commune_id != commune_id:
        raise ValidationFailed(f"{field}: unknown sponsor", field=field)
    return sponsor


def create_pledge(sponsor_id: int, data) -> Pledge:
    """Record a promise: receivable from the sponsor against the sponsor's fund."""
    sponsor = get_scoped(Sponsor, sponsor_id, access.MANAGE)
    phase = phase_in(sponsor.commune_id, data.phase_id)
    ledger.lock_chain(sponsor.commune_id)
    accts = ledger.sponsor_accounts(sponsor)
    pledge = Pledge(commune_id=sponsor.commune_id, sponsor_id=sponsor.id, phase_id=phase.id if phase else None,
                    amount=data.amount, paid=0, due_date=data.due_date, status="open", note=data.note)
    db.session.add(pledge)
    db.session.flush()
    tx = ledger.post(sponsor.commune_id, "pledge", [(accts["receivable"], data.amount), (accts["fund"], -data.amount)],
                     occurred_on=data.pledged_on or date.today(), memo=f"Cam kết tài trợ: {sponsor.name}",
                     phase_id=pledge.phase_id, ref_type="pledge", ref_id=pledge.id,
                     created_by_id=access.user_id())
    pledge.transaction_id = tx.id
    audit.record("funding.pledge.create", unit_id=sponsor.commune_id, object_type="pledge", object_id=pledge.id,
                 detail={"sponsor_id": sponsor.id, "amount": data.amount})
    db.session.commit()
    return pledge


def get_pledge(pledge_id: int) -> Pledge:
    pledge = access.load(Pledge, pledge_id)
    sponsor = access.load(Sponsor, pledge.sponsor_id)
    if may(access.READ, pledge.commune_id) or access.own_sponsor(sponsor):
        return pledge
    from ..errors import NotFoundError

    raise NotFoundError()


def cancel_pledge(pledge_id: int, reason: str) -> Pledge:
    """Close a pledge; what was not paid leaves the receivable through a reversal of the pledge."""
    pledge = get_scoped(Pledge, pledge_id, access.MANAGE)
    ledger.lock_chain(pledge.commune_id)
    db.session.refresh(pledge)
    if pledge.status != "open":
        raise ValidationFailed("pledge_id: the pledge is already closed", field="pledge_id")
    remaining = pledge.amount - pledge.paid
    sponsor = db.session.get(Sponsor, pledge.sponsor_id)
    accts = ledger.sponsor_accounts(sponsor)
    original = db.session.get(ledger.JournalTransaction, pledge.transaction_id)
    if remaining > 0:
        ledger.post(pledge.commune_id, "pledge.cancel", [(accts["fund"], remaining), (accts["receivable"], -remaining)],
                    occurred_on=date.today(), memo=f"Hủy phần chưa nộp của cam kết: {reason}",
                    phase_id=pledge.phase_id, ref_type="pledge", ref_id=pledge.id, reverses=original,
                    created_by_id=access.user_id())
    pledge.status = "cancelled"
    audit.record("funding.pledge.cancel", unit_id=pledge.commune_id, object_type="pledge", object_id=pledge.id,
                 reason=reason, detail={"remaining": remaining})
    db.session.commit()
    return pledge


def list_pledges(sponsor: Sponsor) -> list[Pledge]:
    return list(db.session.execute(
        select(Pledge).where(Pledge.sponsor_id == sponsor.id).order_by(Pledge.id)).scalars())
