"""Benchmark of the transparency log on PostgreSQL: one commune's journal of N transactions moved into its
log (the migration path), then proof generation and verification, the full audit against the PostgreSQL
read floor, posting throughput with the log (1 and 16 writers) and a witness cosigning.

    PYTHONSAFEPATH=1 .venv/bin/python bench/tlog.py --leaves 1000000
    (PostgreSQL superuser URL from --pg or CAMNET_TEST_PG_URL; the app connects as role ``camnet``)
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

GOAL_PROOF_P99_MS = 5.0
GOAL_VERIFY_MS = 1.0
GOAL_AUDIT_RATIO = 0.8
GOAL_ONE_WRITER = 163.0      # postings/s: today's ledger bench, one writer
GOAL_SIXTEEN_WRITERS = 1000.0
GOAL_COSIGN_MS = 50.0
HERE = Path(__file__).resolve().parent


def _ledger_bench():
    spec = importlib.util.spec_from_file_location("bench_ledger", HERE / "ledger.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def goal(label, value, target, unit, higher_is_better):
    ratio = value / target if higher_is_better else target / value if value else float("inf")
    met = "met" if ratio >= 1 else "MISSED"
    print(f"  {label}: {value:,.3f} {unit} (goal {'>=' if higher_is_better else '<='} {target:g} {unit}; "
          f"{ratio:.2f}x of the goal, {met})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leaves", type=int, default=1_000_000, help="journal transactions = log leaves")
    ap.add_argument("--proofs", type=int, default=1000, help="proofs generated of each kind")
    ap.add_argument("--service", type=int, default=1000, help="receipts posted by the single writer")
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--per-writer", type=int, default=150, help="receipts per concurrent writer")
    ap.add_argument("--pg", default=os.environ.get("CAMNET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    admin = args.pg.replace("postgresql+psycopg://", "postgresql://")
    base, _ = admin.rsplit("/", 1)
    dbname = f"camnet_tlogbench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname} OWNER camnet_owner")  # migrates; the app connects as camnet
    hostport = admin.split("@", 1)[1].split("/", 1)[0]
    try:
        return run(args, f"{base}/{dbname}", f"postgresql+psycopg://camnet@{hostport}/{dbname}")
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def run(args, admin_dsn, app_url) -> int:
    from flask_migrate import upgrade

    from camnet import create_app
    from camnet.billing_socialization import ledger, receipts
    from camnet.billing_socialization.schemas import ReceiptIn
    from camnet.extensions import db
    from camnet.tenants.scope import system_scope
    from camnet.transparency import feeds, merkle, services, store
    from camnet.transparency.witness import Witness

    lb = _ledger_bench()
    inst = Path(tempfile.mkdtemp(prefix="camnet-tlogbench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": app_url, "INSTANCE_DIR": str(inst), "SECRET_KEY": "bench-" + "x" * 40,
                      "DATABASE_MIGRATE_URL": app_url.replace("://camnet@", "://camnet_owner@", 1),
                      "REDIS_URL": "", "S3_ENDPOINT": "", "TESTING": True, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 20}})
    print(f"transparency log benchmark, {args.leaves:,} leaves, PostgreSQL {app_url.rsplit('@', 1)[1]}")
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        with system_scope():
            unit, phase, sponsors, _budget = lb.setup(app)
            n_tx, t_build, t_load = lb.bulk_load(admin_dsn, app, unit, phase, sponsors, 2 * args.leaves)
            print(f"journal bulk-loaded: {n_tx:,} transactions in {t_load:.1f} s (chain built in {t_build:.1f} s)")
            t0 = time.perf_counter()
            result = feeds.migrate_chain(unit.id)
            db.session.commit()
            t_migrate = time.perf_counter() - t0
            print(f"migration of the chain into the log (canonical bytes, salts, leaves, tile nodes, checkpoint): "
                  f"{result['log_size']:,} leaves in {t_migrate:.1f} s = {result['log_size'] / t_migrate:,.0f} leaves/s")
            with psycopg.connect(admin_dsn, autocommit=True) as c:
                c.execute("VACUUM ANALYZE tlog_leaves")
                c.execute("VACUUM ANALYZE tlog_nodes")
            conn = db.session.connection()
            log = services.get_log(conn, unit.id, "funding")
            size = log.size
            cp = services.latest_checkpoint(conn, log.id)
            rng = random.Random(7)

            # proofs: a fresh tree reader each time (no cache across proofs)
            inc_ms, con_ms, ver_inc, ver_con = [], [], [], []
            for _ in range(args.proofs):
                i = rng.randrange(size)
                t = time.perf_counter()
                proof = store.Tree(conn, log.id).inclusion(i, size)
                inc_ms.append((time.perf_counter() - t) * 1000)
                leaf = bytes(conn.exec_driver_sql(
                    "SELECT leaf_hash FROM tlog_leaves WHERE log_id = %(l)s AND idx = %(i)s", {"l": log.id, "i": i}).scalar())
                t = time.perf_counter()
                merkle.verify_inclusion(i, size, leaf, proof, cp.root)
                ver_inc.append((time.perf_counter() - t) * 1000)
            old_sizes = [rng.randrange(1, size) for _ in range(args.proofs)]
            old_roots = {}
            for m in old_sizes[:50]:
                old_roots[m] = store.Tree(conn, log.id).root(m)
            for m in old_sizes:
                t = time.perf_counter()
                proof = store.Tree(conn, log.id).consistency(m, size)
                con_ms.append((time.perf_counter() - t) * 1000)
                if m in old_roots:
                    t = time.perf_counter()
                    merkle.verify_consistency(m, size, old_roots[m], cp.root, proof)
                    ver_con.append((time.perf_counter() - t) * 1000)
            db.session.rollback()
            print(f"proofs at size {size:,} ({args.proofs} each, fresh reader per proof):")
            print(f"  inclusion generation median {statistics.median(inc_ms):.2f} ms")
            goal("inclusion generation p99", pct(inc_ms, 0.99), GOAL_PROOF_P99_MS, "ms", False)
            print(f"  consistency generation median {statistics.median(con_ms):.2f} ms")
            goal("consistency generation p99", pct(con_ms, 0.99), GOAL_PROOF_P99_MS, "ms", False)
            goal("inclusion verification p99", pct(ver_inc, 0.99), GOAL_VERIFY_MS, "ms", False)
            goal("consistency verification p99", pct(ver_con, 0.99), GOAL_VERIFY_MS, "ms", False)

            # full audit against the read floor, same run
            floor = read_floor(admin_dsn, log.id)
            t = time.perf_counter()
            audit = services.audit(db.session.connection(), log)
            t_audit = time.perf_counter() - t
            db.session.rollback()
            assert audit["ok"], audit
            print(f"full audit of {audit['size']:,} leaves: {t_audit:.2f} s; PostgreSQL read floor (COPY of the same "
                  f"columns as superuser, nothing done with them): {floor:.2f} s")
            goal("audit speed / read floor", floor / t_audit, GOAL_AUDIT_RATIO, "x", True)

        # posting throughput with the log
        def post_many(n, tag, sponsor_offset=1):
            with app.app_context(), system_scope():
                for i in range(n):
                    receipts.record_receipt(unit.id, ReceiptIn(idempotency_key=f"tlb-{tag}-{i}", amount=250_000 + i,
                                                               method="cash",
                                                               sponsor_id=sponsors[sponsor_offset + i % 40].id))
                db.session.remove()

        t = time.perf_counter()
        post_many(args.service, "one")
        dt = time.perf_counter() - t
        print(f"posting, one writer: {args.service:,} receipts in {dt:.2f} s")
        goal("postings/s, one writer, with the log", 2 * args.service / dt, GOAL_ONE_WRITER, "postings/s", True)

        def concurrent(tag):
            threads = [threading.Thread(target=post_many, args=(args.per_writer, f"{tag}{w}", 1 + w % 9))
                       for w in range(args.writers)]
            t = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            return 2 * args.writers * args.per_writer / (time.perf_counter() - t)

        rate = concurrent("w")
        goal(f"postings/s, {args.writers} concurrent writers, with the log", rate, GOAL_SIXTEEN_WRITERS, "postings/s", True)
        hooks = list(ledger.AFTER_POST)
        ledger.AFTER_POST.clear()
        try:
            bare = concurrent("b")  # the same without the log, for the log's share of the cost
        finally:
            ledger.AFTER_POST[:] = hooks
        print(f"  (the same {args.writers} writers without the log: {bare:,.0f} postings/s; the log costs "
              f"{100 * (1 - rate / bare):.0f}% of it) — the journal's per-commune lock serialises all writers")
        with app.app_context(), system_scope():
            # the postings made without the log are backfilled by the next one, as after a migration
            post_many(1, "after")

        # witness cosigning
        with app.app_context(), system_scope():
            witness = Witness.init(inst / "witness", "witness.bench.example")
            conn = db.session.connection()
            log = services.get_log(conn, unit.id, "funding")
            from camnet.transparency import keys
            witness.trust(keys.verifier_key(log.origin))
            services.cosign(conn, log, witness.add_checkpoint, witness.verifier_key())
            db.session.commit()
            only, whole = [], []
            for i in range(20):
                post_many(3, f"cos{i}")
                conn = db.session.connection()

                def timed_send(body):
                    t = time.perf_counter()
                    answer = witness.add_checkpoint(body)
                    only.append((time.perf_counter() - t) * 1000)
                    return answer

                t = time.perf_counter()
                services.cosign(conn, log, timed_send, witness.verifier_key())
                db.session.commit()
                whole.append((time.perf_counter() - t) * 1000)
            goal("witness add-checkpoint (verify signature + consistency, cosign, save state) p99", pct(only, 0.99),
                 GOAL_COSIGN_MS, "ms", False)
            print(f"  round trip from camnet (checkpoint, proof, witness, store cosignature): median "
                  f"{statistics.median(whole):.1f} ms")
    return 0


def read_floor(admin_dsn, log_id) -> float:
    with psycopg.connect(admin_dsn) as conn:
        with conn.cursor() as cur:
            t0 = time.perf_counter()
            with cur.copy("COPY (SELECT idx, salt, payload, leaf_hash FROM tlog_leaves WHERE log_id = %s "
                          "ORDER BY idx) TO STDOUT", (log_id,)) as cp:
                for _chunk in cp:
                    pass
            return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
