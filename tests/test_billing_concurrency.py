"""Many writers at once on one commune's ledger (real PostgreSQL): the chain stays linear and complete."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from camnet.billing_socialization import ledger, receipts, spending
from camnet.billing_socialization.models import Expense, JournalTransaction, Receipt
from camnet.billing_socialization.schemas import ExpenseIn, ReceiptIn
from camnet.extensions import db
from camnet.tenants.scope import system_scope

THREADS, EACH = 8, 12


def test_concurrent_receipts_and_expenses_keep_one_linear_chain(pg_app, world):
    a = world.id("a")
    sponsor_id = world.extra["sponsor"]["a"][2].id
    with system_scope():
        start = ledger.head(a)[0]
        bank_before = spending.money_balance(a, "1121")
        db.session.rollback()
    errors: list = []
    barrier = threading.Barrier(THREADS)

    def writer(n: int):
        try:
            with pg_app.app_context(), system_scope():  # each thread: its own context and session
                barrier.wait()
                for i in range(EACH):
                    receipts.record_receipt(a, ReceiptIn(idempotency_key=f"conc-{n}-{i}", amount=1_000_000 + n,
                                                         method="bank", sponsor_id=sponsor_id))
                    if i % 3 == 0:
                        spending.record_expense(a, ExpenseIn(kind="repair", supplier=f"Thợ {n}",
                                                             invoice_no=f"C-{n}-{i}", amount=100_000))
                    # a double submit from the same thread records nothing new
                    receipts.record_receipt(a, ReceiptIn(idempotency_key=f"conc-{n}-{i}", amount=1_000_000 + n,
                                                         method="bank", sponsor_id=sponsor_id))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    expenses_each = len(range(0, EACH, 3))
    with system_scope():
        n_receipts = db.session.execute(select(func.count()).select_from(Receipt).where(
            Receipt.commune_id == a, Receipt.idempotency_key.like("conc-%"))).scalar()
        total = db.session.execute(select(func.sum(Receipt.amount)).where(
            Receipt.commune_id == a, Receipt.idempotency_key.like("conc-%"))).scalar()
        n_expenses = db.session.execute(select(func.count()).select_from(Expense).where(
            Expense.commune_id == a, Expense.invoice_no.like("C-%"))).scalar()
        seqs = db.session.execute(select(JournalTransaction.seq).where(JournalTransaction.commune_id == a)
                                  .order_by(JournalTransaction.seq)).scalars().all()
        result = ledger.verify(a)
        bank_after = spending.money_balance(a, "1121")
        assert ledger.check_balances(a) == []
    assert n_receipts == THREADS * EACH
    assert total == sum((1_000_000 + n) * EACH for n in range(THREADS))
    assert n_expenses == THREADS * expenses_each
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == start + n_receipts + n_expenses
    assert result["ok"], result["first_broken"]
    assert bank_after == bank_before + total - n_expenses * 100_000
