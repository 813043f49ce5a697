"""Funding pages: the chairman's funding page with its forms, a sponsor's report, printable receipts,
share campaigns, a household's own shares, and the public transparency page (off by default)."""
from __future__ import annotations

import re
import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from pydantic import ValidationError
from sqlalchemy import select

from ..errors import DomainError, ForbiddenError, ValidationFailed, pydantic_errors
from ..extensions import db
from ..streams.models import Camera
from ..i18n import t
from ..tenants.access import get_commune, get_scoped, may, require_any, require_at
from ..tenants.idsets import member_of
from ..tenants.models import AdminUnit, Village
from ..tenants.scope import current_scope, system_scope
from . import access, funders, ledger, receipts, reports, spending
from .api import public_commune
from .labels import KIND_LABELS, SPONSOR_KIND_LABELS
from .models import EXPENSE_KINDS, SPONSOR_KINDS, ShareCampaign
from .schemas import AllocationIn, CampaignIn, ExpenseIn, PhaseIn, PledgeIn, ReceiptIn, SponsorIn

bp = Blueprint("funding", __name__)
_MONEY = re.compile(r"^\d{1,3}([.\s]?\d{3})*$")


def money_field(name: str) -> int:
    """A form amount such as "1.500.000" or "1500000": whole đồng only, named in the error."""
    raw = (request.form.get(name) or "").strip()
    if not raw or not _MONEY.match(raw):
        raise ValidationFailed(f"{name}: whole đồng, digits only (e.g. 1.500.000)", field=name)
    return int(re.sub(r"[.\s]", "", raw))


def _form(*names) -> dict:
    return {n: request.form[n].strip() for n in names if request.form.get(n, "").strip() != ""}


def _ints(data: dict, *names) -> dict:
    for n in names:
        if n in data:
            if not data[n].isdigit():
                raise ValidationFailed(f"{n}: a number is required", field=n)
            data[n] = int(data[n])
    return data


@bp.route("/funding")
@login_required
def index():
    require_any(access.READ, access.SPONSOR_OWN, access.HOUSEHOLD_OWN)
    if may(access.READ):
        communes = [u for u in db.session.execute(select(AdminUnit).where(
            AdminUnit.is_commune.is_(True), member_of(AdminUnit.id, current_scope().units_with(access.READ)))
            .order_by(AdminUnit.name)).scalars()]
        if len(communes) == 1:
            return redirect(url_for("funding.commune_page", unit_id=communes[0].id))
        return render_template("billing/index.html", communes=communes)
    if may(access.SPONSOR_OWN) and access.user_sponsor_id():
        return redirect(url_for("funding.sponsor_page", sponsor_id=access.user_sponsor_id()))
    if may(access.HOUSEHOLD_OWN):
        return redirect(url_for("funding.my_shares_page"))
    raise ForbiddenError(t("Tài khoản chưa gắn với nhà tài trợ", "This account is not linked to a sponsor"))


def _households(unit, text: str) -> list[dict]:
    """Households of a campaign typed one per line: ``household ref; head of household; village``.
    Villages are given by name; an error names the line."""
    villages = {v.name.strip().casefold(): v.id for v in db.session.execute(
        select(Village).where(Village.commune_id == unit.id)).scalars()}
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        if len(parts) != 3 or not all(parts):
            raise ValidationFailed(f"households line {number}: write 'household ref; head of household; village'",
                                   field="households")
        ref, head, village = parts
        village_id = villages.get(village.casefold())
        if village_id is None:
            raise ValidationFailed(f"households line {number}: no village {village!r} in this commune",
                                   field="households")
        out.append({"household_ref": ref, "head_name": head, "village_id": village_id})
    if not out:
        raise ValidationFailed("households: list at least one household, one per line", field="households")
    return out


def _handle_post(unit):
    action = request.form.get("action")
    if action == "sponsor":
        funders.create_sponsor(unit.id, SponsorIn.model_validate(_form("name", "kind", "contact", "tax_code")))
        flash(t("Đã thêm nhà tài trợ", "Sponsor added"), "ok")
    elif action == "phase":
        data = _form("name", "starts_on")
        data["target"] = money_field("target")
        funders.create_phase(unit.id, PhaseIn.model_validate(data))
        flash(t("Đã thêm giai đoạn", "Phase added"), "ok")
    elif action == "receipt":
        data = _ints(_form("idempotency_key", "method", "sponsor_id", "pledge_id", "share_id", "phase_id",
                           "received_on", "in_kind_type", "description", "payer_name"),
                     "sponsor_id", "pledge_id", "share_id", "phase_id")
        data["amount"] = money_field("amount")
        receipt, created = receipts.record_receipt(unit.id, ReceiptIn.model_validate(data))
        flash((t("Đã ghi phiếu thu ", "Receipt recorded: ") if created else
               t("Phiếu thu đã có (gửi trùng) ", "Receipt already recorded (double submit): ")) + receipt.number, "ok")
        return redirect(url_for("funding.receipt_page", receipt_id=receipt.id))
    elif action == "pledge":
        data = _ints(_form("sponsor_id", "due_date", "phase_id", "note", "pledged_on"), "sponsor_id", "phase_id")
        sponsor = funders.sponsor_in(unit.id, data.pop("sponsor_id", None))
        data["amount"] = money_field("amount")
        funders.create_pledge(sponsor.id, PledgeIn.model_validate(data))
        flash(t("Đã ghi cam kết tài trợ của ", "Pledge recorded for ") + sponsor.name, "ok")
    elif action == "campaign":
        data = _ints(_form("name", "due_date", "phase_id"), "phase_id")
        data["amount_per_household"] = money_field("amount_per_household")
        data["households"] = _households(unit, request.form.get("households", ""))
        campaign = receipts.create_campaign(unit.id, CampaignIn.model_validate(data))
        flash(t("Đã mở đợt vận động ", "Campaign opened: ") + campaign.name, "ok")
        return redirect(url_for("funding.campaign_page", campaign_id=campaign.id))
    elif action == "allocation":
        data = _ints(_form("sponsor_id", "phase_id", "camera_id", "note"), "sponsor_id", "phase_id", "camera_id")
        sponsor = funders.sponsor_in(unit.id, data.get("sponsor_id"))
        data["amount"] = money_field("amount")
        spending.allocate(unit.id, AllocationIn.model_validate(data))
        flash(t("Đã phân bổ kinh phí của ", "Funds allocated from ") + sponsor.name, "ok")
    elif action == "expense":
        data = _ints(_form("idempotency_key", "kind", "supplier", "invoice_no", "paid_from", "spent_on",
                           "phase_id", "camera_id", "description"), "phase_id", "camera_id")
        data["amount"] = money_field("amount")
        expense, _ = spending.record_expense(unit.id, ExpenseIn.model_validate(data))
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            spending.attach_invoice(expense.id, upload.filename, upload.mimetype,
                                    upload.read(spending.MAX_ATTACHMENT + 1))
        flash(t("Đã ghi khoản chi", "Expense recorded"), "ok")
    else:
        raise ValidationFailed("action: unknown form", field="action")
    return redirect(url_for("funding.commune_page", unit_id=unit.id))


@bp.route("/funding/communes/<int:unit_id>", methods=["GET", "POST"])
@login_required
def commune_page(unit_id: int):
    require_any(access.READ)
    unit = get_commune(unit_id, access.READ)
    if request.method == "POST":
        require_at(access.MANAGE, unit.id)  # readers (police, finance grants) see the page but record nothing
        try:
            return _handle_post(unit)
        except ValidationError as exc:
            flash(pydantic_errors(exc).message, "error")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        return redirect(url_for("funding.commune_page", unit_id=unit.id))
    summary = reports.chairman_summary(unit.id)
    chain = None
    if request.args.get("check") == "chain":  # the hash chain checked, told as a sentence
        chain = ledger.verify(unit.id)
        chain["cache_differences"] = ledger.check_balances(unit.id)
    return render_template(
        "billing/commune.html", unit=unit, s=summary, chain=chain, sponsors=funders.list_sponsors(unit.id),
        phases=funders.list_phases(unit.id), receipts=receipts.list_receipts(unit.id, 50),
        expenses=spending.list_expenses(unit.id, 50), campaigns=receipts.list_campaigns(unit.id),
        can_manage=may(access.MANAGE, unit.id), new_key=uuid.uuid4().hex,
        cameras=db.session.execute(select(Camera.id, Camera.code, Camera.name).where(
            Camera.commune_id == unit.id, Camera.status != "decommissioned").order_by(Camera.code)).all(),
        villages=db.session.execute(select(Village.name).where(Village.commune_id == unit.id)
                                    .order_by(Village.name)).scalars().all(),
        sponsor_kinds=SPONSOR_KINDS, expense_kinds=EXPENSE_KINDS, kind_labels=KIND_LABELS,
        sponsor_kind_labels=SPONSOR_KIND_LABELS)


@bp.route("/funding/sponsors/<int:sponsor_id>")
@login_required
def sponsor_page(sponsor_id: int):
    require_any(access.READ, access.SPONSOR_OWN)
    return render_template("billing/sponsor.html", s=reports.sponsor_summary(sponsor_id),
                           sponsor_kind_labels=SPONSOR_KIND_LABELS)


@bp.route("/funding/receipts/<int:receipt_id>")
@login_required
def receipt_page(receipt_id: int):
    require_any(access.READ, access.SPONSOR_OWN, access.HOUSEHOLD_OWN)
    ctx = receipts.receipt_context(receipts.get_receipt(receipt_id))
    return render_template("billing/receipt.html", **ctx)


@bp.route("/funding/campaigns/<int:campaign_id>")
@login_required
def campaign_page(campaign_id: int):
    require_any(access.READ)
    get_scoped(ShareCampaign, campaign_id, access.READ)
    return render_template("billing/campaign.html", c=receipts.campaign_status(campaign_id))


@bp.route("/funding/my-shares")
@login_required
def my_shares_page():
    require_any(access.HOUSEHOLD_OWN)
    return render_template("billing/my_shares.html", shares=receipts.my_shares())


@bp.route("/minh-bach/<int:unit_id>")
def public_page(unit_id: int):
    """Công khai tài chính: aggregates only, when the commune has switched the page on."""
    unit = public_commune(unit_id)
    with system_scope():
        summary = reports.public_summary(unit.id)
        villages = db.session.execute(select(Village.id).where(Village.commune_id == unit.id)).all()
    return render_template("billing/public.html", s=summary, village_count=len(villages),
                           kind_labels=KIND_LABELS)
