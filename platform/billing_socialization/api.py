"""Funding API: sponsors, pledges, receipts, shares, expenses, allocations, the ledger and its reports."""
from __future__ import annotations

from flask import Response, request
from sqlalchemy import select

from ..apispec import ApiBlueprint
from ..errors import NotFoundError, ValidationFailed
from ..extensions import db
from ..i18n import current_lang
from ..tenants.access import get_commune, get_scoped, require_any
from ..tenants.models import CommuneSettings
from ..tenants.scope import system_scope
from . import access, funders, ledger, receipts, reports, spending
from .models import Account, Allocation, Expense, JournalTransaction
from .schemas import (AccountsOut, AllocationCreated, AllocationIn, AllocationOut, CameraFundingOut, CampaignCreated,
                      CampaignIn, CampaignOut, CampaignStatusOut, ChairmanReportOut, ExpenseIn, ExpenseOut, JournalIn,
                      MyShareOut, PhaseCreated, PhaseIn, PhaseOut, PledgeIn, PledgeOut, PublicReportOut, ReceiptIn,
                      ReceiptOut, ReportQuery, ReverseIn, SponsorDetail, SponsorIn, SponsorOut, SponsorReportOut,
                      TransactionOut, VerifyOut, VerifyQuery)

bp = ApiBlueprint("funding_api", __name__, tag="funding")
READ, MANAGE = access.READ, access.MANAGE


def _lang(query) -> str:
    return (query.lang if query is not None and query.lang else None) or current_lang()


def _file(data: bytes, mimetype: str, filename: str) -> Response:
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---- sponsors, phases, pledges -------------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/sponsors", summary="Nhà tài trợ của xã / Sponsors of a commune",
              perm=READ, response=list[SponsorOut])
def list_sponsors(unit_id: int):
    return funders.list_sponsors(unit_id)


@bp.operation("/funding/communes/<int:unit_id>/sponsors", "POST", summary="Thêm nhà tài trợ / Add a sponsor",
              perm=MANAGE, body=SponsorIn, example={"name": "Công ty Thử Nghiệm", "kind": "company"}, response=SponsorOut, status=201)
def create_sponsor(unit_id: int, body: SponsorIn):
    return funders.create_sponsor(unit_id, body), 201


@bp.operation("/funding/sponsors/<int:sponsor_id>", summary="Một nhà tài trợ / One sponsor", response=SponsorDetail)
def get_sponsor(sponsor_id: int):
    require_any(READ, access.SPONSOR_OWN)
    sponsor = access.sponsor_for_read(sponsor_id)
    return SponsorDetail(**SponsorOut.model_validate(sponsor).model_dump(), pledges=funders.list_pledges(sponsor))


@bp.operation("/funding/sponsors/<int:sponsor_id>/report", summary="Báo cáo nhà tài trợ / Sponsor report", response=SponsorReportOut)
def sponsor_report(sponsor_id: int):
    require_any(READ, access.SPONSOR_OWN)
    return reports.sponsor_summary(sponsor_id)  # which checks the caller may read the sponsor


@bp.operation("/funding/sponsors/<int:sponsor_id>/report.csv", summary="Báo cáo nhà tài trợ (CSV) / Sponsor report (CSV)",
              query=ReportQuery, binary="text/csv")
def sponsor_report_csv(sponsor_id: int, query: ReportQuery):
    require_any(READ, access.SPONSOR_OWN)
    summary = reports.sponsor_summary(sponsor_id)
    return _file(reports.sponsor_csv(summary, _lang(query)), "text/csv; charset=utf-8", f"tai-tro-{sponsor_id}.csv")


@bp.operation("/funding/sponsors/<int:sponsor_id>/report.pdf", summary="Báo cáo nhà tài trợ (PDF) / Sponsor report (PDF)",
              query=ReportQuery, binary="application/pdf")
def sponsor_report_pdf(sponsor_id: int, query: ReportQuery):
    require_any(READ, access.SPONSOR_OWN)
    return _file(reports.sponsor_report_pdf(sponsor_id, _lang(query)), "application/pdf", f"tai-tro-{sponsor_id}.pdf")


@bp.operation("/funding/communes/<int:unit_id>/phases", summary="Giai đoạn của chương trình / Programme phases",
              perm=READ, response=list[PhaseOut])
def list_phases(unit_id: int):
    return funders.list_phases(unit_id)


@bp.operation("/funding/communes/<int:unit_id>/phases", "POST", summary="Thêm giai đoạn / Add a phase",
              perm=MANAGE, body=PhaseIn, example={"name": "Giai đoạn thử", "target": 100000000}, response=PhaseCreated, status=201)
def create_phase(unit_id: int, body: PhaseIn):
    return funders.create_phase(unit_id, body), 201


@bp.operation("/funding/sponsors/<int:sponsor_id>/pledges", "POST", summary="Ghi cam kết tài trợ / Record a pledge",
              perm=MANAGE, body=PledgeIn, example={"amount": 50000000, "due_date": "2030-12-31"}, response=PledgeOut, status=201)
def create_pledge(sponsor_id: int, body: PledgeIn):
    return funders.create_pledge(sponsor_id, body), 201


@bp.operation("/funding/pledges/<int:pledge_id>", summary="Một cam kết / One pledge", response=PledgeOut)
def get_pledge(pledge_id: int):
    require_any(READ, access.SPONSOR_OWN)
    return funders.get_pledge(pledge_id)


@bp.operation("/funding/pledges/<int:pledge_id>/cancel", "POST", summary="Hủy cam kết / Cancel a pledge",
              perm=MANAGE, body=ReverseIn, example={"reason": "nhà tài trợ rút lại"}, response=PledgeOut)
def cancel_pledge(pledge_id: int, body: ReverseIn):
    return funders.cancel_pledge(pledge_id, body.reason)


# ---- receipts and shares ------------------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/receipts", summary="Phiếu thu của xã / Receipts of a commune", perm=READ, response=list[ReceiptOut])
def list_receipts(unit_id: int):
    return receipts.list_receipts(unit_id)


@bp.operation("/funding/communes/<int:unit_id>/receipts", "POST", summary="Ghi phiếu thu / Record a receipt",
              perm=MANAGE, body=ReceiptIn,
              example={"idempotency_key": "matrix-0001", "amount": 1000000, "method": "cash", "sponsor_id": 1}, response=ReceiptOut, status=201)
def create_receipt(unit_id: int, body: ReceiptIn):
    receipt, created = receipts.record_receipt(unit_id, body)
    return receipt, 201 if created else 200


@bp.operation("/funding/receipts/<int:receipt_id>", summary="Một phiếu thu / One receipt", response=ReceiptOut)
def get_receipt(receipt_id: int):
    require_any(READ, access.SPONSOR_OWN, access.HOUSEHOLD_OWN)
    return receipts.get_receipt(receipt_id)


@bp.operation("/funding/receipts/<int:receipt_id>/reverse", "POST", summary="Hủy phiếu thu (bút toán đảo) / Reverse a receipt",
              perm=MANAGE, body=ReverseIn, example={"reason": "ghi nhầm số tiền"}, response=ReceiptOut)
def reverse_receipt(receipt_id: int, body: ReverseIn):
    return receipts.reverse_receipt(receipt_id, body.reason)


@bp.operation("/funding/communes/<int:unit_id>/campaigns", summary="Đợt vận động hộ dân / Share campaigns", perm=READ, response=list[CampaignOut])
def list_campaigns(unit_id: int):
    return receipts.list_campaigns(unit_id)


@bp.operation("/funding/communes/<int:unit_id>/campaigns", "POST", summary="Mở đợt vận động / Open a share campaign",
              perm=MANAGE, body=CampaignIn,
              example={"name": "Đợt thử", "amount_per_household": 200000, "due_date": "2030-06-30"}, response=CampaignCreated, status=201)
def create_campaign(unit_id: int, body: CampaignIn):
    return receipts.create_campaign(unit_id, body), 201


@bp.operation("/funding/campaigns/<int:campaign_id>", summary="Hộ đã nộp / nợ đọng / Paid and in arrears", perm=READ, response=CampaignStatusOut)
def get_campaign(campaign_id: int):
    return receipts.campaign_status(campaign_id)


@bp.operation("/funding/my-shares", summary="Phần đóng góp của hộ tôi / My household's shares",
              perm=access.HOUSEHOLD_OWN, response=list[MyShareOut])
def my_shares():
    return receipts.my_shares()


# ---- expenses and allocations -------------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/expenses", summary="Khoản chi / Expenses", perm=READ, response=list[ExpenseOut])
def list_expenses(unit_id: int):
    return spending.list_expenses(unit_id)


@bp.operation("/funding/communes/<int:unit_id>/expenses", "POST", summary="Ghi khoản chi / Record an expense",
              perm=MANAGE, body=ExpenseIn,
              example={"kind": "repair", "supplier": "Cửa hàng Thử", "invoice_no": "HD-1", "amount": 500000}, response=ExpenseOut, status=201)
def create_expense(unit_id: int, body: ExpenseIn):
    expense, created = spending.record_expense(unit_id, body)
    return expense, 201 if created else 200


@bp.operation("/funding/expenses/<int:expense_id>", summary="Một khoản chi / One expense", perm=READ, response=ExpenseOut)
def get_expense(expense_id: int):
    return get_scoped(Expense, expense_id, READ)


@bp.operation("/funding/expenses/<int:expense_id>/attachment", "POST",
              summary="Đính kèm hóa đơn (multipart, trường file) / Attach the invoice (multipart field file)", perm=MANAGE, response=ExpenseOut, status=201)
def attach_invoice(expense_id: int):
    get_scoped(Expense, expense_id, MANAGE)  # a foreign id is 404 before the upload is looked at
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("file: a multipart field 'file' is required", field="file")
    data = upload.read(spending.MAX_ATTACHMENT + 1)
    return spending.attach_invoice(expense_id, upload.filename, upload.mimetype, data), 201


@bp.operation("/funding/expenses/<int:expense_id>/attachment", summary="Tải hóa đơn / Download the invoice",
              perm=READ, binary="application/octet-stream")
def download_invoice(expense_id: int):
    expense, data = spending.read_invoice(expense_id)
    return _file(data, expense.attachment_type or "application/octet-stream", expense.attachment_name or "hoa-don")


@bp.operation("/funding/expenses/<int:expense_id>/reverse", "POST", summary="Hủy khoản chi / Reverse an expense",
              perm=MANAGE, body=ReverseIn, example={"reason": "hóa đơn trùng"}, response=ExpenseOut)
def reverse_expense(expense_id: int, body: ReverseIn):
    return spending.reverse_expense(expense_id, body.reason)


@bp.operation("/funding/communes/<int:unit_id>/allocations", summary="Phân bổ kinh phí / Allocations", perm=READ, response=list[AllocationOut])
def list_allocations(unit_id: int):
    unit = get_commune(unit_id, READ)
    return db.session.execute(select(Allocation).where(Allocation.commune_id == unit.id)
                              .order_by(Allocation.id)).scalars().all()


@bp.operation("/funding/communes/<int:unit_id>/allocations", "POST",
              summary="Phân bổ cho giai đoạn hoặc camera / Allocate to a phase or camera", perm=MANAGE,
              body=AllocationIn, example={"sponsor_id": 1, "amount": 1000000, "phase_id": 1}, response=AllocationCreated, status=201)
def create_allocation(unit_id: int, body: AllocationIn):
    return spending.allocate(unit_id, body), 201


@bp.operation("/funding/cameras/<int:camera_id>", summary="Ai tài trợ camera này / Who paid for this camera", perm=READ, response=CameraFundingOut)
def camera_funding(camera_id: int):
    return spending.camera_funding(camera_id)


# ---- the ledger ---------------------------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/accounts", summary="Hệ thống tài khoản và số dư / Accounts and balances",
              perm=READ, response=AccountsOut)
def list_accounts(unit_id: int):
    unit = get_commune(unit_id, READ)
    bal: dict[int, int] = {}
    for (a, _p), v in ledger.balances(unit.id).items():
        bal[a] = bal.get(a, 0) + v
    rows = db.session.execute(select(Account).where(Account.commune_id == unit.id).order_by(Account.code)).scalars()
    return {"accounts": [{"id": a.id, "code": a.code, "name": a.name, "type": a.type, "kind": a.kind,
                          "balance": bal.get(a.id, 0)} for a in rows],
            "cache_differences": ledger.check_balances(unit.id)}


@bp.operation("/funding/communes/<int:unit_id>/transactions", summary="Sổ nhật ký / Journal (latest first)", perm=READ, response=list[TransactionOut])
def list_transactions(unit_id: int):
    unit = get_commune(unit_id, READ)
    limit = min(max(request.args.get("limit", 100, type=int) or 100, 1), 1000)
    return db.session.execute(select(JournalTransaction).where(JournalTransaction.commune_id == unit.id)
                              .order_by(JournalTransaction.seq.desc()).limit(limit)).scalars().all()


@bp.operation("/funding/communes/<int:unit_id>/journal", "POST", summary="Bút toán điều chỉnh / Manual adjustment",
              perm=MANAGE, body=JournalIn,
              example={"memo": "điều chỉnh thử", "postings": [{"account": "1111", "amount": 1000},
                                                              {"account": "1121", "amount": -1000}]}, response=TransactionOut, status=201)
def post_journal(unit_id: int, body: JournalIn):
    return spending.post_journal(unit_id, body), 201


@bp.operation("/funding/communes/<int:unit_id>/verify", summary="Kiểm tra chuỗi băm / Verify the hash chain",
              perm=READ, query=VerifyQuery, response=VerifyOut)
def verify_chain(unit_id: int, query: VerifyQuery):
    unit = get_commune(unit_id, READ)
    result = ledger.verify(unit.id)
    result["cache_differences"] = ledger.check_balances(unit.id)
    if query.seq is not None:
        row = db.session.execute(select(JournalTransaction.hash).where(
            JournalTransaction.commune_id == unit.id, JournalTransaction.seq == query.seq)).scalar_one_or_none()
        result["checked"] = {"seq": query.seq, "hash": query.hash, "matches": row is not None and row == query.hash}
    return result


# ---- chairman and public reports ----------------------------------------------------------

@bp.operation("/funding/communes/<int:unit_id>/report", summary="Báo cáo của chủ tịch xã / Chairman report", perm=READ, response=ChairmanReportOut)
def chairman_report(unit_id: int):
    return reports.chairman_summary(get_commune(unit_id, READ).id)


@bp.operation("/funding/communes/<int:unit_id>/report.csv", summary="Báo cáo của chủ tịch xã (CSV) / Chairman report (CSV)",
              perm=READ, query=ReportQuery, binary="text/csv")
def chairman_report_csv(unit_id: int, query: ReportQuery):
    summary = reports.chairman_summary(get_commune(unit_id, READ).id)
    return _file(reports.chairman_csv(summary, _lang(query)), "text/csv; charset=utf-8", f"tai-chinh-{unit_id}.csv")


@bp.operation("/funding/communes/<int:unit_id>/report.pdf", summary="Báo cáo của chủ tịch xã (PDF) / Chairman report (PDF)",
              perm=READ, query=ReportQuery, binary="application/pdf")
def chairman_report_pdf(unit_id: int, query: ReportQuery):
    unit = get_commune(unit_id, READ)
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
              public=True, response=PublicReportOut)
def public_report(unit_id: int):
    unit = public_commune(unit_id)
    with system_scope():
        return reports.public_summary(unit.id)
