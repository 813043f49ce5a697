"""The chairman's funding page records pledges, allocations and household share campaigns through
its forms: what is typed reaches the ledger, bad input names the field or line and writes nothing,
and nobody can record into another commune."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from camnet.billing_socialization import ledger
from camnet.billing_socialization.models import Allocation, HouseholdShare, JournalTransaction, Pledge, ShareCampaign
from camnet.extensions import db
from camnet.tenants.scope import system_scope

from .world import FOREIGN


def _counts():
    with system_scope():
        return tuple(db.session.execute(select(func.count()).select_from(m)).scalar()
                     for m in (Pledge, Allocation, ShareCampaign, HouseholdShare, JournalTransaction))


def test_chairman_records_a_pledge_and_allocates_it_to_a_camera(any_app, world, client_for):
    a = world.id("a")
    client = client_for("chairman_a")
    other = world.extra["sponsor"]["a"][2]  # "Hộ kinh doanh Khác a": no pledge yet
    due = (date.today() + timedelta(days=60)).isoformat()
    page = client.get(f"/funding/communes/{a}").get_data(as_text=True)
    assert "Ghi cam kết tài trợ" in page and "Phân bổ kinh phí" in page and "Mở đợt vận động hộ dân" in page
    resp = client.post(f"/funding/communes/{a}", data={"action": "pledge", "sponsor_id": str(other.id),
                                                       "amount": "30.000.000", "due_date": due, "note": "Cam kết mới"},
                       follow_redirects=True)
    assert resp.status_code == 200 and "Đã ghi cam kết tài trợ của Hộ kinh doanh Khác a" in resp.get_data(as_text=True)
    with system_scope():
        pledge = db.session.execute(select(Pledge).where(Pledge.sponsor_id == other.id)).scalar_one()
        assert pledge.amount == 30_000_000 and pledge.due_date.isoformat() == due
    # money received against it, then allocated to the commune's camera through the form
    receipt = {"action": "receipt", "idempotency_key": "form-pledge-pay-1", "pledge_id": str(pledge.id),
               "amount": "10.000.000", "method": "bank"}
    assert client.post(f"/funding/communes/{a}", data=receipt).status_code == 302
    camera = world.extra["camera"]["a"][0]
    resp = client.post(f"/funding/communes/{a}", data={"action": "allocation", "sponsor_id": str(other.id),
                                                       "amount": "4.000.000", "camera_id": str(camera.id)},
                       follow_redirects=True)
    assert "Đã phân bổ kinh phí của Hộ kinh doanh Khác a" in resp.get_data(as_text=True)
    report = client.get(f"/api/v1/funding/sponsors/{other.id}/report").get_json()
    assert report["pledged"] == 30_000_000 and report["paid"] == 10_000_000 and report["allocated"] == 4_000_000
    assert [c["code"] for c in report["cameras"]] == [camera.code]
    # more than was paid cannot be allocated; the error names the field and nothing is written
    before = _counts()
    resp = client.post(f"/funding/communes/{a}", data={"action": "allocation", "sponsor_id": str(other.id),
                                                       "amount": "7.000.000", "camera_id": str(camera.id)},
                       follow_redirects=True)
    assert "amount" in resp.get_data(as_text=True) and _counts() == before
    with system_scope():
        assert ledger.verify(a)["ok"]


def test_chairman_opens_a_household_campaign_from_typed_lines(any_app, world, client_for):
    a = world.id("a")
    client = client_for("chairman_a")
    due = (date.today() + timedelta(days=30)).isoformat()
    lines = "BS-101; Nguyễn Thị Hoà; Thôn Một\n\nBS-102 ; Đặng Văn Đức ; thôn một\n"
    resp = client.post(f"/funding/communes/{a}", data={"action": "campaign", "name": "Đợt 2 — camera ngõ xóm",
                                                       "amount_per_household": "200.000", "due_date": due,
                                                       "households": lines}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Đã mở đợt vận động Đợt 2 — camera ngõ xóm" in page
    assert "Nguyễn Thị Hoà" in page and "Đặng Văn Đức" in page
    with system_scope():
        shares = db.session.execute(select(HouseholdShare).join(ShareCampaign).where(
            ShareCampaign.name == "Đợt 2 — camera ngõ xóm").order_by(HouseholdShare.household_ref)).scalars().all()
        assert [(s.household_ref, s.head_name, s.amount_due) for s in shares] == [
            ("BS-101", "Nguyễn Thị Hoà", 200_000), ("BS-102", "Đặng Văn Đức", 200_000)]
    before = _counts()
    for households, named in (("BS-201; Lê Văn Ba; Thôn Một\nBS-202; Lê Văn Tư; Thôn Không Có", "households line 2"),
                              ("BS-301 Lê Văn Năm Thôn Một", "households line 1"),
                              (f"BS-401; Lê Văn Sáu; Thôn {FOREIGN} b", "households line 1"), ("\n \n", "households")):
        resp = client.post(f"/funding/communes/{a}", data={"action": "campaign", "name": "Sai", "due_date": due,
                                                           "amount_per_household": "200.000", "households": households},
                           follow_redirects=True)
        assert named in resp.get_data(as_text=True), households
    assert _counts() == before


def test_funding_forms_cannot_reach_another_commune(any_app, world, client_for):
    a, b = world.id("a"), world.id("b")
    due = (date.today() + timedelta(days=30)).isoformat()
    foreign_sponsor = world.extra["sponsor"]["b"][2]
    before = _counts()
    chairman = client_for("chairman_a")
    # another commune's page: it does not exist for this chairman
    assert chairman.post(f"/funding/communes/{b}", data={"action": "pledge", "sponsor_id": str(foreign_sponsor.id),
                                                         "amount": "1.000.000", "due_date": due}).status_code == 404
    # another commune's sponsor smuggled into the own page's form
    resp = chairman.post(f"/funding/communes/{a}", data={"action": "pledge", "sponsor_id": str(foreign_sponsor.id),
                                                         "amount": "1.000.000", "due_date": due}, follow_redirects=True)
    assert "sponsor_id" in resp.get_data(as_text=True) and FOREIGN not in resp.get_data(as_text=True).split("<main")[1]
    resp = chairman.post(f"/funding/communes/{a}", data={"action": "allocation", "sponsor_id": str(foreign_sponsor.id),
                                                         "amount": "1.000", "phase_id": "1"}, follow_redirects=True)
    assert "sponsor_id" in resp.get_data(as_text=True)
    # roles without funding.manage
    for user in ("operator_a", "sponsor_a", "police_dist"):
        status = client_for(user).post(f"/funding/communes/{a}", data={
            "action": "pledge", "sponsor_id": str(world.extra["sponsor"]["a"][2].id), "amount": "1.000.000",
            "due_date": due}).status_code
        assert status in (403, 404), user
    assert _counts() == before
