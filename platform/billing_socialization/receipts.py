"""Money in: receipts (phiếu thu) from sponsors, against pledges or household shares; share campaigns."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import ConflictError, NotFoundError, ValidationFailed
from ..extensions import db
from ..tenants import audit
from ..tenants.access import get_commune, get_scoped
from ..tenants.models import Village
from ..tenants.scope import current_scope
from . import access, ledger
from .funders import phase_in, sponsor_in
from .models import HouseholdShare, JournalTransaction, Pledge, Receipt, ShareCampaign, Sponsor

METHOD_LABELS = {"cash": ("Tiền mặt", "Cash"), "bank": ("Chuyển khoản", "Bank transfer"),
                 "in_kind": ("Hiện vật", "In kind")}


def _same_request(existing: Receipt, data) -> bool:
    return (existing.amount == data.amount and existing.method == data.method
            and (data.pledge_id is None or existing.pledge_id == data.pledge_id)
            and (data.share_id is None or existing.share_id == data.share_id)
            and (data.sponsor_id is None or existing.sponsor_id == data.sponsor_id))


def _by_key(commune_id: int, key: str) -> Receipt | None:
    return db.session.execute(select(Receipt).where(Receipt.commune_id == commune_id,
                                                    Receipt.idempotency_key == key)).scalar_one_or_none()


def record_receipt(commune_id: int, data) -> tuple[Receipt, bool]:
    """Record a payment once per idempotency key; returns (receipt, created)."""
    unit = get_commune(commune_id, access.MANAGE)
    c = unit.id
    # What the body names must exist in this commune before anything is locked or written.
    sponsor = sponsor_in(c, data.sponsor_id) if data.sponsor_id is not None else None
    pledge = share = None
    if data.pledge_id is not None:
        pledge = db.session.execute(select(Pledge).where(Pledge.id == data.pledge_id)).scalar_one_or_none()
        if pledge is None or pledge.commune_id != c:
            raise ValidationFailed("pledge_id: unknown pledge", field="pledge_id")
        if sponsor is not None and pledge.sponsor_id != sponsor.id:
            raise ValidationFailed("sponsor_id: the pledge belongs to another sponsor", field="sponsor_id")
        sponsor = db.session.get(Sponsor, pledge.sponsor_id)
    if data.share_id is not None:
        share = db.session.execute(select(HouseholdShare).where(HouseholdShare.id == data.share_id)).scalar_one_or_none()
        if share is None or share.commune_id != c:
            raise ValidationFailed("share_id: unknown household share", field="share_id")
    phase = phase_in(c, data.phase_id)

    ledger.lock_chain(c)
    existing = _by_key(c, data.idempotency_key)
    if existing is not None:
        if not _same_request(existing, data):
            raise ConflictError("idempotency_key: already used for a different receipt", field="idempotency_key")
        return existing, False
    # Read again under the lock: a concurrent receipt may have closed the pledge or share.
    if pledge is not None:
        db.session.refresh(pledge)
        if pledge.status != "open":
            raise ValidationFailed("pledge_id: the pledge is closed (paid or cancelled)", field="pledge_id")
        if data.amount > pledge.amount - pledge.paid:
            raise ValidationFailed(f"amount: more than the {pledge.amount - pledge.paid} đồng still owed on the pledge",
                                   field="amount")
    if share is not None:
        db.session.refresh(share)
        if share.paid >= share.amount_due:
            raise ValidationFailed("share_id: the household share is already paid", field="share_id")
        if data.amount > share.amount_due - share.paid:
            raise ValidationFailed(f"amount: more than the {share.amount_due - share.paid} đồng still owed",
                                   field="amount")

    if data.method == "in_kind":
        debit = ledger.account(c, "211" if data.in_kind_type == "equipment" else "642.installation")
    else:
        debit = ledger.account(c, ledger.MONEY_ACCOUNT[data.method])
    if share is not None:
        campaign = db.session.get(ShareCampaign, share.campaign_id)
        village = db.session.get(Village, share.village_id)
        credit = ledger.share_fund(campaign, village)
        phase_id = data.phase_id or campaign.phase_id
        ref = ("share", share.id)
        payer = data.payer_name or share.head_name
    else:
        accts = ledger.sponsor_accounts(sponsor)
        credit = accts["receivable"] if pledge is not None else accts["fund"]
        phase_id = data.phase_id or (pledge.phase_id if pledge is not None else None)
        ref = ("pledge", pledge.id) if pledge is not None else ("sponsor", sponsor.id)
        payer = data.payer_name or sponsor.name
    received_on = data.received_on or date.today()
    memo = f"Thu {METHOD_LABELS[data.method][0].lower()} từ {payer}" + (f": {data.description}" if data.description else "")
    tx = ledger.post(c, "receipt", [(debit, data.amount), (credit, -data.amount)], occurred_on=received_on,
                     memo=memo, phase_id=phase_id if phase is None else phase.id, ref_type=ref[0], ref_id=ref[1],
                     created_by_id=access.user_id())
    receipt = Receipt(commune_id=c, number=f"PT-{tx.seq:07d}", idempotency_key=data.idempotency_key,
                      sponsor_id=sponsor.id if sponsor else None, pledge_id=pledge.id if pledge else None,
                      share_id=share.id if share else None, phase_id=tx.phase_id, method=data.method,
                      amount=data.amount, in_kind_type=data.in_kind_type, description=data.description,
                      payer_name=payer[:200], received_on=received_on, transaction_id=tx.id,
                      created_by_id=access.user_id())
    db.session.add(receipt)
    if pledge is not None:
        pledge.paid += data.amount
        if pledge.paid >= pledge.amount:
            pledge.status = "paid"
    if share is not None:
        share.paid += data.amount
    try:
        db.session.flush()
    except IntegrityError:  # the same key raced in through another writer (SQLite): answer with it
        db.session.rollback()
        existing = _by_key(c, data.idempotency_key)
        if existing is None or not _same_request(existing, data):
            raise ConflictError("idempotency_key: already used", field="idempotency_key") from None
        return existing, False
    audit.record("funding.receipt.create", unit_id=c, object_type="receipt", object_id=receipt.id,
                 detail={"amount": data.amount, "method": data.method, "number": receipt.number})
    db.session.commit()
    return receipt, True


def reverse_receipt(receipt_id: int, reason: str) -> Receipt:
    """Cancel a wrong receipt with a reversal transaction; the pledge or share reopens."""
    receipt = get_scoped(Receipt, receipt_id, access.MANAGE)
    ledger.lock_chain(receipt.commune_id)
    db.session.refresh(receipt)
    if receipt.reversed_by_id is not None:
        raise ConflictError("receipt_id: already reversed", field="receipt_id")
    _check_reversible(receipt)
    original = db.session.get(JournalTransaction, receipt.transaction_id)
    tx = ledger.reverse(original, occurred_on=date.today(), memo=f"Hủy phiếu thu {receipt.number}: {reason}",
                        created_by_id=access.user_id())
    receipt.reversed_by_id = tx.id
    if receipt.pledge_id is not None:
        pledge = db.session.get(Pledge, receipt.pledge_id)
        pledge.paid -= receipt.amount
        if pledge.status == "paid":
            pledge.status = "open"
    if receipt.share_id is not None:
        share = db.session.get(HouseholdShare, receipt.share_id)
        share.paid -= receipt.amount
    audit.record("funding.receipt.reverse", unit_id=receipt.commune_id, object_type="receipt",
                 object_id=receipt.id, reason=reason)
    db.session.commit()
    return receipt


def _check_reversible(receipt: Receipt) -> None:
    """A reversal may not take back money that was already allocated or spent (found by the
    property test: receipt, allocate, reverse left a sponsor with a negative unallocated fund)."""
    from .spending import money_balance, sponsor_position

    if receipt.sponsor_id is not None:
        sponsor = db.session.get(Sponsor, receipt.sponsor_id)
        if receipt.amount > sponsor_position(sponsor)["unallocated"]:
            raise ValidationFailed("receipt_id: this money is already allocated; reverse the allocation first",
                                   field="receipt_id")
    code = {"cash": "1111", "bank": "1121"}.get(receipt.method)
    if code and money_balance(receipt.commune_id, code) < receipt.amount:
        raise ValidationFailed("receipt_id: this money has already been spent and cannot be reversed",
                               field="receipt_id")


def list_receipts(commune_id: int, limit: int = 500) -> list[Receipt]:
    unit = get_commune(commune_id, access.READ)
    return list(db.session.execute(select(Receipt).where(Receipt.commune_id == unit.id)
                                   .order_by(Receipt.id.desc()).limit(limit)).scalars())


# ---- household share campaigns -------------------------------------------------------------

def create_campaign(commune_id: int, data) -> ShareCampaign:
    """A share campaign with its households (one share each of ``amount_per_household``)."""
    unit = get_commune(commune_id, access.MANAGE)
    phase = phase_in(unit.id, data.phase_id)
    villages = {v.id for v in db.session.execute(select(Village).where(Village.commune_id == unit.id)).scalars()}
    seen = set()
    for i, h in enumerate(data.households):
        if h.village_id not in villages:
            raise ValidationFailed(f"households.{i}.village_id: unknown village", field=f"households.{i}.village_id")
        if h.household_ref in seen:
            raise ValidationFailed(f"households.{i}.household_ref: listed twice", field=f"households.{i}.household_ref")
        seen.add(h.household_ref)
    campaign = ShareCampaign(commune_id=unit.id, phase_id=phase.id if phase else None, name=data.name,
                             amount_per_household=data.amount_per_household, due_date=data.due_date)
    db.session.add(campaign)
    db.session.flush()
    for h in data.households:
        db.session.add(HouseholdShare(commune_id=unit.id, campaign_id=campaign.id, village_id=h.village_id,
                                      household_ref=h.household_ref, head_name=h.head_name,
                                      amount_due=data.amount_per_household, paid=0))
    audit.record("funding.campaign.create", unit_id=unit.id, object_type="campaign", object_id=campaign.id,
                 detail={"name": data.name, "households": len(data.households)})
    db.session.commit()
    return campaign


def share_state(share: HouseholdShare, due_date: date, today: date | None = None) -> str:
    if share.paid >= share.amount_due:
        return "paid"
    return "arrears" if due_date < (today or date.today()) else "pending"


def campaign_status(campaign_id: int) -> dict:
    campaign = get_scoped(ShareCampaign, campaign_id, access.READ)
    rows = db.session.execute(
        select(HouseholdShare, Village.name).join(Village, Village.id == HouseholdShare.village_id)
        .where(HouseholdShare.campaign_id == campaign.id).order_by(Village.name, HouseholdShare.household_ref)
    ).all()
    shares = [{"id": s.id, "household_ref": s.household_ref, "head_name": s.head_name, "village": vname,
               "amount_due": s.amount_due, "paid": s.paid, "state": share_state(s, campaign.due_date)}
              for s, vname in rows]
    return {"id": campaign.id, "commune_id": campaign.commune_id, "name": campaign.name,
            "amount_per_household": campaign.amount_per_household, "due_date": campaign.due_date.isoformat(),
            "phase_id": campaign.phase_id, "households": len(shares),
            "paid": [s for s in shares if s["state"] == "paid"],
            "arrears": [s for s in shares if s["state"] == "arrears"],
            "pending": [s for s in shares if s["state"] == "pending"]}


def list_campaigns(commune_id: int) -> list[ShareCampaign]:
    unit = get_commune(commune_id, access.READ)
    return list(db.session.execute(select(ShareCampaign).where(ShareCampaign.commune_id == unit.id)
                                   .order_by(ShareCampaign.id)).scalars())


def my_shares() -> list[dict]:
    """A household user's own shares and receipts (``User.household_ref``), nothing else."""
    ref = access.user_household_ref()
    units = current_scope().units_with(access.HOUSEHOLD_OWN)
    if not ref or not units:
        return []
    rows = db.session.execute(
        select(HouseholdShare, ShareCampaign).join(ShareCampaign, ShareCampaign.id == HouseholdShare.campaign_id)
        .where(HouseholdShare.household_ref == ref, HouseholdShare.commune_id.in_(units))).all()
    out = []
    for share, campaign in rows:
        receipts = db.session.execute(select(Receipt).where(Receipt.share_id == share.id,
                                                            Receipt.reversed_by_id.is_(None))).scalars()
        out.append({"share_id": share.id, "campaign": campaign.name, "amount_due": share.amount_due,
                    "paid": share.paid, "due_date": campaign.due_date.isoformat(),
                    "state": share_state(share, campaign.due_date),
                    "receipts": [{"id": r.id, "number": r.number, "amount": r.amount,
                                  "received_on": r.received_on.isoformat()} for r in receipts],
                    **_what_the_campaign_funds(campaign)})
    return out


def _what_the_campaign_funds(campaign: ShareCampaign) -> dict:
    """What a household's share went into, as a sponsor sees it: how the campaign is collecting
    (counts only, no neighbour's name or amount), the cameras of its phase with their state and
    30-day uptime, and the cases those cameras helped with (counts per category only)."""
    from sqlalchemy import case, func

    from ..streams.models import Camera
    from .models import FundingPhase
    from .reports import incidents_for_cameras, uptime_30d

    total, paid = db.session.execute(
        select(func.count(), func.sum(case((HouseholdShare.paid >= HouseholdShare.amount_due, 1), else_=0)))
        .where(HouseholdShare.campaign_id == campaign.id)).one()
    phase = db.session.get(FundingPhase, campaign.phase_id) if campaign.phase_id else None
    cameras = list(db.session.execute(
        select(Camera).where(Camera.commune_id == campaign.commune_id, Camera.phase == phase.name,
                             Camera.status != "decommissioned").order_by(Camera.code)).scalars()) if phase else []
    uptime = uptime_30d([c.id for c in cameras])
    return {
        "progress": {"households": int(total or 0), "paid_in_full": int(paid or 0)},
        "phase": phase.name if phase else None,
        "cameras": [{"code": c.code, "name": c.name, "status": c.status, "uptime_30d": uptime.get(c.id)}
                    for c in cameras],
        "incidents": incidents_for_cameras([c.id for c in cameras]),
    }


def get_receipt(receipt_id: int) -> Receipt:
    return access.receipt_for_read(receipt_id)


# The receipt's entry in the funding log (checkpoint, proof page, QR code): the transparency feature
# registers fn(receipt, transaction) -> dict | None here (billing never imports it).
RECEIPT_PROOFS: list = []


def receipt_context(receipt: Receipt) -> dict:
    """What a printed receipt shows, with the transaction hash that anchors it in the chain."""
    from ..tenants.models import AdminUnit

    tx = db.session.get(JournalTransaction, receipt.transaction_id)
    unit = db.session.get(AdminUnit, receipt.commune_id)
    if tx is None or unit is None:
        raise NotFoundError()
    return {"receipt": receipt, "tx": tx, "commune": unit, "method": METHOD_LABELS[receipt.method],
            "log_entry": next((e for proof in RECEIPT_PROOFS if (e := proof(receipt, tx))), None)}
