"""The demo funding matches the seeds and loads twice without doubling anything."""
from __future__ import annotations

from sqlalchemy import select

from camnet.billing_socialization import demo, ledger, reports
from camnet.billing_socialization.models import Sponsor
from camnet.extensions import db
from camnet.tenants import demo as tenants_demo
from camnet.tenants.models import AdminUnit
from camnet.tenants.scope import system_scope


def test_demo_funding_is_plausible_and_idempotent(app):
    tenants_demo.load_demo()
    first = demo.load()
    again = demo.load()
    assert first == again and first["funding_transactions"] > 200
    with system_scope():
        units = {u.code: u.id for u in db.session.execute(select(AdminUnit).where(AdminUnit.is_commune.is_(True))).scalars()}
        viettel = db.session.execute(select(Sponsor).where(Sponsor.name.like("Viettel Construction%"))).scalar_one()
        s = reports.sponsor_summary(viettel.id)
        assert s["pledged"] == s["paid"] == 600_000_000
        ben_sung = reports.chairman_summary(units["BENSUNG"])
        households = sum(v["households"] for v in ben_sung["by_village"])
        paid = sum(v["paid"] for v in ben_sung["by_village"])
        assert households == 224 and 200 <= paid < households
        ho_xa = reports.chairman_summary(units["HOXA"])
        assert [p["name"] for p in ho_xa["by_phase"]] == ["Giai đoạn 1 (2019)", "Giai đoạn 2 (2021)"]
        assert ho_xa["budget"] == 900_000_000 and ho_xa["balance"] >= 0
        for code in ("NGUHIEP", "BENSUNG", "HOXA"):
            assert ledger.verify(units[code])["ok"]
