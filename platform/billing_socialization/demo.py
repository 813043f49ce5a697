"""Demo funding drawn from the seed articles (idempotent): Viettel Construction sponsoring Ngũ Hiệp
(116 M of its 600 M paid left unallocated), household shares in Bến Sung (200+ households) and a
running upkeep campaign in Núi Đối some households are late with, budget lines in Hồ Xá's two phases."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from ..clock import utc_now
from ..extensions import db
from ..streams.models import Camera
from ..tenants.models import AdminUnit, User, Village
from ..tenants.scope import system_scope
from . import funders, receipts, spending
from .models import Allocation, FundingPhase, JournalTransaction, Pledge, ShareCampaign, Sponsor
from .schemas import AllocationIn, CampaignIn, ExpenseIn, PhaseIn, PledgeIn, ReceiptIn, SponsorIn

SURNAMES = ["Nguyễn", "Lê", "Trần", "Phạm", "Hoàng", "Vũ", "Đỗ", "Bùi", "Đặng", "Ngô", "Lương", "Trịnh"]
GIVEN = ["Văn Đức", "Thị Hoa", "Văn Hùng", "Thị Lan", "Đình Nam", "Thị Mai", "Văn Tiến", "Quang Huy", "Thị Hằng",
         "Văn Long", "Xuân Trường", "Thị Thu"]


def _sponsor(unit, name, kind, contact=None):
    row = db.session.execute(select(Sponsor).where(Sponsor.commune_id == unit.id, Sponsor.name == name)).scalar_one_or_none()
    return row or funders.create_sponsor(unit.id, SponsorIn(name=name, kind=kind, contact=contact))


def _phase(unit, name, target, cameras, starts_on):
    row = db.session.execute(select(FundingPhase).where(FundingPhase.commune_id == unit.id,
                                                        FundingPhase.name == name)).scalar_one_or_none()
    return row or funders.create_phase(unit.id, PhaseIn(name=name, target=target, cameras_planned=cameras,
                                                        starts_on=starts_on))


def _pledge(sponsor, amount, due, phase, note, on):
    row = db.session.execute(select(Pledge).where(Pledge.sponsor_id == sponsor.id, Pledge.note == note)).scalar_one_or_none()
    return row or funders.create_pledge(sponsor.id, PledgeIn(amount=amount, due_date=due, phase_id=phase.id, note=note,
                                                             pledged_on=on))


def _receipt(unit, key, **kw):
    return receipts.record_receipt(unit.id, ReceiptIn(idempotency_key=f"demo-{unit.code}-{key}", **kw))[0]


def _expense(unit, key, **kw):
    return spending.record_expense(unit.id, ExpenseIn(idempotency_key=f"demo-{unit.code}-{key}", **kw))[0]


def _allocate(unit, sponsor, amount, phase=None, camera=None, note=None):
    stmt = select(Allocation.id).where(Allocation.sponsor_id == sponsor.id)
    stmt = stmt.where(Allocation.camera_id == camera.id) if camera else stmt.where(Allocation.phase_id == phase.id)
    if not db.session.execute(stmt).first():
        spending.allocate(unit.id, AllocationIn(sponsor_id=sponsor.id, amount=amount, note=note,
                                                phase_id=None if camera else phase.id,
                                                camera_id=camera.id if camera else None))


def _ngu_hiep(unit):
    phase = _phase(unit, "Giai đoạn 1 (2023)", 700_000_000, 64, date(2023, 3, 1))
    viettel = _sponsor(unit, "Viettel Construction (Tổng CTCP Công trình Viettel)", "company", "Chi nhánh Hà Nội")
    budget = _sponsor(unit, "Ngân sách xã Ngũ Hiệp", "budget")
    pledge = _pledge(viettel, 600_000_000, date(2023, 12, 31), phase, "Tài trợ 64 camera, lắp đặt và đường truyền",
                     date(2023, 3, 1))
    _receipt(unit, "vt-1", amount=380_000_000, method="in_kind", in_kind_type="equipment", pledge_id=pledge.id,
             received_on=date(2023, 4, 10), description="64 camera IP ngoài trời, 2 đầu ghi NVR 32 kênh, ổ cứng")
    _receipt(unit, "vt-2", amount=120_000_000, method="in_kind", in_kind_type="service", pledge_id=pledge.id,
             received_on=date(2023, 4, 20), description="Thi công lắp đặt, kéo cáp quang các trục đường, ngõ xóm")
    _receipt(unit, "vt-3", amount=100_000_000, method="bank", pledge_id=pledge.id, received_on=date(2023, 5, 5),
             description="Kinh phí đường truyền 2 năm")
    _receipt(unit, "ns-1", amount=100_000_000, method="bank", sponsor_id=budget.id, phase_id=phase.id,
             received_on=date(2023, 3, 15), description="Dự toán ngân sách xã năm 2023")
    _expense(unit, "e-1", kind="equipment", supplier="Công ty TNHH Thiết bị An Phát", invoice_no="0001245",
             amount=35_000_000, paid_from="bank", spent_on=date(2023, 5, 12), phase_id=phase.id,
             description="2 màn hình 43 inch, máy tính phòng trực ban Công an xã")
    _expense(unit, "e-2", kind="connectivity", supplier="Viettel Hà Nội", invoice_no="VT-2023-0788",
             amount=48_000_000, paid_from="bank", spent_on=date(2023, 6, 1), phase_id=phase.id,
             description="Đường truyền cáp quang 24 tháng")
    _expense(unit, "e-3", kind="repair", supplier="Cửa hàng điện tử Đông Trạch", invoice_no="0000392",
             amount=6_500_000, paid_from="bank", spent_on=date(2024, 8, 20), phase_id=phase.id,
             description="Thay nguồn, sửa 3 camera sau mưa bão")
    cameras = list(db.session.execute(select(Camera).where(Camera.commune_id == unit.id).order_by(Camera.code)).scalars())
    for cam in cameras[:64]:
        _allocate(unit, viettel, 6_000_000, camera=cam, note="Thiết bị và lắp đặt")
    _allocate(unit, viettel, 100_000_000, phase=phase, note="Đường truyền")
    return viettel


def _ben_sung(unit):
    phase = _phase(unit, "Mô hình camera 2022", 900_000_000, 58, date(2022, 1, 10))
    budget = _sponsor(unit, "Ngân sách thị trấn Bến Sung", "budget")
    fuel = _sponsor(unit, "DNTN Xăng dầu Hải Tiến", "company")
    build = _sponsor(unit, "Công ty TNHH Vật liệu xây dựng Như Thanh", "company")
    _receipt(unit, "ns-1", amount=450_000_000, method="bank", sponsor_id=budget.id, phase_id=phase.id,
             received_on=date(2022, 1, 20), description="Ngân sách thị trấn năm 2022")
    _receipt(unit, "dn-1", amount=30_000_000, method="bank", sponsor_id=fuel.id, phase_id=phase.id,
             received_on=date(2022, 2, 8))
    pledge = _pledge(build, 50_000_000, date(2022, 12, 31), phase, "Ủng hộ mô hình camera", date(2022, 1, 25))
    _receipt(unit, "dn-2", amount=35_000_000, method="bank", pledge_id=pledge.id, received_on=date(2022, 3, 2))
    villages = list(db.session.execute(select(Village).where(Village.commune_id == unit.id).order_by(Village.name)).scalars())
    name = "Vận động hộ dân góp camera 2022"
    campaign = db.session.execute(select(ShareCampaign).where(ShareCampaign.commune_id == unit.id,
                                                              ShareCampaign.name == name)).scalar_one_or_none()
    if campaign is None:
        households = []
        for vi, village in enumerate(villages):
            for n in range(1, 29):  # 28 households per khu phố: 224 in all
                households.append({"household_ref": f"BS-{vi + 1}-{n:03d}", "village_id": village.id,
                                   "head_name": f"Hộ {'ông' if n % 2 else 'bà'} {SURNAMES[(vi + n) % 12]} {GIVEN[(n * 5 + vi) % 12]}"})
        households[0]["household_ref"] = "BS-LEVANDUC"  # the demo household user
        households[0]["head_name"] = "Hộ ông Lê Văn Đức"
        campaign = receipts.create_campaign(unit.id, CampaignIn(name=name, amount_per_household=500_000,
                                                                due_date=date(2022, 6, 30), phase_id=phase.id,
                                                                households=households))
    status = receipts.campaign_status(campaign.id)
    for share in status["arrears"] + status["pending"]:
        n = share["id"]
        if not share["household_ref"].endswith(("008", "016", "024")):  # three per khu phố have not paid
            _receipt(unit, f"hh-{share['household_ref']}", amount=500_000, method="cash", share_id=share["id"],
                     received_on=date(2022, 3, 1 + n % 28))
    _expense(unit, "e-1", kind="equipment", supplier="Công ty CP Công nghệ Thanh Hóa", invoice_no="0003117",
             amount=420_000_000, paid_from="bank", spent_on=date(2022, 3, 20), phase_id=phase.id,
             description="58 camera, 2 phòng kỹ thuật điều hành")
    _expense(unit, "e-2", kind="installation", supplier="Công ty CP Công nghệ Thanh Hóa", invoice_no="0003118",
             amount=95_000_000, paid_from="bank", spent_on=date(2022, 4, 2), phase_id=phase.id)
    _expense(unit, "e-3", kind="connectivity", supplier="VNPT Thanh Hóa", invoice_no="VNPT-22-5521",
             amount=36_000_000, paid_from="cash", spent_on=date(2022, 5, 1), phase_id=phase.id)
    return build


def _ho_xa(unit):
    p1 = _phase(unit, "Giai đoạn 1 (2019)", 420_000_000, 20, date(2019, 3, 1))
    p2 = _phase(unit, "Giai đoạn 2 (2021)", 700_000_000, 35, date(2021, 2, 1))
    b1 = _sponsor(unit, "Ngân sách thị trấn Hồ Xá — giai đoạn 1", "budget")
    b2 = _sponsor(unit, "Ngân sách thị trấn Hồ Xá — giai đoạn 2", "budget")
    district = _sponsor(unit, "Ngân sách huyện Vĩnh Linh hỗ trợ", "budget")
    biz = _sponsor(unit, "Doanh nghiệp, hộ kinh doanh thị trấn Hồ Xá", "organisation")
    _receipt(unit, "ns-1", amount=300_000_000, method="bank", sponsor_id=b1.id, phase_id=p1.id, received_on=date(2019, 3, 20))
    _receipt(unit, "xh-1", amount=120_000_000, method="bank", sponsor_id=biz.id, phase_id=p1.id, received_on=date(2019, 4, 5))
    _receipt(unit, "ns-2", amount=450_000_000, method="bank", sponsor_id=b2.id, phase_id=p2.id, received_on=date(2021, 2, 25))
    _receipt(unit, "ns-3", amount=150_000_000, method="bank", sponsor_id=district.id, phase_id=p2.id, received_on=date(2021, 3, 10))
    _receipt(unit, "xh-2", amount=95_000_000, method="bank", sponsor_id=biz.id, phase_id=p2.id, received_on=date(2021, 3, 28))
    for key, kind, supplier, inv, amount, day, phase in [
        ("e-1", "equipment", "Công ty TNHH Viễn thông Quảng Trị", "0000871", 310_000_000, date(2019, 5, 2), p1),
        ("e-2", "installation", "Công ty TNHH Viễn thông Quảng Trị", "0000872", 85_000_000, date(2019, 5, 15), p1),
        ("e-3", "equipment", "Công ty CP Điện tử Miền Trung", "0002240", 520_000_000, date(2021, 4, 12), p2),
        ("e-4", "installation", "Công ty CP Điện tử Miền Trung", "0002241", 140_000_000, date(2021, 4, 30), p2),
        ("e-5", "repair", "Cửa hàng điện tử Vĩnh Linh", "0000155", 12_000_000, date(2022, 9, 14), p2),
        ("e-6", "connectivity", "VNPT Quảng Trị", "VNPT-21-0093", 30_000_000, date(2021, 6, 1), p2)]:
        _expense(unit, key, kind=kind, supplier=supplier, invoice_no=inv, amount=amount, paid_from="bank",
                 spent_on=day, phase_id=phase.id)
    _allocate(unit, b1, 300_000_000, phase=p1)
    _allocate(unit, biz, 120_000_000, phase=p1)
    _allocate(unit, b2, 450_000_000, phase=p2)


def _nui_doi(unit):
    phase = _phase(unit, "Giai đoạn 1 (2023)", 400_000_000, 12, date(2023, 5, 10))
    budget = _sponsor(unit, "Ngân sách thị trấn Núi Đối", "budget")
    biz = _sponsor(unit, "Các doanh nghiệp trên địa bàn thị trấn", "organisation")
    _receipt(unit, "nd-ns-1", amount=250_000_000, method="bank", sponsor_id=budget.id, phase_id=phase.id,
             received_on=date(2023, 5, 20))
    _receipt(unit, "nd-xh-1", amount=110_000_000, method="bank", sponsor_id=biz.id, phase_id=phase.id,
             received_on=date(2023, 6, 2))
    for key, kind, supplier, inv, amount, day in [
            ("nd-e-1", "equipment", "Công ty CP Công nghệ An Hải", "0001932", 230_000_000, date(2023, 6, 15)),
            ("nd-e-2", "installation", "Công ty CP Công nghệ An Hải", "0001933", 55_000_000, date(2023, 6, 28)),
            ("nd-e-3", "repair", "Cửa hàng điện tử Kiến Thụy", "0000418", 6_500_000, date(2025, 8, 4))]:
        _expense(unit, key, kind=kind, supplier=supplier, invoice_no=inv, amount=amount, paid_from="bank",
                 spent_on=day, phase_id=phase.id)
    _allocate(unit, budget, 250_000_000, phase=phase)
    _nui_doi_upkeep(unit, phase)


UPKEEP = "Đóng góp duy trì camera 6 tháng"


def _nui_doi_upkeep(unit, phase):
    """A campaign that fell due three weeks before the demo was loaded: most households paid,
    some are overdue (the chairman's page has arrears to show)."""
    campaign = db.session.execute(select(ShareCampaign).where(ShareCampaign.commune_id == unit.id,
                                                              ShareCampaign.name == UPKEEP)).scalar_one_or_none()
    if campaign is not None:
        return
    today = utc_now().date()
    villages = list(db.session.execute(select(Village).where(Village.commune_id == unit.id).order_by(Village.name)).scalars())
    households = [{"household_ref": f"ND-{vi + 1}-{n:03d}", "village_id": village.id,
                   "head_name": f"Hộ {'ông' if n % 2 else 'bà'} {SURNAMES[(vi * 3 + n) % 12]} {GIVEN[(n * 7 + vi) % 12]}"}
                  for vi, village in enumerate(villages) for n in range(1, 21)]  # 20 per tổ dân phố
    campaign = receipts.create_campaign(unit.id, CampaignIn(name=UPKEEP, amount_per_household=60_000,
                                                            due_date=today - timedelta(days=21), phase_id=phase.id,
                                                            households=households))
    for share in receipts.campaign_status(campaign.id)["arrears"]:
        n = int(share["household_ref"].rsplit("-", 1)[1])
        if n % 6 == 0:
            continue  # 3 per tổ dân phố have not paid
        _receipt(unit, f"up-{share['household_ref']}", amount=60_000, method="cash", share_id=share["id"],
                 received_on=today - timedelta(days=25 + n))


def load() -> dict:
    with system_scope():
        units = {u.code: u for u in db.session.execute(select(AdminUnit).where(
            AdminUnit.code.in_(["NGUHIEP", "BENSUNG", "HOXA", "NUIDOI"]))).scalars()}
        if len(units) < 4:
            return {}
        viettel = _ngu_hiep(units["NGUHIEP"])
        _ben_sung(units["BENSUNG"])
        _ho_xa(units["HOXA"])
        _nui_doi(units["NUIDOI"])
        # The demo sponsor and household users see their own records.
        for username, attr, value in (("taitro.viettel", "sponsor_id", viettel.id),
                                      ("hogiadinh.bensung", "household_ref", "BS-LEVANDUC")):
            user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is not None and getattr(user, attr) != value:
                setattr(user, attr, value)
        db.session.commit()
        count = db.session.execute(select(func.count()).select_from(JournalTransaction).where(
            JournalTransaction.commune_id.in_([u.id for u in units.values()]))).scalar()
    return {"funding_transactions": count}
