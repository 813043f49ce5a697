"""Benchmark of alerts on PostgreSQL with real receivers on loopback (aiosmtpd, an HTTP webhook sink)
and the real worker process (``camnet alerts worker``):

 (a) a power cut: 60 cameras of one commune go down within 10 s -> each subscriber gets exactly one
     grouped alert, goal <= 10 s after the second capture interval;
 (b) 1,000 independent alerts a minute to SMTP and webhooks: p99 event -> receipt, goal <= 5 s, and the
     worker's CPU per delivery against a bare smtplib send measured in the same run;
 (c) the SMTP server down for 60 s: everything delivered within 30 s of its return, 0 lost, 0 doubled.

A province of 500 communes is made (units and one technician each); only the power-cut commune gets
cameras and a full set of subscribers, as only it is on the measured paths.

    PYTHONSAFEPATH=1 .venv/bin/python bench/alerts.py [--rate 1000 --minutes 1 --down 60]
    (PostgreSQL superuser URL from --pg or CAMNET_TEST_PG_URL; the app connects as role ``camnet``)
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.alerts_rig import HttpSink, SmtpSink, free_port  # noqa: E402

GOAL_GROUP_S, GOAL_P99_S, GOAL_RETURN_S = 10.0, 5.0, 30.0
INTERVAL = 10  # capture interval of the power-cut commune's cameras (s)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=1000, help="independent alerts per minute in (b)")
    ap.add_argument("--minutes", type=float, default=1.0, help="duration of (b)")
    ap.add_argument("--down", type=float, default=60.0, help="seconds the SMTP server is down in (c)")
    ap.add_argument("--communes", type=int, default=500)
    ap.add_argument("--pg", default=os.environ.get("CAMNET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = ap.parse_args(argv)
    admin = args.pg.replace("postgresql+psycopg://", "postgresql://")
    base, _ = admin.rsplit("/", 1)
    dbname = f"camnet_bench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname} OWNER camnet_owner")
    hostport = admin.split("@", 1)[1].split("/", 1)[0]
    try:
        return run(args, f"postgresql+psycopg://camnet@{hostport}/{dbname}")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def run(args, app_url: str) -> int:
    from flask_migrate import upgrade

    from camnet import create_app
    from camnet.extensions import db

    inst = Path(f"/tmp/camnet-bench-alerts-{os.getpid()}")
    smtp, hook = SmtpSink(free_port()).start(), HttpSink().start()
    config = {"SQLALCHEMY_DATABASE_URI": app_url, "INSTANCE_DIR": str(inst), "SECRET_KEY": "bench-" + "x" * 40,
              "DATABASE_MIGRATE_URL": app_url.replace("://camnet@", "://camnet_owner@", 1),
              "SCOPE_SIGNING_KEY": "bench-scope-" + "y" * 40, "CAMERA_SECRET_KEY": "oV2Qh3pEo7k1rO1V0m8S6t1Vb9yqY3oWl6c1cQm6d1Q=",
              "ALERTS_INPROCESS": "off", "ALERTS_SMTP_HOST": "127.0.0.1", "ALERTS_SMTP_PORT": smtp.port,
              "ALERTS_SMTP_STARTTLS": False, "ALERTS_ALLOWED_NETWORKS": ["127.0.0.0/8"]}
    app = create_app(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERTS_", "DATABASE_"))}
    env.update({"DATABASE_URL": app_url, "SECRET_KEY": config["SECRET_KEY"], "PYTHONSAFEPATH": "1",
                "SCOPE_SIGNING_KEY": config["SCOPE_SIGNING_KEY"], "CAMERA_SECRET_KEY": config["CAMERA_SECRET_KEY"],
                "CAMNET_INSTANCE": str(inst / "worker"), "ALERTS_INPROCESS": "off", "ALERTS_SMTP_HOST": "127.0.0.1",
                "ALERTS_SMTP_PORT": str(smtp.port), "ALERTS_SMTP_STARTTLS": "false",
                "ALERTS_ALLOWED_NETWORKS": "127.0.0.0/8", "ALERTS_POLL_SECONDS": "0.2", "ALERTS_CHECK_SECONDS": "3600"})
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        world = build(app, args.communes, hook)
        worker = subprocess.Popen([str(Path(sys.executable).parent / "camnet"), "alerts", "worker", "--no-checks"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ok = bench_power_cut(app, world, smtp, hook)
            ok &= bench_throughput(app, world, smtp, hook, worker.pid, args)
            ok &= bench_smtp_down(app, world, smtp, args)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            smtp.stop()
            hook.stop()
            db.session.remove()
            db.engine.dispose()
    return 0 if ok else 1


def build(app, communes: int, hook):
    """Province, district, ``communes`` communes (one technician each); the power-cut commune "PC" with
    60 cameras and its subscribers (2 technicians, 2 operators, the chairman, 3 district and 2
    province police), each with an address and a webhook; commune "TP" has one operator for (b)/(c)."""
    from camnet.alerts.models import AlertContact
    from camnet.extensions import db
    from camnet.incidents.models import IncidentCategory
    from camnet.streams.models import Camera
    from camnet.tenants.models import AdminUnit, RoleGrant, User
    from camnet.tenants.scope import system_scope
    from sqlalchemy import select

    with system_scope():
        prov = AdminUnit(code="BP", name="Tỉnh Bench", level="tỉnh", path="/")
        db.session.add(prov)
        db.session.flush()
        prov.path = f"/{prov.id}/"
        dist = AdminUnit(code="BD", name="Huyện Bench", level="huyện", parent_id=prov.id, path="/")
        db.session.add(dist)
        db.session.flush()
        dist.path = f"{prov.path}{dist.id}/"
        units = [AdminUnit(code=f"BX{i}", name=f"Xã Bench {i}", level="xã", parent_id=dist.id, is_commune=True,
                           path="/") for i in range(communes)]
        db.session.add_all(units)
        db.session.flush()
        for u in units:
            u.path = f"{dist.path}{u.id}/"
        pc = units[0]
        # (b) and (c): a commune in a province of its own with one operator, so an alert is one message
        prov2 = AdminUnit(code="BP2", name="Tỉnh Bench Hai", level="tỉnh", path="/")
        db.session.add(prov2)
        db.session.flush()
        prov2.path = f"/{prov2.id}/"
        tp = AdminUnit(code="BTP", name="Xã Thông Lượng", level="xã", parent_id=prov2.id, is_commune=True, path="/")
        db.session.add(tp)
        db.session.flush()
        tp.path = f"{prov2.path}{tp.id}/"
        users = []

        def user(name, unit, role, grant_unit=None, contact=False):
            u = User(username=name, full_name=name, email=f"{name}@bench.vn", unit_id=unit.id, password_hash="x")
            db.session.add(u)
            db.session.flush()
            db.session.add(RoleGrant(user_id=u.id, role=role, unit_id=(grant_unit or unit).id))
            if contact:
                db.session.add(AlertContact(user_id=u.id, unit_id=unit.id, channel="webhook", address=hook.url("/hook"),
                                            secret="whsec_" + "YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldC0xMjM0NTY="))
            users.append(name)
        for i, u in enumerate(units[1:]):
            user(f"kt{i}", u, "technician")
        for name, role in (("kt_pc1", "technician"), ("kt_pc2", "technician"), ("op_pc1", "operator"),
                           ("op_pc2", "operator"), ("ct_pc", "chairman")):
            user(name, pc, role, contact=True)
        for i in range(3):
            user(f"ca_huyen{i}", dist, "police", contact=True)
        for i in range(2):
            user(f"ca_tinh{i}", prov, "police", contact=True)
        user("op_tp", tp, "operator", contact=True)
        cams = [Camera(commune_id=pc.id, code=f"PC-{i:02d}", name=f"Cột {i}", status="active", health="ok",
                       capture_interval=INTERVAL) for i in range(60)]
        db.session.add_all(cams)
        db.session.commit()
        cat = db.session.execute(select(IncidentCategory.id).where(IncidentCategory.code == "theft")).scalar()
        return {"pc": pc.id, "tp": tp.id, "cams": [c.id for c in cams], "cat": cat,
                "pc_subscribers": 10}


def bench_power_cut(app, world, smtp, hook) -> bool:
    from camnet.extensions import db
    from camnet.capture.health import apply_transition
    from camnet.streams.models import Camera
    from camnet.tenants.scope import system_scope

    smtp.messages.clear()
    hook.requests.clear()
    t0 = time.time()
    # the cameras fail at their own capture phase within the 10 s after the cut (one writer batch each)
    for i, cid in enumerate(world["cams"]):
        time.sleep(max(0.0, t0 + i * (10.0 / 60) - time.time()))
        with system_scope():
            apply_transition(db.session, db.session.get(Camera, cid), "unreachable", {}, datetime.now(timezone.utc))
            db.session.commit()
    subject = "Nhiều camera mất kết nối cùng lúc"
    deadline = t0 + 2 * INTERVAL + 60
    while time.time() < deadline:
        mails = [m for m in smtp.messages if subject in str(m["Subject"])]
        hooks = [r for r in hook.requests if subject.encode() in r["body"]]
        if len(mails) >= world["pc_subscribers"] and len(hooks) >= world["pc_subscribers"]:
            break
        time.sleep(0.1)
    time.sleep(3)  # anything extra would arrive now
    mails = [(m, at) for m, at in zip(smtp.messages, smtp.received_at, strict=True) if subject in str(m["Subject"])]
    per_user = {}
    for m, _ in mails:
        per_user[str(m["To"])] = per_user.get(str(m["To"]), 0) + 1
    others = [m for m in smtp.messages if "mất kết nối" in str(m["Subject"]) and subject not in str(m["Subject"])]
    last = max((at for _, at in mails), default=float("nan"))
    goal_at = t0 + 2 * INTERVAL + GOAL_GROUP_S
    late = last - (t0 + 2 * INTERVAL)
    exact = len(per_user) == world["pc_subscribers"] and set(per_user.values()) == {1} and not others
    print(f"(a) power cut, 60 cameras in 10 s, capture interval {INTERVAL} s: {len(mails)} grouped mails to "
          f"{len(per_user)} subscribers (exactly one each: {exact}), {len(others)} single-camera mails; last receipt "
          f"{last - t0:.1f} s after the cut = {late:+.1f} s after the second capture interval "
          f"(goal <= +{GOAL_GROUP_S:.0f} s; ratio {(last - t0) / (goal_at - t0):.2f} of the deadline)")
    return exact and last <= goal_at


def _incident(world, seq: int, commune: str):
    from camnet.extensions import db
    from camnet.incidents.models import Incident
    from camnet.tenants.scope import system_scope

    with system_scope():
        db.session.add(Incident(commune_id=world[commune], category_id=world["cat"], title=f"Bench #{seq}#",
                                occurred_at=datetime.now(timezone.utc)))
        db.session.commit()


SEQ = re.compile(rb"Bench #(\d+)#")


def bench_throughput(app, world, smtp, hook, worker_pid: int, args) -> bool:
    smtp.messages.clear()
    smtp.received_at.clear()
    hook.requests.clear()
    n = int(args.rate * args.minutes)
    gap = 60.0 / args.rate
    sent = {}
    cpu0 = cpu_of(worker_pid)
    t0 = time.time()
    for i in range(n):
        time.sleep(max(0.0, t0 + i * gap - time.time()))
        sent[i] = time.time()
        _incident(world, 10_000 + i, "tp")
    deadline = time.time() + 120
    while time.time() < deadline and (len(smtp.messages) < n or len(hook.requests) < n):
        time.sleep(0.2)
    cpu = cpu_of(worker_pid) - cpu0
    lat = []
    for m, at in zip(list(smtp.messages), list(smtp.received_at), strict=True):
        found = SEQ.search(m.get_body(("plain",)).get_content().encode())
        if found and int(found.group(1)) - 10_000 in sent:
            lat.append(at - sent[int(found.group(1)) - 10_000])
    for r in list(hook.requests):
        found = SEQ.search(r["body"])
        if found and int(found.group(1)) - 10_000 in sent:
            lat.append(r["at"] - sent[int(found.group(1)) - 10_000])
    deliveries = len(lat)
    bare = bare_smtp_cpu(smtp, 300)
    per = cpu / max(1, deliveries)
    p99 = pct(lat, 0.99)
    print(f"(b) {n} alerts in {args.minutes:g} min to SMTP and a webhook: {deliveries} of {2 * n} received; "
          f"event -> receipt p50 {pct(lat, 0.5):.2f} s, p99 {p99:.2f} s (goal <= {GOAL_P99_S:.0f} s; ratio "
          f"{p99 / GOAL_P99_S:.2f}); worker CPU {per * 1000:.2f} ms per delivery (dispatch, render, send, log) vs "
          f"{bare * 1000:.3f} ms per bare smtplib send: ratio {per / bare:.1f}")
    return deliveries == 2 * n and p99 <= GOAL_P99_S


def bare_smtp_cpu(smtp, count: int) -> float:
    """CPU seconds of this thread per message for smtplib alone over one connection (the sink's own
    thread is not counted: thread_time)."""
    conn = smtplib.SMTP("127.0.0.1", smtp.port)
    c0 = time.thread_time()
    for i in range(count):
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = "Thử nghiệm / test", "a@bench.vn", "b@bench.vn"
        msg["Message-ID"] = f"<bare-{i}@bench.vn>"
        msg.set_content("Nội dung thử nghiệm\n" * 10)
        conn.send_message(msg)
    used = time.thread_time() - c0
    conn.quit()
    return used / count


def bench_smtp_down(app, world, smtp, args) -> bool:
    smtp.stop()
    smtp.messages.clear()
    smtp.received_at.clear()
    n = 200
    t0 = time.time()
    for i in range(n):
        time.sleep(max(0.0, t0 + i * (args.down * 0.8 / n) - time.time()))
        _incident(world, 50_000 + i, "tp")
    time.sleep(max(0.0, t0 + args.down - time.time()))
    back = time.time()
    smtp.start()
    deadline = back + 120
    while time.time() < deadline and len(smtp.messages) < n:
        time.sleep(0.1)
    time.sleep(3)
    mine = [(str(m["Message-ID"]), at) for m, at in zip(list(smtp.messages), list(smtp.received_at), strict=True)
            if (found := SEQ.search(m.get_body(("plain",)).get_content().encode())) and int(found.group(1)) >= 50_000]
    ids = [i for i, _ in mine]
    done = max(at for _, at in mine) - back if mine else float("nan")
    lost, doubled = n - len(set(ids)), len(ids) - len(set(ids))
    print(f"(c) SMTP down {args.down:g} s with {n} alerts waiting: all delivered {done:.1f} s after its return "
          f"(goal <= {GOAL_RETURN_S:.0f} s; ratio {done / GOAL_RETURN_S:.2f}), lost {lost}, duplicated {doubled} "
          f"(goal 0, 0)")
    return lost == 0 and doubled == 0 and done <= GOAL_RETURN_S


if __name__ == "__main__":
    raise SystemExit(main())
