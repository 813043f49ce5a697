"""Funding API: sponsors, pledges, receipts, shares, expenses, allocations, the ledger and its reports."""
from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import select

from ..apispec import ApiBlueprint
from ..errors import NotFoundError, ValidationFailed
from ..extensions import db
from ..i18n import current_lang
from ..tenants.models import CommuneSettings
from ..tenants.scoping import system_scope
from ..tenants.services import get_scoped
from . import access, funders, ledger, receipts, reports, spending
from .models import Account, Allocation, Expense, JournalTransaction
from .schemas import (AllocationIn, CampaignIn, ExpenseIn, JournalIn, PhaseIn, PledgeIn, ReceiptIn, ReportQuery,
                      ReverseIn, SponsorIn, VerifyQuery)

bp = ApiBlueprint("funding_api", __name__, tag="funding")
READ, MANAGE = access.READ, access.MANAGE


def _iso(d):
    return d.isoformat() if d else None


def sponsor_json(s) -> dict:
    return {"id": s.id, "commune_id": s.commune_id, "name": s.name, "kind": s.kind, "contact": s.contact,
            "tax_code": s.tax_code}


def pledge_json(p) -> dict:
    return {"id": p.id, "commune_id": p.commune_id, "sponsor_id": p.sponsor_id, "phase_id": p.phase_id,
            "amount": p.amount, "paid": p.paid, "due_date": _iso(p.due_date), "status": p.status, "note": p.note,
            "transaction_id": p.transaction_id}


def receipt_json(r) -> dict:
    return {"id": r.id, "commune_id": r.commune_id, "number": r.number, "idempotency_key": r.idempotency_key,
            "sponsor_id": r.sponsor_id, "pledge_id": r.pledge_id, "share_id": r.share_id, "phase_id": r.phase_id,
            "method": r.method, "amount": r.amount, "in_kind_type": r.in_kind_type, "description": r.description,
            "payer_name": r.payer_name, "received_on": _iso(r.received_on), "transaction_id": r.transaction_id,
            "reversed": r.reversed_by_id is not None}


def expense_json(e) -> dict:
    return {"id": e.id, "commune_id": e.commune_id, "kind": e.kind, "supplier": e.supplier,
            "invoice_no": e.invoice_no, "amount": e.amount, "paid_from": e.paid_from, "spent_on": _iso(e.spent_on),
            "phase_id": e.phase_id, "camera_id": e.camera_id, "description": e.description,
            "attachment": e.attachment_name, "transaction_id": e.transaction_id,
            "reversed": e.reversed_by_id is not None}


def tx_json(t) -> dict:
    return {"id": t.id, "seq": t.seq, "kind": t.kind, "occurred_on": _iso(t.occurred_on), "memo": t.memo,
            "phase_id": t.phase_id, "ref_type": t.ref_type, "ref_id": t.ref_id, "reverses_seq": t.reverses_seq,
            "prev_hash": t.prev_hash, "hash": t.hash,
            "postings": [{"line": p.line, "account": p.account.code, "amount": p.amount} for p in t.postings]}


def _lang(query) -> str:
    return (query.lang if query is not None and query.lang else None) or current_lang()


def _file(data: bytes, mimetype: str, filename: str) -> Response:
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---- sponsors, phases, pledges -------------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/sponsors", summary="Nhà tài trợ của xã / Sponsors of a commune",
              perm=READ)
def list_sponsors(unit_id: int):
    return jsonify([sponsor_json(s) for s in funders.list_sponsors(unit_id)])


@bp.operation("/funding/communes/<int:unit_id>/sponsors", "POST", summary="Thêm nhà tài trợ / Add a sponsor",
              perm=MANAGE, body=SponsorIn, example={"name": "Công ty Thử Nghiệm", "kind": "company"})
def create_sponsor(unit_id: int, body: SponsorIn):
    return jsonify(sponsor_json(funders.create_sponsor(unit_id, body))), 201


@bp.operation("/funding/sponsors/<int:sponsor_id>", summary="Một nhà tài trợ / One sponsor")
def get_sponsor(sponsor_id: int):
    access.require_any(READ, access.SPONSOR_OWN)
    sponsor = access.sponsor_for_read(sponsor_id)
    return jsonify({**sponsor_json(sponsor), "pledges": [pledge_json(p) for p in funders.list_pledges(sponsor)]})


@bp.operation("/funding/sponsors/<int:sponsor_id>/report", summary="Báo cáo nhà tài trợ / Sponsor report")
def sponsor_report(sponsor_id: int):
    access.require_any(READ, access.SPONSOR_OWN)
    return jsonify(reports.sponsor_summary(sponsor_id))  # which checks the caller may read the sponsor


@bp.operation("/funding/sponsors/<int:sponsor_id>/report.csv", summary="Báo cáo nhà tài trợ (CSV) / Sponsor report (CSV)",
              query=ReportQuery, binary="text/csv")
def sponsor_report_csv(sponsor_id: int, query: ReportQuery):
    access.require_any(READ, access.SPONSOR_OWN)
    summary = reports.sponsor_summary(sponsor_id)
    return _file(reports.sponsor_csv(summary, _lang(query)), "text/csv; charset=utf-8", f"tai-tro-{sponsor_id}.csv")


@bp.operation("/funding/sponsors/<int:sponsor_id>/report.pdf", summary="Báo cáo nhà tài trợ (PDF) / Sponsor report (PDF)",
              query=ReportQuery, binary="application/pdf")
def sponsor_report_pdf(sponsor_id: int, query: ReportQuery):
    access.require_any(READ, access.SPONSOR_OWN)
    return _file(reports.sponsor_report_pdf(sponsor_id, _lang(query)), "application/pdf", f"tai-tro-{sponsor_id}.pdf")


@bp.operation("/funding/communes/<int:unit_id>/phases", summary="Giai đoạn của chương trình / Programme phases",
              perm=READ)
def list_phases(unit_id: int):
    return jsonify([{"id": p.id, "name": p.name, "target": p.target, "cameras_planned": p.cameras_planned,
                     "starts_on": _iso(p.starts_on)} for p in funders.list_phases(unit_id)])


@bp.operation("/funding/communes/<int:unit_id>/phases", "POST", summary="Thêm giai đoạn / Add a phase",
              perm=MANAGE, body=PhaseIn, example={"name": "Giai đoạn thử", "target": 100000000})
def create_phase(unit_id: int, body: PhaseIn):
    p = funders.create_phase(unit_id, body)
    return jsonify({"id": p.id, "name": p.name, "target": p.target}), 201


@bp.operation("/funding/sponsors/<int:sponsor_id>/pledges", "POST", summary="Ghi cam kết tài trợ / Record a pledge",
              perm=MANAGE, body=PledgeIn, example={"amount": 50000000, "due_date": "2030-12-31"})
def create_pledge(sponsor_id: int, body: PledgeIn):
    return jsonify(pledge_json(funders.create_pledge(sponsor_id, body))), 201


@bp.operation("/funding/pledges/<int:pledge_id>", summary="Một cam kết / One pledge")
def get_pledge(pledge_id: int):
    access.require_any(READ, access.SPONSOR_OWN)
    return jsonify(pledge_json(funders.get_pledge(pledge_id)))


@bp.operation("/funding/pledges/<int:pledge_id>/cancel", "POST", summary="Hủy cam kết / Cancel a pledge",
              perm=MANAGE, body=ReverseIn, example={"reason": "nhà tài trợ rút lại"})
def cancel_pledge(pledge_id: int, body: ReverseIn):
    return jsonify(pledge_json(funders.cancel_pledge(pledge_id, body.reason)))


# ---- receipts and shares ------------------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/receipts", summary="Phiếu thu của xã / Receipts of a commune", perm=READ)
def list_receipts(unit_id: int):
    return jsonify([receipt_json(r) for r in receipts.list_receipts(unit_id)])


@bp.operation("/funding/communes/<int:unit_id>/receipts", "POST", summary="Ghi phiếu thu / Record a receipt",
              perm=MANAGE, body=ReceiptIn,
              example={"idempotency_key": "matrix-0001", "amount": 1000000, "method": "cash", "sponsor_id": 1})
def create_receipt(unit_id: int, body: ReceiptIn):
    receipt, created = receipts.record_receipt(unit_id, body)
    return jsonify(receipt_json(receipt)), 201 if created else 200


@bp.operation("/funding/receipts/<int:receipt_id>", summary="Một phiếu thu / One receipt")
def get_receipt(receipt_id: int):
    access.require_any(READ, access.SPONSOR_OWN, access.HOUSEHOLD_OWN)
    return jsonify(receipt_json(receipts.get_receipt(receipt_id)))


@bp.operation("/funding/receipts/<int:receipt_id>/reverse", "POST", summary="Hủy phiếu thu (bút toán đảo) / Reverse a receipt",
              perm=MANAGE, body=ReverseIn, example={"reason": "ghi nhầm số tiền"})
def reverse_receipt(receipt_id: int, body: ReverseIn):
    return jsonify(receipt_json(receipts.reverse_receipt(receipt_id, body.reason)))


@bp.operation("/funding/communes/<int:unit_id>/campaigns", summary="Đợt vận động hộ dân / Share campaigns", perm=READ)
def list_campaigns(unit_id: int):
    return jsonify([{"id": c.id, "name": c.name, "amount_per_household": c.amount_per_household,
                     "due_date": _iso(c.due_date), "phase_id": c.phase_id} for c in receipts.list_campaigns(unit_id)])


@bp.operation("/funding/communes/<int:unit_id>/campaigns", "POST", summary="Mở đợt vận động / Open a share campaign",
              perm=MANAGE, body=CampaignIn,
              example={"name": "Đợt thử", "amount_per_household": 200000, "due_date": "2030-06-30"})
def create_campaign(unit_id: int, body: CampaignIn):
    c = receipts.create_campaign(unit_id, body)
    return jsonify({"id": c.id, "name": c.name}), 201


@bp.operation("/funding/campaigns/<int:campaign_id>", summary="Hộ đã nộp / nợ đọng / Paid and in arrears", perm=READ)
def get_campaign(campaign_id: int):
    return jsonify(receipts.campaign_status(campaign_id))


@bp.operation("/funding/my-shares", summary="Phần đóng góp của hộ tôi / My household's shares",
              perm=access.HOUSEHOLD_OWN)
def my_shares():
    return jsonify(receipts.my_shares())


# ---- expenses and allocations -------------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/expenses", summary="Khoản chi / Expenses", perm=READ)
def list_expenses(unit_id: int):
    return jsonify([expense_json(e) for e in spending.list_expenses(unit_id)])


@bp.operation("/funding/communes/<int:unit_id>/expenses", "POST", summary="Ghi khoản chi / Record an expense",
              perm=MANAGE, body=ExpenseIn,
              example={"kind": "repair", "supplier": "Cửa hàng Thử", "invoice_no": "HD-1", "amount": 500000})
def create_expense(unit_id: int, body: ExpenseIn):
    expense, created = spending.record_expense(unit_id, body)
    return jsonify(expense_json(expense)), 201 if created else 200


@bp.operation("/funding/expenses/<int:expense_id>", summary="Một khoản chi / One expense", perm=READ)
def get_expense(expense_id: int):
    return jsonify(expense_json(get_scoped(Expense, expense_id, READ)))


@bp.operation("/funding/expenses/<int:expense_id>/attachment", "POST",
              summary="Đính kèm hóa đơn (multipart, trường file) / Attach the invoice (multipart field file)", perm=MANAGE)
def attach_invoice(expense_id: int):
    get_scoped(Expense, expense_id, MANAGE)  # a foreign id is 404 before the upload is looked at
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("file: a multipart field 'file' is required", field="file")
    data = upload.read(spending.MAX_ATTACHMENT + 1)
    return jsonify(expense_json(spending.attach_invoice(expense_id, upload.filename, upload.mimetype, data))), 201


@bp.operation("/funding/expenses/<int:expense_id>/attachment", summary="Tải hóa đơn / Download the invoice",
              perm=READ, binary="application/octet-stream")
def download_invoice(expense_id: int):
    expense, data = spending.read_invoice(expense_id)
    return _file(data, expense.attachment_type or "application/octet-stream", expense.attachment_name or "hoa-don")


@bp.operation("/funding/expenses/<int:expense_id>/reverse", "POST", summary="Hủy khoản chi / Reverse an expense",
              perm=MANAGE, body=ReverseIn, example={"reason": "hóa đơn trùng"})
def reverse_expense(expense_id: int, body: ReverseIn):
    return jsonify(expense_json(spending.reverse_expense(expense_id, body.reason)))


@bp.operation("/funding/communes/<int:unit_id>/allocations", summary="Phân bổ kinh phí / Allocations", perm=READ)
def list_allocations(unit_id: int):
    unit = access.commune(unit_id, READ)
    rows = db.session.execute(select(Allocation).where(Allocation.commune_id == unit.id).order_by(Allocation.id)).scalars()
    return jsonify([{"id": a.id, "sponsor_id": a.sponsor_id, "phase_id": a.phase_id, "camera_id": a.camera_id,
                     "amount": a.amount, "note": a.note} for a in rows])


@bp.operation("/funding/communes/<int:unit_id>/allocations", "POST",
              summary="Phân bổ cho giai đoạn hoặc camera / Allocate to a phase or camera", perm=MANAGE,
              body=AllocationIn, example={"sponsor_id": 1, "amount": 1000000, "phase_id": 1})
def create_allocation(unit_id: int, body: AllocationIn):
    a = spending.allocate(unit_id, body)
    return jsonify({"id": a.id, "sponsor_id": a.sponsor_id, "phase_id": a.phase_id, "camera_id": a.camera_id,
                    "amount": a.amount}), 201


@bp.operation("/funding/cameras/<int:camera_id>", summary="Ai tài trợ camera này / Who paid for this camera", perm=READ)
def camera_funding(camera_id: int):
    return jsonify(spending.camera_funding(camera_id))


# ---- the ledger ---------------------------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/accounts", summary="Hệ thống tài khoản và số dư / Accounts and balances",
              perm=READ)
def list_accounts(unit_id: int):
    unit = access.commune(unit_id, READ)
    bal: dict[int, int] = {}
    for (a, _p), v in ledger.balances(unit.id).items():
        bal[a] = bal.get(a, 0) + v
    rows = db.session.execute(select(Account).where(Account.commune_id == unit.id).order_by(Account.code)).scalars()
    return jsonify({"accounts": [{"id": a.id, "code": a.code, "name": a.name, "type": a.type, "kind": a.kind,
                                  "balance": bal.get(a.id, 0)} for a in rows],
                    "cache_differences": ledger.check_balances(unit.id)})


@bp.operation("/funding/communes/<int:unit_id>/transactions", summary="Sổ nhật ký / Journal (latest first)", perm=READ)
def list_transactions(unit_id: int):
    unit = access.commune(unit_id, READ)
    limit = min(max(request.args.get("limit", 100, type=int) or 100, 1), 1000)
    rows = db.session.execute(select(JournalTransaction).where(JournalTransaction.commune_id == unit.id)
                              .order_by(JournalTransaction.seq.desc()).limit(limit)).scalars()
    return jsonify([tx_json(t) for t in rows])


@bp.operation("/funding/communes/<int:unit_id>/journal", "POST", summary="Bút toán điều chỉnh / Manual adjustment",
              perm=MANAGE, body=JournalIn,
              example={"memo": "điều chỉnh thử", "postings": [{"account": "1111", "amount": 1000},
                                                              {"account": "1121", "amount": -1000}]})
def post_journal(unit_id: int, body: JournalIn):
    return jsonify(tx_json(spending.post_journal(unit_id, body))), 201


@bp.operation("/funding/communes/<int:unit_id>/verify", summary="Kiểm tra chuỗi băm / Verify the hash chain",
              perm=READ, query=VerifyQuery)
def verify_chain(unit_id: int, query: VerifyQuery):
    unit = access.commune(unit_id, READ)
    result = ledger.verify(unit.id)
    result["cache_differences"] = ledger.check_balances(unit.id)
    if query.seq is not None:
        row = db.session.execute(select(JournalTransaction.hash).where(
            JournalTransaction.commune_id == unit.id, JournalTransaction.seq == query.seq)).scalar_one_or_none()
        result["checked"] = {"seq": query.seq, "hash": query.hash, "matches": row is not None and row == query.hash}
    return jsonify(result)


# ---- chairman and public reports ----------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/report", summary="Báo cáo của chủ tịch xã / Chairman report", perm=READ)
def chairman_report(unit_id: int):
    return jsonify(reports.chairman_summary(access.commune(unit_id, READ).id))


@bp.operation("/funding/communes/<int:unit_id>/report.csv", summary="Báo cáo của chủ tịch xã (CSV) / Chairman report (CSV)",
              perm=READ, query=ReportQuery, binary="text/csv")
def chairman_report_csv(unit_id: int, query: ReportQuery):
    summary = reports.chairman_summary(access.commune(unit_id, READ).id)
    return _file(reports.chairman_csv(summary, _lang(query)), "text/csv; charset=utf-8", f"tai-chinh-{unit_id}.csv")


@bp.operation("/funding/communes/<int:unit_id>/report.pdf", summary="Báo cáo của chủ tịch xã (PDF) / Chairman report (PDF)",
              perm=READ, query=ReportQuery, binary="application/pdf")
def chairman_report_pdf(unit_id: int, query: ReportQuery):
    unit = access.commune(unit_id, READ)
    return _file(reports.chairman_report_pdf(unit.id, _lang(query)), "application/pdf", f"tai-chinh-{unit_id}.pdf")


def public_commune(unit_id: int):
    """The commune if its transparency page is switched on; otherwise it does not exist (404)."""
    from ..tenants.models import AdminUnit

    with system_scope():
        settings = db.session.execute(select(CommuneSettings).where(
            CommuneSettings.commune_id == unit_id)).scalar_one_or_none()
        unit = db.session.get(AdminUnit, unit_id) if settings is not None and settings.public_transparency else None
    if unit is None or not unit.is_commune:
        raise NotFoundError()
    return unit


@bp.operation("/funding/public/<int:unit_id>", summary="Công khai tài chính (tổng hợp) / Public transparency figures",
              public=True)
def public_report(unit_id: int):
    unit = public_commune(unit_id)
    with system_scope():
        return jsonify(reports.public_summary(unit.id))
