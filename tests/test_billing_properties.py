"""Property: any sequence of accepted funding operations keeps every transaction balanced and the chain valid."""
from __future__ import annotations

import itertools

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from camnet.billing_socialization import funders, ledger, receipts, spending
from camnet.billing_socialization.models import JournalTransaction
from camnet.billing_socialization.schemas import AllocationIn, ExpenseIn, PhaseIn, PledgeIn, ReceiptIn, SponsorIn
from camnet.errors import DomainError
from camnet.extensions import db
from camnet.tenants.models import AdminUnit
from camnet.tenants.scope import system_scope

amounts = st.integers(min_value=1, max_value=5_000_000_000)
ops = st.lists(st.one_of(
    st.tuples(st.just("receipt"), amounts, st.sampled_from(["cash", "bank", "in_kind"])),
    st.tuples(st.just("pledge"), amounts, st.just(None)),
    st.tuples(st.just("pay_pledge"), amounts, st.sampled_from(["cash", "bank"])),
    st.tuples(st.just("cancel_pledge"), st.just(0), st.just(None)),
    st.tuples(st.just("expense"), amounts, st.sampled_from(["cash", "bank"])),
    st.tuples(st.just("allocate"), amounts, st.just(None)),
    st.tuples(st.just("reverse"), st.integers(0, 5), st.just(None)),
), min_size=1, max_size=12)
_n = itertools.count()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
@example([("receipt", 1, "cash"), ("allocate", 1, None), ("reverse", 0, None)])  # once let through
@example([("receipt", 5, "cash"), ("expense", 5, "cash"), ("reverse", 0, None)])
def test_accepted_operations_keep_the_ledger_balanced_and_chained(app, world, sequence):
    with system_scope():
        dist = db.session.execute(select(AdminUnit).where(AdminUnit.code == "DIST")).scalar_one()
        k = next(_n)
        unit = AdminUnit(code=f"PROP{k}", name=f"Xã thuộc tính {k}", level="xã", parent_id=dist.id,
                         is_commune=True, path="/")
        db.session.add(unit)
        db.session.flush()
        unit.path = f"{dist.path}{unit.id}/"
        db.session.commit()
        c = unit.id
        sponsor = funders.create_sponsor(c, SponsorIn(name="Nhà tài trợ", kind="company"))
        phase = funders.create_phase(c, PhaseIn(name="GĐ1", target=1_000_000))
        pledges, receipts_made = [], []
        for i, (op, amount, method) in enumerate(sequence):
            try:
                if op == "receipt":
                    extra = {"in_kind_type": "equipment", "description": "thiết bị"} if method == "in_kind" else {}
                    r, _ = receipts.record_receipt(c, ReceiptIn(idempotency_key=f"prop-{i}-key", amount=amount,
                                                                method=method, sponsor_id=sponsor.id, **extra))
                    receipts_made.append(r.id)
                elif op == "pledge":
                    pledges.append(funders.create_pledge(sponsor.id, PledgeIn(amount=amount, due_date="2030-01-01",
                                                                              phase_id=phase.id)).id)
                elif op == "pay_pledge" and pledges:
                    r, _ = receipts.record_receipt(c, ReceiptIn(idempotency_key=f"prop-{i}-key", amount=amount,
                                                                method=method, pledge_id=pledges[-1]))
                    receipts_made.append(r.id)
                elif op == "cancel_pledge" and pledges:
                    funders.cancel_pledge(pledges[-1], "thử")
                elif op == "expense":
                    spending.record_expense(c, ExpenseIn(kind="repair", supplier="Thợ", invoice_no=str(i),
                                                         amount=amount, paid_from=method))
                elif op == "allocate":
                    spending.allocate(c, AllocationIn(sponsor_id=sponsor.id, amount=amount, phase_id=phase.id))
                elif op == "reverse" and receipts_made:
                    receipts.reverse_receipt(receipts_made[amount % len(receipts_made)], "thử")
            except DomainError:
                db.session.rollback()  # refused: nothing may have been written
        txs = db.session.execute(select(JournalTransaction).where(JournalTransaction.commune_id == c)).scalars().all()
        for tx in txs:
            assert len(tx.postings) >= 2 and sum(p.amount for p in tx.postings) == 0
        result = ledger.verify(c)
        assert result["ok"], result["first_broken"]
        assert result["transactions"] == len(txs)
        assert ledger.check_balances(c) == []
        position = spending.sponsor_position(sponsor)
        assert position["unallocated"] >= 0 and position["outstanding"] >= 0
        for code in ("1111", "1121"):
            assert spending.money_balance(c, code) >= 0
        db.session.rollback()
