"""Build a province in PostgreSQL for load tests: 500 communes, 50,000 cameras, 10,000,000 snapshot
rows, 1,000,000 ledger postings, 100,000 incidents, loaded with COPY (not ORM loops).

    PYTHONSAFEPATH=1 .venv/bin/python bench/province.py --db camnet_province [--scale 1.0]

The database is created (owned by the role ``camnet_owner``, which migrates it; the app connects as
``camnet``, data privileges only) and migrated first.
``--scale 0.01`` builds a small copy for a quick look. Prints what it loaded and how fast.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import time
from datetime import date, datetime, timedelta, timezone

import psycopg

ADMIN = os.environ.get("CAMNET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres").replace(
    "postgresql+psycopg://", "postgresql://")
# The key the migration stores and the apps sign their scope with; bench/api.py's server uses the same.
os.environ.setdefault("SCOPE_SIGNING_KEY", "camnet-bench-scope-key-not-a-secret-0123456789")


def app_url(dbname: str, role: str = "camnet") -> str:
    """The app's URL (role camnet, data privileges only), or with ``role="camnet_owner"`` the owner's."""
    hostport = ADMIN.split("@", 1)[1].split("/", 1)[0]
    return f"postgresql+psycopg://{role}@{hostport}/{dbname}"


def create_database(dbname: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {dbname} OWNER camnet_owner")
    from flask_migrate import upgrade

    from camnet import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": app_url(dbname), "DATABASE_MIGRATE_URL": app_url(dbname, "camnet_owner"),
                      "INSTANCE_DIR": "/tmp/camnet-province",
                      "REDIS_URL": None, "S3_ENDPOINT": None})
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        from camnet.extensions import db

        db.engine.dispose()


def superuser(dbname: str) -> psycopg.Connection:
    """Bulk loading as the superuser: RLS does not apply to the loader, only to the app."""
    base = ADMIN.rsplit("/", 1)[0]
    return psycopg.connect(f"{base}/{dbname}")


def copy_rows(conn, table: str, columns: list[str], rows) -> int:
    n = 0
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
    return n


def timed(label: str, fn, *args):
    start = time.perf_counter()
    n = fn(*args)
    secs = time.perf_counter() - start
    print(f"{label:<28} {n:>12,} rows in {secs:7.1f} s  ({n / secs if secs else 0:,.0f} rows/s)", flush=True)
    return n


def build(dbname: str, scale: float, seed: int = 7) -> dict:
    rnd = random.Random(seed)
    communes = max(2, int(500 * scale))
    cams_per = 100
    snapshots = int(10_000_000 * scale)
    incidents = int(100_000 * scale)
    postings = int(1_000_000 * scale)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    info: dict = {"communes": communes}
    with superuser(dbname) as conn:
        conn.execute("SET session_replication_role = replica")  # skip FK and append-only triggers while loading
        now_s = now.isoformat()
        units = [(1, None, "VN", "Việt Nam", "quốc gia", False, "/1/", None, None, now_s),
                 (2, 1, "P-TINH", "Tỉnh Bình Yên", "tỉnh", False, "/1/2/", None, None, now_s)]
        districts = max(1, communes // 50)
        for d in range(districts):
            uid = 3 + d
            units.append((uid, 2, f"P-H{d:02d}", f"Huyện Số {d + 1}", "huyện", False, f"/1/2/{uid}/", None, None, now_s))
        first_commune = 3 + districts
        commune_ids = []
        for c in range(communes):
            uid = first_commune + c
            did = 3 + (c % districts)
            commune_ids.append(uid)
            units.append((uid, did, f"P-X{c:04d}", f"Xã Thịnh Vượng {c + 1}", "xã", True, f"/1/2/{did}/{uid}/",
                          2400, 9000, now_s))
        timed("admin_units", copy_rows, conn, "admin_units",
              ["id", "parent_id", "code", "name", "level", "is_commune", "path", "households", "population",
               "created_at"], units)
        conn.execute("SELECT setval(pg_get_serial_sequence('admin_units','id'), (SELECT max(id) FROM admin_units))")
        villages = [(c, f"Thôn {v + 1}", "thôn", 400, 1500) for c in commune_ids for v in range(6)]
        timed("villages", copy_rows, conn, "villages", ["commune_id", "name", "kind", "households", "population"],
              villages)
        statuses = ["active"] * 90 + ["offline"] * 5 + ["faulty"] * 5

        def cameras():
            cid = 0
            for c in commune_ids:
                for k in range(cams_per):
                    cid += 1
                    yield (cid, c, f"CAM-{k:03d}", f"Ngã tư số {k + 1}", f"Đường liên xã {k % 7}",
                           20.0 + rnd.random(), 105.0 + rnd.random(), "fixed", "commune",
                           rnd.choice(statuses), 60, "ok", now_s, now_s, f"http://10.{c % 250}.{k}.2/snap.jpg",
                           "Giai đoạn 1" if k < 30 else None)  # the first phase's cameras (its sponsors fund them)

        info["cameras"] = timed("cameras", copy_rows, conn, "cameras",
                                ["id", "commune_id", "code", "name", "road", "latitude", "longitude", "kind",
                                 "ownership", "status", "capture_interval", "health", "created_at",
                                 "last_snapshot_at", "snapshot_url", "phase"], cameras())
        conn.execute("SELECT setval(pg_get_serial_sequence('cameras','id'), (SELECT max(id) FROM cameras))")
        total_cams = info["cameras"]
        per_cam = max(1, snapshots // total_cams)

        def snaps():
            sid = 0
            base_slot = int(now.timestamp()) // 60
            for cam in range(1, total_cams + 1):
                commune = commune_ids[(cam - 1) // cams_per]
                for i in range(per_cam):
                    sid += 1
                    slot = base_slot - i * 5  # one kept snapshot every 5 minutes, newest first
                    taken = datetime.fromtimestamp(slot * 60, timezone.utc)
                    yield (sid, cam, commune, taken.isoformat(), slot,
                           f"{commune}/{cam}/{taken:%Y/%m/%d/%H%M%S}.jpg", 98_000 + (sid % 9000),
                           hashlib.sha256(sid.to_bytes(8, "big")).hexdigest(), 1280, 720, "bench-worker", "ok",
                           False)

        info["snapshots"] = timed("snapshots", copy_rows, conn, "snapshots",
                                  ["id", "camera_id", "commune_id", "taken_at", "slot", "object_key", "size",
                                   "sha256", "width", "height", "worker", "health", "evidence"], snaps())
        days = [date.today() - timedelta(days=i) for i in range(30)]
        uptime = ((cam, d.isoformat(), commune_ids[(cam - 1) // cams_per], 1440, 1440 - rnd.randint(0, 80))
                  for cam in range(1, total_cams + 1) for d in days)
        timed("camera_uptime_days", copy_rows, conn, "camera_uptime_days",
              ["camera_id", "day", "commune_id", "checks", "ok"], uptime)
        conn.commit()
        for loader in _feature_loaders():
            info.update(loader(conn, commune_ids, incidents=incidents, postings=postings, rnd=rnd,
                               app_url=app_url(dbname)) or {})
            conn.commit()
        conn.execute("SET session_replication_role = origin")
        start = time.perf_counter()
        conn.execute("ANALYZE")
        conn.commit()
        print(f"{'ANALYZE':<28} {'':>12} in {time.perf_counter() - start:7.1f} s", flush=True)
    return info


def _feature_loaders():
    """Loaders the billing and incidents packages provide for their own tables (bench helpers)."""
    import sys
    from pathlib import Path

    # bench/ itself, never the repo root (whose platform/ folder would shadow the stdlib module)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    loaders = []
    for module in ("province_billing", "province_incidents"):
        try:
            mod = __import__(module, fromlist=["load"])
        except ImportError:
            continue
        loaders.append(mod.load)
    return loaders


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="camnet_province")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    start = time.perf_counter()
    create_database(args.db)
    info = build(args.db, args.scale)
    print(f"province built in {time.perf_counter() - start:.0f} s: {info}")


if __name__ == "__main__":
    main()
