"""Funding API: money in and out, bad input refused naming the field, idempotency, and who sees what."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from camnet.billing_socialization.models import JournalTransaction, Receipt
from camnet.extensions import db
from camnet.tenants.models import RoleGrant
from camnet.tenants.scope import system_scope

from .world import FOREIGN
from .world_billing import PDF_BYTES


def _counts():
    with system_scope():
        return (db.session.execute(select(func.count()).select_from(JournalTransaction)).scalar(),
                db.session.execute(select(func.count()).select_from(Receipt)).scalar())


def _sponsor(world, key="a", i=0):
    return world.extra["sponsor"][key][i]


def test_double_submit_records_once_and_returns_the_same_receipt(any_app, world, client_for):
    client = client_for("chairman_a")
    url = f"/api/v1/funding/communes/{world.id('a')}/receipts"
    body = {"idempotency_key": "double-submit-1", "amount": 5_000_000, "method": "bank",
            "sponsor_id": _sponsor(world, i=2).id}
    first = client.post(url, json=body)
    before = _counts()
    second = client.post(url, json=body)
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json() == second.get_json()
    assert _counts() == before
    changed = client.post(url, json={**body, "amount": 6_000_000})
    assert changed.status_code == 409 and changed.get_json()["field"] == "idempotency_key"


BAD_AMOUNTS = [0, -5_000, 1.5, 2.0, "100000", True, 10**14, None]


def test_bad_amounts_are_refused_naming_the_field_and_nothing_is_written(app, world, client_for):
    client = client_for("chairman_a")
    a = world.id("a")
    before = _counts()
    for amount in BAD_AMOUNTS:
        _refused_everywhere(client, world, a, amount)
    assert _counts() == before


def _refused_everywhere(client, world, a, amount):
    r = client.post(f"/api/v1/funding/communes/{a}/receipts",
                    json={"idempotency_key": "bad-amount-1", "amount": amount, "method": "cash",
                          "sponsor_id": _sponsor(world).id})
    e = client.post(f"/api/v1/funding/communes/{a}/expenses",
                    json={"kind": "repair", "supplier": "X", "invoice_no": "1", "amount": amount})
    p = client.post(f"/api/v1/funding/sponsors/{_sponsor(world).id}/pledges",
                    json={"amount": amount, "due_date": "2030-01-01"})
    for resp in (r, e, p):
        assert resp.status_code == 422 and resp.get_json()["field"] == "amount", (amount, resp.get_json())


def test_other_bad_input_names_the_field(app, world, client_for):
    client = client_for("chairman_a")
    a = world.id("a")
    url = f"/api/v1/funding/communes/{a}/receipts"
    base = {"idempotency_key": "bad-input-1", "amount": 1000, "method": "cash"}
    far = (date.today() + timedelta(days=400)).isoformat()
    cases = [
        ({**base, "sponsor_id": 987654}, "sponsor_id"),
        ({**base, "sponsor_id": _sponsor(world, "b").id}, "sponsor_id"),  # another commune's sponsor: unknown here
        ({**base, "sponsor_id": _sponsor(world).id, "received_on": far}, "received_on"),
        ({**base, "pledge_id": 987654}, "pledge_id"),
        ({**base, "sponsor_id": _sponsor(world).id, "phase_id": 987654}, "phase_id"),
        ({**base, "sponsor_id": _sponsor(world).id, "method": "bitcoin"}, "method"),
    ]
    before = _counts()
    for body, field in cases:
        resp = client.post(url, json=body)
        assert resp.status_code == 422 and resp.get_json()["field"] == field, (body, resp.get_json())
    resp = client.post(f"/api/v1/funding/sponsors/{_sponsor(world).id}/pledges",
                       json={"amount": 1000, "due_date": (date.today() + timedelta(days=5000)).isoformat()})
    assert resp.status_code == 422 and resp.get_json()["field"] == "due_date"
    assert _counts() == before


def test_receipt_over_a_closed_pledge_is_refused(any_app, world, client_for):
    client = client_for("chairman_a")
    a = world.id("a")
    pledge = world.extra["pledge"]["a"][0]  # 100M pledged, 40M paid
    url = f"/api/v1/funding/communes/{a}/receipts"
    over = client.post(url, json={"idempotency_key": "pledge-over-1", "amount": 60_000_001, "method": "bank",
                                  "pledge_id": pledge.id})
    assert over.status_code == 422 and over.get_json()["field"] == "amount"
    ok = client.post(url, json={"idempotency_key": "pledge-rest-1", "amount": 60_000_000, "method": "bank",
                                "pledge_id": pledge.id})
    assert ok.status_code == 201
    assert client.get(f"/api/v1/funding/pledges/{pledge.id}").get_json()["status"] == "paid"
    before = _counts()
    closed = client.post(url, json={"idempotency_key": "pledge-after-1", "amount": 1_000, "method": "cash",
                                    "pledge_id": pledge.id})
    assert closed.status_code == 422 and closed.get_json()["field"] == "pledge_id"
    assert _counts() == before
    # a cancelled pledge is closed too; cancelling reverses only what was never paid
    sponsor = _sponsor(world, i=2)
    p2 = client.post(f"/api/v1/funding/sponsors/{sponsor.id}/pledges",
                     json={"amount": 9_000_000, "due_date": "2030-01-01"}).get_json()
    client.post(url, json={"idempotency_key": "pledge-part-2", "amount": 4_000_000, "method": "cash", "pledge_id": p2["id"]})
    assert client.post(f"/api/v1/funding/pledges/{p2['id']}/cancel", json={"reason": "rút lại"}).get_json()["status"] == "cancelled"
    again = client.post(url, json={"idempotency_key": "pledge-part-3", "amount": 1_000, "method": "cash", "pledge_id": p2["id"]})
    assert again.status_code == 422 and again.get_json()["field"] == "pledge_id"
    report = client.get(f"/api/v1/funding/sponsors/{sponsor.id}/report").get_json()
    assert report["pledged"] == 4_000_000 and report["paid"] == 4_000_000 and report["outstanding"] == 0


def test_in_kind_receipt_needs_a_valuation_and_description(app, world, client_for):
    client = client_for("chairman_a")
    url = f"/api/v1/funding/communes/{world.id('a')}/receipts"
    body = {"idempotency_key": "in-kind-1", "amount": 45_000_000, "method": "in_kind", "sponsor_id": _sponsor(world).id}
    assert client.post(url, json=body).status_code == 422
    resp = client.post(url, json={**body, "in_kind_type": "equipment", "description": "6 camera IP và 1 đầu ghi"})
    assert resp.status_code == 201 and resp.get_json()["method"] == "in_kind"
    report = client.get(f"/api/v1/funding/communes/{world.id('a')}/report").get_json()
    assert report["spending_by_kind"]["equipment"] == 12_000_000 + 45_000_000


def test_share_campaign_lists_who_paid_and_who_is_in_arrears(app, world, client_for):
    client = client_for("chairman_a")
    campaign = world.extra["campaign"]["a"][0]
    status = client.get(f"/api/v1/funding/campaigns/{campaign.id}").get_json()
    assert [s["household_ref"] for s in status["paid"]] == ["HH-a-1"]
    assert [s["household_ref"] for s in status["arrears"]] == ["HH-a-2"]
    share = status["arrears"][0]
    resp = client.post(f"/api/v1/funding/communes/{world.id('a')}/receipts",
                       json={"idempotency_key": "share-pay-2", "amount": 500_000, "method": "cash", "share_id": share["id"]})
    assert resp.status_code == 201
    status = client.get(f"/api/v1/funding/campaigns/{campaign.id}").get_json()
    assert len(status["paid"]) == 2 and not status["arrears"]
    again = client.post(f"/api/v1/funding/communes/{world.id('a')}/receipts",
                        json={"idempotency_key": "share-pay-3", "amount": 1, "method": "cash", "share_id": share["id"]})
    assert again.status_code == 422 and again.get_json()["field"] == "share_id"
    report = client.get(f"/api/v1/funding/communes/{world.id('a')}/report").get_json()
    village = report["by_village"][0]
    assert (village["households"], village["paid"], village["arrears"], village["collected"]) == (2, 2, 0, 1_000_000)


def test_expense_invoice_goes_to_s3_and_back(make_app, live_services):
    from .world import build_world

    app = make_app("sqlite", {"S3_ENDPOINT": live_services["CAMNET_TEST_S3"], "S3_BUCKET": "funding-invoices"})
    with app.app_context():
        world = build_world(app)
        client = app.test_client()
        client.post("/login", data={"username": "chairman_a", "password": world.password})
        expense = world.extra["expense"]["a"][0]
        got = client.get(f"/api/v1/funding/expenses/{expense.id}/attachment")
        assert got.status_code == 200 and got.data == PDF_BYTES
        import io

        made = client.post(f"/api/v1/funding/communes/{world.id('a')}/expenses",
                           json={"kind": "connectivity", "supplier": "VNPT", "invoice_no": "VN-9", "amount": 1_200_000})
        assert made.status_code == 201
        eid = made.get_json()["id"]
        bad = client.post(f"/api/v1/funding/expenses/{eid}/attachment",
                          data={"file": (io.BytesIO(b"MZ..."), "virus.exe", "application/x-msdownload")})
        assert bad.status_code == 422 and bad.get_json()["field"] == "file"
        up = client.post(f"/api/v1/funding/expenses/{eid}/attachment",
                         data={"file": (io.BytesIO(b"\x89PNG fake scan"), "hoá đơn.png", "image/png")})
        assert up.status_code == 201
        assert client.get(f"/api/v1/funding/expenses/{eid}/attachment").data == b"\x89PNG fake scan"
        key = db.session.execute(select(__import__("camnet.billing_socialization.models", fromlist=["Expense"]).Expense.attachment_key)
                                 .execution_options(skip_scope=True)).scalars().all()
        assert any(k and k.startswith(f"{world.id('a')}/funding/expenses/{eid}/") for k in key)


def test_expense_cannot_spend_money_that_is_not_there(app, world, client_for):
    client = client_for("chairman_a")
    resp = client.post(f"/api/v1/funding/communes/{world.id('a')}/expenses",
                       json={"kind": "other", "supplier": "X", "invoice_no": "1", "amount": 1_000_000,
                             "paid_from": "cash"})  # only 500.000 đ of household cash
    assert resp.status_code == 422 and resp.get_json()["field"] == "amount"


def test_allocation_tells_each_camera_who_paid_for_it(app, world, client_for):
    client = client_for("chairman_a")
    a = world.id("a")
    camera = world.extra["camera"]["a"][0]
    funding = client.get(f"/api/v1/funding/cameras/{camera.id}").get_json()
    assert funding["funded_by"][0]["sponsor"] == _sponsor(world).name and funding["total"] == 20_000_000
    too_much = client.post(f"/api/v1/funding/communes/{a}/allocations",
                           json={"sponsor_id": _sponsor(world).id, "amount": 20_000_001, "camera_id": camera.id})
    assert too_much.status_code == 422 and too_much.get_json()["field"] == "amount"
    both = client.post(f"/api/v1/funding/communes/{a}/allocations",
                       json={"sponsor_id": _sponsor(world).id, "amount": 1, "camera_id": camera.id, "phase_id": 1})
    assert both.status_code == 422


def test_sponsors_see_only_their_own_records(any_app, world, client_for):
    mine, other = _sponsor(world), _sponsor(world, i=1)
    client = client_for("sponsor_a")
    assert client.get(f"/api/v1/funding/sponsors/{mine.id}/report").status_code == 200
    missing = client.get("/api/v1/funding/sponsors/987654/report")
    for theirs in (other, _sponsor(world, "b")):  # same commune not theirs, and another commune's
        for suffix in ("", ".csv", ".pdf"):
            refused = client.get(f"/api/v1/funding/sponsors/{theirs.id}/report{suffix}")
            assert refused.status_code == 404
            assert theirs.name.encode() not in refused.data
        assert client.get(f"/api/v1/funding/sponsors/{theirs.id}/report").get_json() == missing.get_json()
        assert client.get(f"/funding/sponsors/{theirs.id}").status_code == 404
    assert client.get(f"/api/v1/funding/communes/{world.id('a')}/report").status_code == 403
    own_receipt = world.extra["receipt"]["a"][0]
    assert client.get(f"/api/v1/funding/receipts/{own_receipt.id}").status_code == 200
    assert client.get(f"/api/v1/funding/receipts/{world.extra['receipt']['a'][1].id}").status_code == 404
    assert client_for("sponsor_b").get(f"/api/v1/funding/sponsors/{mine.id}/report.pdf").status_code == 404


def test_households_see_only_their_own_shares(app, world, client_for):
    client = client_for("household_a")
    shares = client.get("/api/v1/funding/my-shares").get_json()
    assert len(shares) == 1 and shares[0]["state"] == "paid" and shares[0]["receipts"]
    assert client.get(f"/api/v1/funding/receipts/{shares[0]['receipts'][0]['id']}").status_code == 200
    assert client.get(f"/api/v1/funding/receipts/{world.extra['receipt']['a'][0].id}").status_code == 404
    assert client.get(f"/api/v1/funding/campaigns/{world.extra['campaign']['a'][0].id}").status_code == 403
    b_share = client_for("household_b").get("/api/v1/funding/my-shares").get_json()
    assert [s["share_id"] for s in b_share] != [s["share_id"] for s in shares]


def test_operators_see_no_money_without_a_finance_grant(app, world, client_for):
    a = world.id("a")
    assert client_for("operator_a").get(f"/api/v1/funding/communes/{a}/report").status_code == 403
    assert client_for("technician_a").get(f"/api/v1/funding/communes/{a}/receipts").status_code == 403
    with system_scope():
        db.session.add(RoleGrant(user_id=world.users["operator_a"].id, role="finance", unit_id=a))
        db.session.commit()
    finance = client_for("operator_a")
    assert finance.get(f"/api/v1/funding/communes/{a}/report").status_code == 200
    assert finance.post(f"/api/v1/funding/communes/{a}/receipts",
                        json={"idempotency_key": "op-write-1", "amount": 1, "method": "cash",
                              "sponsor_id": _sponsor(world).id}).status_code == 403


def test_district_police_read_their_subtree_only(app, world, client_for):
    police = client_for("police_dist")
    for key in ("a", "b"):
        assert police.get(f"/api/v1/funding/communes/{world.id(key)}/report").status_code == 200
    assert police.get(f"/api/v1/funding/communes/{world.id('c')}/report").status_code == 404
    assert police.post(f"/api/v1/funding/communes/{world.id('a')}/sponsors",
                       json={"name": "Công an tự tạo", "kind": "company"}).status_code == 403
    assert client_for("police_dist2").get(f"/api/v1/funding/sponsors/{_sponsor(world).id}").status_code == 404


def test_a_household_sees_what_its_share_pays_for_and_nothing_of_its_neighbours(any_app, world, client_for):
    """Like a sponsor: the campaign's cameras with their state and uptime, how the campaign is
    collecting (counts only) and the cases those cameras helped with; no other household's name."""
    client = client_for("household_a")
    share = client.get("/api/v1/funding/my-shares").get_json()[0]
    assert share["progress"] == {"households": 2, "paid_in_full": 1}
    assert share["phase"] == "Giai đoạn 1 a"
    assert [c["code"] for c in share["cameras"]] == ["TT-A1"] and share["cameras"][0]["status"] == "active"
    assert isinstance(share["incidents"], list)
    text = client.get("/api/v1/funding/my-shares").get_data(as_text=True)
    page = client.get("/funding/my-shares").get_data(as_text=True)
    for body in (text, page):
        assert "Trần Thị" not in body and "HH-a-2" not in body and FOREIGN not in body
    assert "TT-A1" in page and "1/2" in page and "Đóng góp dùng cho" in page
    en = client.get("/funding/my-shares?lang=en").get_data(as_text=True)
    assert "What the shares pay for" in en
