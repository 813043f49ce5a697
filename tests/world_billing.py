"""Funding objects for the isolation matrix: per commune a sponsor with a pledge and receipts, a phase,
a share campaign with two households, an expense with an invoice, a camera with an allocation."""
from __future__ import annotations

from datetime import date, timedelta

from camnet.billing_socialization import funders, receipts, spending
from camnet.billing_socialization.schemas import (AllocationIn, CampaignIn, ExpenseIn, PhaseIn, PledgeIn,
                                                  ReceiptIn, SponsorIn)
from camnet.extensions import db
from camnet.streams.models import Camera

from .world import FOREIGN

PARAMS = {"sponsor_id": "sponsor", "pledge_id": "pledge", "receipt_id": "receipt", "campaign_id": "campaign",
          "expense_id": "expense", "camera_id": "camera"}
PDF_BYTES = b"%PDF-1.4\n% hoa don thu nghiem\n%%EOF\n"


def build(w) -> None:
    today = date.today()
    for key in ("a", "b", "c", "d"):
        unit = w.units[key]
        mark = "" if key == "a" else f" {FOREIGN}"
        sponsor = funders.create_sponsor(unit.id, SponsorIn(name=f"Công ty Tài Trợ{mark} {key}", kind="company"))
        budget = funders.create_sponsor(unit.id, SponsorIn(name=f"Ngân sách xã{mark} {key}", kind="budget"))
        other = funders.create_sponsor(unit.id, SponsorIn(name=f"Hộ kinh doanh Khác{mark} {key}", kind="company"))
        phase = funders.create_phase(unit.id, PhaseIn(name=f"Giai đoạn 1{mark} {key}", target=300_000_000))
        pledge = funders.create_pledge(sponsor.id, PledgeIn(amount=100_000_000, due_date=today + timedelta(days=90),
                                                            phase_id=phase.id))
        r1, _ = receipts.record_receipt(unit.id, ReceiptIn(idempotency_key=f"world-{key}-1", amount=40_000_000,
                                                           method="bank", pledge_id=pledge.id))
        r2, _ = receipts.record_receipt(unit.id, ReceiptIn(idempotency_key=f"world-{key}-2", amount=150_000_000,
                                                           method="bank", sponsor_id=budget.id, phase_id=phase.id))
        campaign = receipts.create_campaign(unit.id, CampaignIn(
            name=f"Đóng góp camera{mark} {key}", amount_per_household=500_000, due_date=today - timedelta(days=10),
            phase_id=phase.id, households=[
                {"household_ref": f"HH-{key}-1", "head_name": f"Hộ ông Nguyễn Văn{mark} {key}1",
                 "village_id": w.villages[key].id},
                {"household_ref": f"HH-{key}-2", "head_name": f"Hộ bà Trần Thị{mark} {key}2",
                 "village_id": w.villages[key].id}]))
        status = receipts.campaign_status(campaign.id)
        share_id = next(s["id"] for s in status["arrears"] if s["household_ref"] == f"HH-{key}-1")
        r3, _ = receipts.record_receipt(unit.id, ReceiptIn(idempotency_key=f"world-{key}-3", amount=500_000,
                                                           method="cash", share_id=share_id))
        camera = Camera(commune_id=unit.id, code=f"TT-{key.upper()}1", name=f"Camera tài trợ{mark} {key}",
                        status="active", phase=phase.name)
        db.session.add(camera)
        db.session.commit()
        expense, _ = spending.record_expense(unit.id, ExpenseIn(
            kind="equipment", supplier=f"Nhà cung cấp{mark} {key}", invoice_no=f"HD-{key}-001",
            amount=12_000_000, camera_id=camera.id, phase_id=phase.id))
        spending.attach_invoice(expense.id, "hoa-don.pdf", "application/pdf", PDF_BYTES)
        spending.allocate(unit.id, AllocationIn(sponsor_id=sponsor.id, amount=20_000_000, camera_id=camera.id))
        for kind, obj in (("sponsor", sponsor), ("sponsor", budget), ("sponsor", other), ("pledge", pledge),
                          ("receipt", r1), ("receipt", r2), ("receipt", r3), ("campaign", campaign),
                          ("expense", expense), ("camera", camera), ("phase", phase)):
            w.add(kind, key, obj)
        if key in ("a", "b"):
            w.users[f"sponsor_{key}"].sponsor_id = sponsor.id
            w.users[f"household_{key}"].household_ref = f"HH-{key}-1"
    db.session.commit()


def foreign_names(w, unit_ids) -> list[str]:
    names = []
    for kind, attr in (("sponsor", "name"), ("campaign", "name"), ("expense", "supplier"), ("phase", "name")):
        for objs in w.extra.get(kind, {}).values():
            names += [getattr(o, attr) for o in objs if o.commune_id in unit_ids]
    return names
