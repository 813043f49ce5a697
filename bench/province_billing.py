"""Funding for bench/province.py, per commune through the services: a phase, a company sponsor
with a pledge paid in three bank transfers and allocated to the phase and to four cameras, and
the commune budget with one transfer allocated to the phase (so each sponsor report has
receipts, allocations and some thirty funded cameras, as a real one would); then the rest of the
1,000,000 postings appended to each commune's hash chain with COPY."""
from __future__ import annotations

import hashlib
import time
from datetime import date, timedelta


def load(conn, commune_ids, *, postings: int, app_url: str, **_) -> dict:
    from camnet import create_app
    from camnet.billing_socialization import funders, ledger, receipts, spending
    from camnet.billing_socialization.schemas import AllocationIn, PhaseIn, PledgeIn, ReceiptIn, SponsorIn
    from camnet.extensions import db
    from camnet.tenants.scope import system_scope

    app = create_app({"SQLALCHEMY_DATABASE_URI": app_url, "INSTANCE_DIR": "/tmp/camnet-province",
                      "REDIS_URL": None, "S3_ENDPOINT": None})
    start = time.perf_counter()
    plan = {}
    with app.app_context(), system_scope():
        for commune in commune_ids:
            phase = funders.create_phase(commune, PhaseIn(name="Giai đoạn 1", target=2_000_000_000, cameras_planned=100))
            company = funders.create_sponsor(commune, SponsorIn(name=f"Doanh nghiệp tài trợ {commune}", kind="company"))
            budget = funders.create_sponsor(commune, SponsorIn(name="Ngân sách xã", kind="budget"))
            pledge = funders.create_pledge(company.id, PledgeIn(amount=900_000_000, phase_id=phase.id,
                                                                due_date=date.today() + timedelta(days=90)))
            for k in range(3):
                receipts.record_receipt(commune, ReceiptIn(
                    idempotency_key=f"bench-{commune}-{k}", amount=200_000_000, method="bank", pledge_id=pledge.id,
                    received_on=date.today() - timedelta(days=90 - 30 * k), description=f"Chuyển khoản đợt {k + 1}"))
            receipts.record_receipt(commune, ReceiptIn(
                idempotency_key=f"bench-{commune}-budget", amount=500_000_000, method="bank", sponsor_id=budget.id,
                phase_id=phase.id, received_on=date.today() - timedelta(days=60), description="Ngân sách cấp"))
            spending.allocate(commune, AllocationIn(sponsor_id=company.id, amount=300_000_000, phase_id=phase.id))
            spending.allocate(commune, AllocationIn(sponsor_id=budget.id, amount=400_000_000, phase_id=phase.id))
            for (camera_id,) in conn.execute("SELECT id FROM cameras WHERE commune_id = %s ORDER BY id DESC LIMIT 4",
                                             (commune,)):
                spending.allocate(commune, AllocationIn(sponsor_id=company.id, amount=25_000_000, camera_id=camera_id,
                                                        note="Camera nút giao"))
            accounts = ledger.sponsor_accounts(company)
            bank, repair = ledger.account(commune, "1121"), ledger.account(commune, "642.repair")
            db.session.commit()
            seq, prev = ledger.head(commune)
            plan[commune] = (phase.id, company.id, accounts["fund"], bank, repair, seq, prev)
        db.session.commit()
    print(f"{'funding set-up (services)':<28} {len(commune_ids):>12,} communes in {time.perf_counter() - start:7.1f} s",
          flush=True)
    per_commune = max(1, postings // 2 // len(commune_ids))
    start = time.perf_counter()
    tx_id = conn.execute("SELECT coalesce(max(id), 0) FROM journal_transactions").fetchone()[0]
    post_id = conn.execute("SELECT coalesce(max(id), 0) FROM postings").fetchone()[0]
    tx_rows, post_rows = [], []
    for commune, (phase_id, sponsor_id, fund, bank, repair, seq, prev) in plan.items():
        for i in range(per_commune):
            seq += 1
            tx_id += 1
            if i % 10 == 9:
                lines, kind, memo, ref = [(repair, 90_000), (bank, -90_000)], "expense", f"Chi sửa chữa {i}", (None, None)
            else:
                amount = 100_000 + (i % 50) * 10_000
                lines, kind, memo, ref = [(bank, amount), (fund, -amount)], "receipt", f"Thu {i}", ("sponsor", sponsor_id)
            day = date(2025, 1, 1) + timedelta(days=i % 600)
            digest = hashlib.sha256(ledger.canonical(commune, seq, kind, day, memo, phase_id, ref[0], ref[1], None,
                                                     [(a.code, n) for a, n in lines], prev)).hexdigest()
            tx_rows.append((tx_id, commune, seq, kind, day, memo, phase_id, ref[0], ref[1], prev, digest,
                            "2025-01-01 00:00:00+00"))
            prev = digest
            for line, (acct, amount) in enumerate(lines, start=1):
                post_id += 1
                post_rows.append((post_id, tx_id, commune, acct.id, line, amount))
    with conn.cursor() as cur:
        with cur.copy("COPY journal_transactions (id, commune_id, seq, kind, occurred_on, memo, phase_id, ref_type, "
                      "ref_id, prev_hash, hash, created_at) FROM STDIN") as cp:
            for row in tx_rows:
                cp.write_row(row)
        with cur.copy("COPY postings (id, transaction_id, commune_id, account_id, line, amount) FROM STDIN") as cp:
            for row in post_rows:
                cp.write_row(row)
        cur.execute("SELECT setval(pg_get_serial_sequence('journal_transactions', 'id'), %s)", (tx_id,))
        cur.execute("SELECT setval(pg_get_serial_sequence('postings', 'id'), %s)", (post_id,))
        cur.execute("DELETE FROM ledger_balances")
        cur.execute("INSERT INTO ledger_balances (account_id, phase_key, commune_id, amount) "
                    "SELECT p.account_id, coalesce(t.phase_id, 0), p.commune_id, sum(p.amount) FROM postings p "
                    "JOIN journal_transactions t ON t.id = p.transaction_id "
                    "GROUP BY p.account_id, coalesce(t.phase_id, 0), p.commune_id")
    secs = time.perf_counter() - start
    print(f"{'postings (chain + COPY)':<28} {len(post_rows):>12,} rows in {secs:7.1f} s  "
          f"({len(post_rows) / secs:,.0f} rows/s)", flush=True)
    return {"postings": len(post_rows)}
