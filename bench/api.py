"""Load the API of a real gunicorn (gevent workers) on loopback against the province database.

    PYTHONSAFEPATH=1 .venv/bin/python bench/province.py --db camnet_province      # once
    PYTHONSAFEPATH=1 .venv/bin/python bench/api.py --db camnet_province [--clients 32 --seconds 10]

Measures, under N concurrent keep-alive clients, requests per second and p50/p99 latency
of: a trivial endpoint (/healthz, the same server's floor), the province overview, one
commune's camera list, one camera's snapshot history page, and a sponsor report (commune, camera and sponsor drawn at random for each request). Prints
each figure with its ratio to the goal (p99 under 150 ms).
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

ADMIN = os.environ.get("CAMNET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres").replace(
    "postgresql+psycopg://", "postgresql://")
GOAL_P99_MS = 150.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(dbname: str) -> dict:
    """A province police token, and the communes, cameras and sponsors to ask for (as the superuser)."""
    base = ADMIN.rsplit("/", 1)[0]
    secret = "cn_" + secrets.token_urlsafe(32)
    with psycopg.connect(f"{base}/{dbname}") as conn:
        province = conn.execute("SELECT id FROM admin_units WHERE level = 'tỉnh' ORDER BY id LIMIT 1").fetchone()[0]
        user = conn.execute("SELECT id FROM users WHERE username = 'bench.police'").fetchone()
        if user is None:
            user = conn.execute(
                "INSERT INTO users (username, full_name, password_hash, unit_id, lang, active, created_at) "
                "VALUES ('bench.police', 'Công an tỉnh (bench)', 'x', %s, 'vi', true, now()) RETURNING id",
                (province,)).fetchone()
            conn.execute("INSERT INTO role_grants (user_id, role, unit_id, created_at) VALUES (%s, 'police', %s, now())",
                         (user[0], province))
        conn.execute("INSERT INTO api_tokens (user_id, unit_id, name, prefix, token_hash, created_at, expires_at) "
                     "VALUES (%s, %s, 'bench', %s, %s, now(), now() + interval '1 day')",  # every token expires (0009)
                     (user[0], province, secret[:10], hashlib.sha256(secret.encode()).hexdigest()))
        communes = [r[0] for r in conn.execute("SELECT id FROM admin_units WHERE is_commune ORDER BY id")]
        cameras = conn.execute("SELECT min(id), max(id) FROM cameras").fetchone()
        sponsors = []
        try:
            sponsors = [r[0] for r in conn.execute("SELECT id FROM sponsors ORDER BY id")]
        except psycopg.errors.UndefinedTable:
            conn.rollback()
        conn.commit()
    return {"token": secret, "communes": communes, "cameras": cameras, "sponsors": sponsors}


def start_server(dbname: str, port: int, workers: int) -> subprocess.Popen:
    hostport = ADMIN.split("@", 1)[1].split("/", 1)[0]
    env = {**os.environ, "PYTHONSAFEPATH": "1", "DATABASE_URL": f"postgresql+psycopg://camnet@{hostport}/{dbname}",
           "SECRET_KEY": secrets.token_hex(32), "CAMNET_INSTANCE": "/tmp/camnet-bench-api", "REDIS_URL": "",
           # the key bench/province.py's migration stored (the server signs each transaction's scope with it)
           "SCOPE_SIGNING_KEY": os.environ.get("SCOPE_SIGNING_KEY", "camnet-bench-scope-key-not-a-secret-0123456789"),
           "S3_ENDPOINT": "", "CAMNET_LOG_LEVEL": "WARNING"}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    proc = subprocess.Popen([gunicorn, "-k", "gevent", "-w", str(workers), "--worker-connections", "200",
                             "-b", f"127.0.0.1:{port}", "--log-level", "warning", "camnet.wsgi:app"],
                            env=env, cwd="/tmp", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start: " + proc.stderr.read().decode()[-2000:])


def cpu_seconds(pids) -> float:
    """User + system CPU of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [master] + [int(p) for p in children.read_text().split()] if children.exists() else [master]


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def load(port: int, token: str, paths, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(seed: int):
        rnd = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        headers = {"Authorization": f"Bearer {token}"}
        while time.monotonic() < stop_at:
            path = paths(rnd)
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - start)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 2 else [0] * 99
    return {"n": len(latencies), "rps": len(latencies) / wall, "p50": q[49] * 1000, "p99": q[98] * 1000,
            "errors": errors[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="camnet_province")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="", help="run only endpoints whose label contains this")
    args = parser.parse_args()
    info = prepare(args.db)
    port = free_port()
    server = start_server(args.db, port, args.workers)
    lo, hi = info["cameras"]
    communes = info["communes"]
    cases = [
        ("trivial /healthz", lambda r: "/healthz"),
        ("province overview", lambda r: "/api/v1/oversight"),
        ("commune camera list", lambda r: f"/api/v1/cameras?unit_id={r.choice(communes)}&limit=100"),
        ("camera snapshot history", lambda r: f"/api/v1/cameras/{r.randint(lo, hi)}/snapshots?limit=50"),
    ]
    if info["sponsors"]:  # any sponsor of the province, as the camera list takes any commune
        cases.append(("sponsor report", lambda r: f"/api/v1/funding/sponsors/{r.choice(info['sponsors'])}/report"))
    try:
        print(f"gunicorn gevent x{args.workers} on 127.0.0.1:{port}, {args.clients} clients, "
              f"{args.seconds:.0f} s per endpoint, database {args.db}")
        print(f"{'endpoint':<26} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99/goal':>9} "
              f"{'errors':>7} {'CPU ms/request: web':>20} {'postgres':>9} {'client':>7}")
        for label, paths in cases:
            if args.only not in label:
                continue
            load(port, info["token"], paths, args.clients, 2.0)  # warm up every pooled connection, as in service
            web, pg = server_pids(server.pid), postgres_pids()
            before = cpu_seconds(web), cpu_seconds(pg), time.process_time()
            r = load(port, info["token"], paths, args.clients, args.seconds)
            spent = [(after - b) * 1000 / max(r["n"], 1) for after, b in
                     zip((cpu_seconds(web), cpu_seconds(set(pg) | set(postgres_pids())), time.process_time()), before, strict=True)]
            print(f"{label:<26} {r['n']:>9,} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
                  f"{r['p99'] / GOAL_P99_MS:>8.2f}x {r['errors']:>7} {spent[0]:>20.2f} {spent[1]:>9.2f} "
                  f"{spent[2]:>7.2f}", flush=True)
        if not info["sponsors"]:
            print("sponsor report: no sponsors in this database (run the billing part of bench/province.py)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
