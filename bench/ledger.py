"""Benchmark of the funding ledger on PostgreSQL: bulk-load one commune with N postings (COPY, chain
computed in Python), then measure postings/s through the service, sponsor and chairman report times
(median, p99) and chain verification speed next to bare SHA-256 over the same bytes.

    PYTHONSAFEPATH=1 .venv/bin/python bench/ledger.py --postings 1000000
    (PostgreSQL superuser URL from --pg or CAMNET_TEST_PG_URL; the app connects as role ``camnet``)
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg

GOAL_REPORT_MS = 200.0
GOAL_VERIFY_RATIO = 0.5


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postings", type=int, default=1_000_000, help="postings to bulk-load (default 1,000,000)")
    ap.add_argument("--service", type=int, default=3000, help="receipts posted through the service")
    ap.add_argument("--reports", type=int, default=60, help="runs of each report")
    ap.add_argument("--pg", default=os.environ.get("CAMNET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args(argv)

    admin = args.pg.replace("postgresql+psycopg://", "postgresql://")
    base, _ = admin.rsplit("/", 1)
    dbname = f"camnet_bench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname} OWNER camnet_owner")  # migrates; the app connects as camnet
    hostport = admin.split("@", 1)[1].split("/", 1)[0]
    try:
        return run(args, f"{base}/{dbname}", f"postgresql+psycopg://camnet@{hostport}/{dbname}")
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def setup(app):
    """A commune with sponsors, a phase, cameras, a pledge and allocations, all through the services."""
    from camnet.billing_socialization import funders, receipts, spending
    from camnet.billing_socialization.schemas import AllocationIn, PhaseIn, PledgeIn, ReceiptIn, SponsorIn
    from camnet.extensions import db
    from camnet.streams.models import Camera
    from camnet.tenants.models import AdminUnit, Village

    root = AdminUnit(code="BVN", name="Việt Nam", level="quốc gia", path="/")
    db.session.add(root)
    db.session.flush()
    root.path = f"/{root.id}/"
    unit = AdminUnit(code="BENCH", name="Xã Đo Hiệu Năng", level="xã", parent_id=root.id, is_commune=True, path="/")
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{root.path}{unit.id}/"
    for i in range(8):
        db.session.add(Village(commune_id=unit.id, name=f"Thôn {i + 1}", households=300))
    db.session.commit()
    phase = funders.create_phase(unit.id, PhaseIn(name="Giai đoạn 1", target=50_000_000_000, cameras_planned=64))
    sponsors = [funders.create_sponsor(unit.id, SponsorIn(name=f"Doanh nghiệp {i}", kind="company")) for i in range(50)]
    budget = funders.create_sponsor(unit.id, SponsorIn(name="Ngân sách xã", kind="budget"))
    cams = [Camera(commune_id=unit.id, code=f"B-{i:03d}", name=f"Camera {i}", status="active", phase=phase.name)
            for i in range(64)]
    db.session.add_all(cams)
    db.session.commit()
    pledge = funders.create_pledge(sponsors[0].id, PledgeIn(amount=900_000_000, due_date=date.today() + timedelta(days=90),
                                                            phase_id=phase.id))
    receipts.record_receipt(unit.id, ReceiptIn(idempotency_key="bench-setup-1", amount=600_000_000, method="bank",
                                               pledge_id=pledge.id))
    for cam in cams[:32]:
        spending.allocate(unit.id, AllocationIn(sponsor_id=sponsors[0].id, amount=5_000_000, camera_id=cam.id))
    spending.allocate(unit.id, AllocationIn(sponsor_id=sponsors[0].id, amount=100_000_000, phase_id=phase.id))
    return unit, phase, sponsors, budget


def bulk_load(admin_dsn, app, unit, phase, sponsors, n_postings):
    """Append n_postings (2 per transaction) to the chain with COPY; hashes computed here."""
    from camnet.billing_socialization import ledger
    from camnet.extensions import db

    codes = {}
    for sp in sponsors:
        codes[sp.id] = ledger.sponsor_accounts(sp)["fund"]
    bank = ledger.account(unit.id, "1121")
    repair = ledger.account(unit.id, "642.repair")
    db.session.commit()
    seq, prev = ledger.head(unit.id)
    db.session.commit()
    n_tx = n_postings // 2
    t0 = time.perf_counter()
    tx_rows, post_rows = [], []
    with psycopg.connect(admin_dsn) as conn:
        tx_id = conn.execute("SELECT coalesce(max(id), 0) FROM journal_transactions").fetchone()[0]
        post_id = conn.execute("SELECT coalesce(max(id), 0) FROM postings").fetchone()[0]
        day = date(2024, 1, 1)
        fund_list = list(codes.values())
        for i in range(n_tx):
            seq += 1
            tx_id += 1
            if i % 10 == 9:  # one expense in ten
                lines = [(repair, 90_000), (bank, -90_000)]
                kind, memo, ref = "expense", f"Chi sửa chữa HĐ {i}", ("expense", None)
            else:
                fund = fund_list[i % len(fund_list)]
                amount = 100_000 + (i % 50) * 10_000
                lines = [(bank, amount), (fund, -amount)]
                kind, memo, ref = "receipt", f"Thu chuyển khoản {i}", ("sponsor", fund.sponsor_id)
            occurred = day + timedelta(days=i % 700)
            digest = hashlib.sha256(ledger.canonical(unit.id, seq, kind, occurred, memo, phase.id, ref[0], ref[1], None,
                                                     [(a.code, n) for a, n in lines], prev)).hexdigest()
            tx_rows.append((tx_id, unit.id, seq, kind, occurred, memo, phase.id, ref[0], ref[1], prev, digest))
            prev = digest
            for line, (acct, amount) in enumerate(lines, start=1):
                post_id += 1
                post_rows.append((post_id, tx_id, unit.id, acct.id, line, amount))
        t_build = time.perf_counter() - t0
        with conn.cursor() as cur:
            with cur.copy("COPY journal_transactions (id, commune_id, seq, kind, occurred_on, memo, phase_id, ref_type, "
                          "ref_id, prev_hash, hash, created_at) FROM STDIN") as cp:
                for row in tx_rows:
                    cp.write_row((*row, "2024-01-01 00:00:00+00"))
            with cur.copy("COPY postings (id, transaction_id, commune_id, account_id, line, amount) FROM STDIN") as cp:
                for row in post_rows:
                    cp.write_row(row)
            cur.execute("SELECT setval(pg_get_serial_sequence('journal_transactions', 'id'), %s)", (tx_id,))
            cur.execute("SELECT setval(pg_get_serial_sequence('postings', 'id'), %s)", (post_id,))
            # The balance cache from the postings, as the service would have left it.
            cur.execute("DELETE FROM ledger_balances WHERE commune_id = %s", (unit.id,))
            cur.execute("INSERT INTO ledger_balances (account_id, phase_key, commune_id, amount) "
                        "SELECT p.account_id, coalesce(t.phase_id, 0), p.commune_id, sum(p.amount) FROM postings p "
                        "JOIN journal_transactions t ON t.id = p.transaction_id WHERE p.commune_id = %s "
                        "GROUP BY p.account_id, coalesce(t.phase_id, 0), p.commune_id", (unit.id,))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE journal_transactions")
        conn.execute("VACUUM ANALYZE postings")
    return n_tx, t_build, time.perf_counter() - t0


def run(args, admin_dsn, app_url) -> int:
    from flask_migrate import upgrade

    from camnet import create_app
    from camnet.billing_socialization import ledger, receipts, reports
    from camnet.billing_socialization.schemas import ReceiptIn
    from camnet.extensions import db
    from camnet.tenants.scope import system_scope

    inst = Path("/tmp") / f"camnet-bench-{os.getpid()}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": app_url, "INSTANCE_DIR": str(inst), "SECRET_KEY": "bench-" + "x" * 40,
                      "DATABASE_MIGRATE_URL": app_url.replace("://camnet@", "://camnet_owner@", 1),
                      "REDIS_URL": "", "S3_ENDPOINT": "", "TESTING": True})
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        with system_scope():
            unit, phase, sponsors, budget = setup(app)
            print(f"commune {unit.code} (id {unit.id}) on {app_url.rsplit('@', 1)[1]}")
            n_tx, t_build, t_load = bulk_load(admin_dsn, app, unit, phase, sponsors, args.postings)
            print(f"bulk load: {n_tx * 2:,} postings in {n_tx:,} transactions: chain built in {t_build:.1f} s, "
                  f"loaded (COPY + cache) in {t_load:.1f} s")

            # postings per second through the service (one writer; each receipt = 1 transaction, 2 postings)
            t0 = time.perf_counter()
            for i in range(args.service):
                receipts.record_receipt(unit.id, ReceiptIn(idempotency_key=f"bench-svc-{i}", amount=250_000 + i,
                                                           method="cash", sponsor_id=sponsors[1 + i % 49].id))
            dt = time.perf_counter() - t0
            print(f"service: {args.service:,} receipts = {2 * args.service:,} postings in {dt:.2f} s -> "
                  f"{2 * args.service / dt:,.0f} postings/s ({args.service / dt:,.0f} transactions/s)")

            def timed(fn, runs):
                out = []
                for _ in range(runs):
                    t = time.perf_counter()
                    fn()
                    db.session.rollback()
                    out.append((time.perf_counter() - t) * 1000)
                return out

            for label, fn in (("sponsor report", lambda: reports.sponsor_summary(sponsors[0].id)),
                              ("chairman report", lambda: reports.chairman_summary(unit.id))):
                ms = timed(fn, args.reports)
                med = statistics.median(ms)
                print(f"{label}: median {med:.1f} ms, p99 {pct(ms, 0.99):.1f} ms over {len(ms)} runs "
                      f"(goal < {GOAL_REPORT_MS:.0f} ms at the median: {med / GOAL_REPORT_MS:.2f} of the budget)")
            ms = timed(lambda: reports.sponsor_report_pdf(sponsors[0].id, "vi"), max(5, args.reports // 6))
            print(f"sponsor report PDF: median {statistics.median(ms):.1f} ms")

            # verification: end to end (fetch + canonical bytes + SHA-256) against bare SHA-256 over the same bytes
            t0 = time.perf_counter()
            result = ledger.verify(unit.id)
            t_verify = time.perf_counter() - t0
            assert result["ok"], result["first_broken"]
            t0 = time.perf_counter()
            slow = ledger._verify_rows(unit.id)
            t_rows = time.perf_counter() - t0
            assert slow["ok"] and slow["head_hash"] == result["head_hash"], slow
            blobs, _rows_ = canonical_blobs(unit.id)
            total = sum(len(b) for b in blobs)
            t0 = time.perf_counter()
            for b in blobs:
                hashlib.sha256(b).digest()
            t_bare = time.perf_counter() - t0
            floors = read_floor(admin_dsn, unit.id)
            t_read = sum(floors.values())
            print(f"verify: {result['transactions']:,} transactions / {result['postings']:,} postings, "
                  f"{total / 1e6:.1f} MB hashed, end to end {t_verify:.2f} s = {total / t_verify / 1e6:.1f} MB/s, "
                  f"{result['transactions'] / t_verify:,.0f} tx/s")
            print(f"bare SHA-256 over the same bytes: {t_bare:.3f} s = {total / t_bare / 1e6:.1f} MB/s")
            print(f"row-by-row check (the path that names a broken transaction): {t_rows:.2f} s")
            print(f"floor: PostgreSQL only reading the same rows (COPY out, nothing done with them): {t_read:.2f} s "
                  f"= {t_bare / t_read:.3f} of bare hashing speed (transactions alone {floors['journal_transactions']:.2f} s "
                  f"= {t_bare / floors['journal_transactions']:.3f}, postings alone {floors['postings']:.2f} s)")
            print(f"ratio verification / bare = {t_bare / t_verify:.3f} (goal >= {GOAL_VERIFY_RATIO}: "
                  f"{'met' if t_bare / t_verify >= GOAL_VERIFY_RATIO else 'missed by %.1fx' % (GOAL_VERIFY_RATIO * t_verify / t_bare)}); "
                  f"verification / read floor = {t_verify / t_read:.2f}x")
            print(f"balance cache equals postings: {ledger.check_balances(unit.id) == []}")
            db.session.rollback()
    return 0


def _rows(commune_id):
    from camnet.billing_socialization.models import Account, JournalTransaction, Posting
    from camnet.extensions import db
    from sqlalchemy import select

    codes = dict(db.session.execute(select(Account.id, Account.code).where(Account.commune_id == commune_id)).all())
    stmt = (select(JournalTransaction.id, JournalTransaction.seq, JournalTransaction.kind, JournalTransaction.occurred_on,
                   JournalTransaction.memo, JournalTransaction.phase_id, JournalTransaction.ref_type,
                   JournalTransaction.ref_id, JournalTransaction.reverses_seq, JournalTransaction.prev_hash,
                   JournalTransaction.hash, Posting.account_id, Posting.amount)
            .join(Posting, Posting.transaction_id == JournalTransaction.id)
            .where(JournalTransaction.commune_id == commune_id).order_by(JournalTransaction.seq, Posting.line)
            .execution_options(yield_per=10000))
    grouped, current, lines = [], None, []
    for r in db.session.execute(stmt):
        if current is None or r[0] != current[0]:
            if current is not None:
                grouped.append((current, lines))
            current, lines = r[:11], []
        lines.append((codes[r[11]], r[12]))
    if current is not None:
        grouped.append((current, lines))
    return grouped


def canonical_blobs(commune_id):
    from camnet.billing_socialization.ledger import canonical

    rows = _rows(commune_id)
    blobs = [canonical(commune_id, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], lines, c[9]) for c, lines in rows]
    return blobs, rows


READ_COLUMNS = (("journal_transactions", "id, seq, kind, occurred_on, memo, phase_id, ref_type, ref_id, "
                                         "reverses_seq, prev_hash, hash"),
                ("postings", "transaction_id, line, account_id, amount"))


def read_floor(admin_dsn, commune_id) -> dict:
    """Seconds PostgreSQL takes just to hand over the columns the hash covers, per table (COPY,
    as the superuser so not even row-level security is in the way)."""
    out = {}
    with psycopg.connect(admin_dsn) as conn:
        with conn.cursor() as cur:
            for table, columns in READ_COLUMNS:
                t0 = time.perf_counter()
                with cur.copy(f"COPY (SELECT {columns} FROM {table} WHERE commune_id = %s) TO STDOUT",  # nosec B608
                              (commune_id,)) as cp:
                    for _chunk in cp:
                        pass
                out[table] = time.perf_counter() - t0
    return out


if __name__ == "__main__":
    sys.exit(main())
