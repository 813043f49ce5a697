"""Money out and earmarks: expenses with invoices in object storage, allocations, manual adjustments."""
from __future__ import annotations

import re
import uuid
from datetime import date

from flask import current_app
from sqlalchemy import select

from ..errors import ConflictError, ValidationFailed
from ..extensions import db
from ..streams.models import Camera
from ..tenants import audit
from ..tenants.access import get_commune, get_scoped
from . import access, ledger
from .funders import phase_in, sponsor_in
from .models import Account, Allocation, Expense, FundingPhase, JournalTransaction, Sponsor

ATTACHMENT_TYPES = {"application/pdf", "image/jpeg", "image/png"}
MAX_ATTACHMENT = 10 * 1024 * 1024


def camera_in(commune_id: int, camera_id: int | None, field: str = "camera_id") -> Camera | None:
    if camera_id is None:
        return None
    cam = db.session.execute(select(Camera).where(Camera.id == camera_id)).scalar_one_or_none()
    if cam is None or cam.commune_id != commune_id:
        raise ValidationFailed(f"{field}: unknown camera", field=field)
    return cam


def money_balance(commune_id: int, code: str) -> int:
    acct = ledger.account(commune_id, code)
    return sum(v for (a, _p), v in ledger.balances(commune_id).items() if a == acct.id)


def record_expense(commune_id: int, data) -> tuple[Expense, bool]:
    """Pay a supplier from cash or bank; refused when the money is not there."""
    unit = get_commune(commune_id, access.MANAGE)
    c = unit.id
    phase = phase_in(c, data.phase_id)
    camera = camera_in(c, data.camera_id)
    ledger.lock_chain(c)
    if data.idempotency_key:
        existing = db.session.execute(select(Expense).where(
            Expense.commune_id == c, Expense.idempotency_key == data.idempotency_key)).scalar_one_or_none()
        if existing is not None:
            if existing.amount != data.amount or existing.invoice_no != data.invoice_no:
                raise ConflictError("idempotency_key: already used for a different expense", field="idempotency_key")
            return existing, False
    source = ledger.MONEY_ACCOUNT[data.paid_from]
    available = money_balance(c, source)
    if data.amount > available:
        raise ValidationFailed(f"amount: only {available} đồng available in {data.paid_from}", field="amount")
    spent_on = data.spent_on or date.today()
    tx = ledger.post(c, "expense", [(ledger.account(c, ledger.EXPENSE_ACCOUNT[data.kind]), data.amount),
                                    (ledger.account(c, source), -data.amount)],
                     occurred_on=spent_on, memo=f"Chi {data.kind}: {data.supplier}, HĐ {data.invoice_no}",
                     phase_id=phase.id if phase else None, ref_type="expense",
                     ref_id=camera.id if camera else None, created_by_id=access.user_id())
    expense = Expense(commune_id=c, idempotency_key=data.idempotency_key, kind=data.kind, supplier=data.supplier,
                      invoice_no=data.invoice_no, amount=data.amount, paid_from=data.paid_from, spent_on=spent_on,
                      phase_id=tx.phase_id, camera_id=camera.id if camera else None,
                      description=data.description, transaction_id=tx.id)
    db.session.add(expense)
    db.session.flush()
    audit.record("funding.expense.create", unit_id=c, object_type="expense", object_id=expense.id,
                 detail={"amount": data.amount, "kind": data.kind, "invoice_no": data.invoice_no})
    db.session.commit()
    return expense, True


def attach_invoice(expense_id: int, filename: str, content_type: str, data: bytes) -> Expense:
    """Store the invoice scan in object storage, then point the expense at it."""
    expense = get_scoped(Expense, expense_id, access.MANAGE)
    if content_type not in ATTACHMENT_TYPES:
        raise ValidationFailed("file: PDF, JPEG or PNG only", field="file")
    if not data or len(data) > MAX_ATTACHMENT:
        raise ValidationFailed("file: empty or larger than 10 MB", field="file")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename or "hoa-don")[-80:] or "hoa-don"
    key = f"{expense.commune_id}/funding/expenses/{expense.id}/{uuid.uuid4().hex[:8]}-{safe}"
    current_app.extensions["camnet.storage"].put(key, data, content_type=content_type)
    expense.attachment_key, expense.attachment_name, expense.attachment_type = key, safe, content_type
    audit.record("funding.expense.attach", unit_id=expense.commune_id, object_type="expense", object_id=expense.id,
                 detail={"key": key, "size": len(data)})
    db.session.commit()
    return expense


def read_invoice(expense_id: int) -> tuple[Expense, bytes]:
    expense = get_scoped(Expense, expense_id, access.READ)
    if not expense.attachment_key:
        from ..errors import NotFoundError

        raise NotFoundError("Chưa có hóa đơn đính kèm / No attachment")
    data = current_app.extensions["camnet.storage"].get(expense.attachment_key)
    audit.record("funding.expense.download", unit_id=expense.commune_id, object_type="expense", object_id=expense.id)
    db.session.commit()
    return expense, data


def reverse_expense(expense_id: int, reason: str) -> Expense:
    expense = get_scoped(Expense, expense_id, access.MANAGE)
    ledger.lock_chain(expense.commune_id)
    db.session.refresh(expense)
    if expense.reversed_by_id is not None:
        raise ConflictError("expense_id: already reversed", field="expense_id")
    tx = ledger.reverse(db.session.get(JournalTransaction, expense.transaction_id), occurred_on=date.today(),
                        memo=f"Hủy khoản chi HĐ {expense.invoice_no}: {reason}", created_by_id=access.user_id())
    expense.reversed_by_id = tx.id
    audit.record("funding.expense.reverse", unit_id=expense.commune_id, object_type="expense",
                 object_id=expense.id, reason=reason)
    db.session.commit()
    return expense


def list_expenses(commune_id: int, limit: int = 500) -> list[Expense]:
    unit = get_commune(commune_id, access.READ)
    return list(db.session.execute(select(Expense).where(Expense.commune_id == unit.id)
                                   .order_by(Expense.id.desc()).limit(limit)).scalars())


# ---- allocations ---------------------------------------------------------------------------

def sponsor_position(sponsor: Sponsor) -> dict:
    """Paid and allocated so far, from the ledger (balances of the sponsor's three accounts)."""
    return position_of(ledger.sponsor_balances(sponsor.id))


def position_of(bal: dict[str, int]) -> dict:
    """Outstanding, paid, allocated and unallocated from a sponsor's balances by account type."""
    receivable = bal.get("receivable", 0)
    fund = bal.get("fund", 0)
    allocated = -bal.get("allocated", 0)
    paid = -(receivable + fund) + allocated  # allocation moves fund -> allocated; paid is unchanged
    return {"outstanding": receivable, "paid": paid, "allocated": allocated, "unallocated": paid - allocated}


def allocate(commune_id: int, data) -> Allocation:
    """Earmark a sponsor's money received for a phase or a camera (it cannot exceed what was paid)."""
    unit = get_commune(commune_id, access.MANAGE)
    c = unit.id
    sponsor = sponsor_in(c, data.sponsor_id)
    phase = phase_in(c, data.phase_id)
    camera = camera_in(c, data.camera_id)
    ledger.lock_chain(c)
    position = sponsor_position(sponsor)
    if data.amount > position["unallocated"]:
        raise ValidationFailed(f"amount: only {position['unallocated']} đồng of this sponsor is unallocated",
                               field="amount")
    accts = ledger.sponsor_accounts(sponsor)
    target = camera.code if camera else phase.name
    tx = ledger.post(c, "allocation", [(accts["fund"], data.amount), (accts["allocated"], -data.amount)],
                     occurred_on=date.today(), memo=f"Phân bổ {sponsor.name} → {target}",
                     phase_id=phase.id if phase else None, ref_type="camera" if camera else "phase",
                     ref_id=camera.id if camera else phase.id, created_by_id=access.user_id())
    alloc = Allocation(commune_id=c, sponsor_id=sponsor.id, phase_id=phase.id if phase else None,
                       camera_id=camera.id if camera else None, amount=data.amount, note=data.note,
                       transaction_id=tx.id)
    db.session.add(alloc)
    db.session.flush()
    audit.record("funding.allocation.create", unit_id=c, object_type="allocation", object_id=alloc.id,
                 detail={"sponsor_id": sponsor.id, "amount": data.amount, "target": target})
    db.session.commit()
    return alloc


def camera_funding(camera_id: int) -> dict:
    """Who paid for a camera: allocations straight to it and its phase's allocations, shared per camera."""
    camera = get_scoped(Camera, camera_id, access.READ)
    rows = []
    for alloc, sponsor in db.session.execute(
            select(Allocation, Sponsor).join(Sponsor, Sponsor.id == Allocation.sponsor_id)
            .where(Allocation.camera_id == camera.id)).all():
        rows.append({"sponsor_id": sponsor.id, "sponsor": sponsor.name, "amount": alloc.amount, "via": "camera"})
    if camera.phase:
        phase = db.session.execute(select(FundingPhase).where(FundingPhase.commune_id == camera.commune_id,
                                                              FundingPhase.name == camera.phase)).scalar_one_or_none()
        if phase is not None:
            n = db.session.execute(select(db.func.count()).select_from(Camera).where(
                Camera.commune_id == camera.commune_id, Camera.phase == camera.phase)).scalar() or 1
            for alloc, sponsor in db.session.execute(
                    select(Allocation, Sponsor).join(Sponsor, Sponsor.id == Allocation.sponsor_id)
                    .where(Allocation.phase_id == phase.id)).all():
                rows.append({"sponsor_id": sponsor.id, "sponsor": sponsor.name, "amount": alloc.amount // n,
                             "via": f"phase:{phase.name}"})
    return {"camera_id": camera.id, "code": camera.code, "name": camera.name, "funded_by": rows,
            "total": sum(r["amount"] for r in rows)}


# ---- manual adjustments --------------------------------------------------------------------

def post_journal(commune_id: int, data) -> JournalTransaction:
    """A chairman's adjustment between existing accounts; it must balance."""
    unit = get_commune(commune_id, access.MANAGE)
    c = unit.id
    phase = phase_in(c, data.phase_id)
    codes = {a.code: a for a in db.session.execute(select(Account).where(Account.commune_id == c)).scalars()}
    lines = []
    for i, p in enumerate(data.postings):
        acct = codes.get(p.account)
        if acct is None and p.account in ledger.CHART:
            acct = p.account  # a standard account not yet used: created once validation passes
        if acct is None:
            raise ValidationFailed(f"postings.{i}.account: unknown account {p.account!r}", field=f"postings.{i}.account")
        lines.append([acct, p.amount])
    for i, (_acct, amount) in enumerate(lines):
        if amount == 0:
            raise ValidationFailed(f"postings.{i}.amount: must be non-zero", field=f"postings.{i}.amount")
    if sum(a for _, a in lines) != 0:
        raise ValidationFailed("postings: debits and credits do not balance", field="postings")
    ledger.lock_chain(c)
    lines = [(ledger.account(c, a) if isinstance(a, str) else a, n) for a, n in lines]
    tx = ledger.post(c, "adjustment", lines, occurred_on=data.occurred_on or date.today(), memo=data.memo,
                     phase_id=phase.id if phase else None, ref_type="manual", created_by_id=access.user_id())
    audit.record("funding.journal.post", unit_id=c, object_type="transaction", object_id=tx.id,
                 detail={"seq": tx.seq})
    db.session.commit()
    return tx
