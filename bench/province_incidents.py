"""Incidents for bench/province.py: 100,000 cases over the last year, with their cameras, by COPY."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone


def load(conn, commune_ids, *, incidents: int, rnd, **_) -> dict:
    categories = [r[0] for r in conn.execute("SELECT id FROM incident_categories ORDER BY id")]
    cams = {c: (lo, hi) for c, lo, hi in conn.execute(
        "SELECT commune_id, min(id), max(id) FROM cameras GROUP BY commune_id")}
    now = datetime.now(timezone.utc)
    start = time.perf_counter()
    next_id = conn.execute("SELECT coalesce(max(id), 0) FROM incidents").fetchone()[0]
    rows, links = [], []
    statuses = ["resolved"] * 6 + ["open", "investigating", "referred"]
    for i in range(incidents):
        next_id += 1
        commune = commune_ids[i % len(commune_ids)]
        when = now - timedelta(minutes=rnd.randint(0, 365 * 24 * 60))
        status = rnd.choice(statuses)
        clarified = rnd.random() < 0.1
        rows.append((next_id, commune, rnd.choice(categories), f"Vụ việc số {next_id}", "Sinh ra cho đo tải",
                     when.isoformat(), status, clarified, 0, 0, when.isoformat(), when.isoformat(),
                     when.isoformat() if status in ("resolved", "referred") else None))
        if commune in cams and rnd.random() < 0.5:
            lo, hi = cams[commune]
            links.append((next_id, rnd.randint(lo, hi), commune))
    with conn.cursor() as cur:
        with cur.copy("COPY incidents (id, commune_id, category_id, title, description, occurred_at, status, "
                      "clarified_by_camera, people_identified, property_recovered_vnd, created_at, updated_at, "
                      "closed_at) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
        with cur.copy("COPY incident_cameras (incident_id, camera_id, commune_id) FROM STDIN") as cp:
            for row in links:
                cp.write_row(row)
        cur.execute("SELECT setval(pg_get_serial_sequence('incidents', 'id'), %s)", (next_id,))
    secs = time.perf_counter() - start
    print(f"{'incidents':<28} {len(rows):>12,} rows in {secs:7.1f} s  ({len(rows) / secs:,.0f} rows/s)", flush=True)
    return {"incidents": len(rows)}
