"""Funding reports from the ledger: the chairman's, a sponsor's, the public one; CSV for Excel.

``chairman_summary``, ``sponsor_summary`` and ``sponsor_report_pdf`` are the public interface
for the dashboards. They read through the caller's scope; the chairman's does not check
permissions (the caller, a route, does), a sponsor's checks that the caller may read that
sponsor (its first statement is the check). Money figures come from the balance cache of the postings
(``ledger.check_balances`` proves the cache equals the postings).
"""
from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import bindparam, func, literal_column, or_, outerjoin, select

from .. import csvsafe
from ..clock import vn_now
from ..errors import NotFoundError
from ..extensions import db
from ..streams.models import Camera, CameraUptimeDay
from ..tenants.idsets import any_of, dialect_name, ids_value
from ..tenants.models import AdminUnit, Village
from . import ledger
from .labels import KIND_LABELS
from .models import (EXPENSE_KINDS, Account, Allocation, FundingPhase, HouseholdShare, JournalTransaction,
                     Pledge, Receipt, ShareCampaign, Sponsor)
from .pdf import chairman_pdf, sponsor_pdf

# Cases that cameras helped with (counts only): the incidents finder, registered by the dashboards
# package, which reads both features (billing never imports incidents).
CAMERA_CASES: list[Callable[[list[int]], list[dict]]] = []


def add_camera_cases(finder: Callable[[list[int]], list[dict]]) -> None:
    if finder not in CAMERA_CASES:
        CAMERA_CASES.append(finder)


def incidents_for_cameras(camera_ids: list[int]) -> list[dict]:
    """Cases these cameras helped with, from the registered finders; [] when none is registered."""
    return [case for finder in CAMERA_CASES for case in finder(camera_ids)] if camera_ids else []


def uptime_30d(camera_ids: list[int]) -> dict[int, float | None]:
    if not camera_ids:
        return {}
    dialect = dialect_name()
    rows = db.session.execute(_uptime_statement(dialect), {"camera_ids": ids_value(frozenset(camera_ids), dialect),
                                                           "since": _uptime_since()}).all()
    out: dict[int, float | None] = {cid: None for cid in camera_ids}
    for cid, ok, checks in rows:
        out[cid] = uptime(ok, checks)
    return out


@functools.cache
def _uptime_statement(dialect: str):
    return (select(CameraUptimeDay.camera_id, func.sum(CameraUptimeDay.ok), func.sum(CameraUptimeDay.checks))
            .where(any_of(CameraUptimeDay.camera_id, "camera_ids", dialect), CameraUptimeDay.day >= bindparam("since"))
            .group_by(CameraUptimeDay.camera_id))


def _uptime_since() -> date:
    return date.today() - timedelta(days=30)


def uptime(ok, checks) -> float | None:
    """Good checks over checks, to four places; None before the first check."""
    return round(int(ok or 0) / int(checks), 4) if checks else None


def report_period(first) -> dict:
    """The period a report covers: from its first entry (a date or ISO text; none yet: today) to
    today, both Vietnamese calendar days (ISO text), and the day it was made."""
    today = vn_now().date()
    start = date.fromisoformat(str(first)[:10]) if first else today
    return {"period_from": min(start, today).isoformat(), "period_to": today.isoformat(),
            "generated_on": today.isoformat()}


def _account_balances(commune_id: int):
    """[(account, phase_key, amount)] from the cache of the postings."""
    accounts = {a.id: a for a in db.session.execute(
        select(Account).where(Account.commune_id == commune_id)).scalars()}
    return [(accounts[a], p, v) for (a, p), v in ledger.balances(commune_id).items() if a in accounts and v]


def chairman_summary(commune_id: int) -> dict:
    """Raised against target per phase, budget vs socialised, shares by village, spending by kind, balance."""
    unit = db.session.execute(select(AdminUnit).where(AdminUnit.id == commune_id)).scalar_one()
    sponsors = {s.id: s for s in db.session.execute(select(Sponsor).where(Sponsor.commune_id == unit.id)).scalars()}
    phases = list(db.session.execute(select(FundingPhase).where(FundingPhase.commune_id == unit.id)
                                     .order_by(FundingPhase.id)).scalars())
    per_phase = defaultdict(lambda: {"raised": 0, "budget": 0, "socialised": 0, "spent": 0})
    spending = {k: 0 for k in EXPENSE_KINDS}
    totals = {"cash": 0, "bank": 0, "outstanding_pledges": 0}
    collected_by_village: dict[int, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    for acct, phase_key, amount in _account_balances(unit.id):
        bucket = per_phase[phase_key]
        if acct.type == "money":
            totals["cash" if acct.code == "1111" else "bank"] += amount
        elif acct.type in ledger.SPONSOR_ACCOUNT_TYPES:
            if acct.type == "receivable":
                totals["outstanding_pledges"] += amount
            raised = -amount
            sponsor = sponsors.get(acct.sponsor_id)
            source = "budget" if sponsor is not None and sponsor.kind == "budget" else "socialised"
            bucket["raised"] += raised
            bucket[source] += raised
            by_source[sponsor.kind if sponsor else "household"] += raised
            if acct.village_id:
                collected_by_village[acct.village_id] += raised
        elif acct.kind in spending:
            spending[acct.kind] += amount
            bucket["spent"] += amount
    by_phase = []
    for ph in phases:
        b = per_phase.get(ph.id, {"raised": 0, "budget": 0, "socialised": 0, "spent": 0})
        by_phase.append({"id": ph.id, "name": ph.name, "target": ph.target, "cameras_planned": ph.cameras_planned,
                         **b, "progress": round(b["raised"] / ph.target, 4) if ph.target else None})
    if 0 in per_phase and any(per_phase[0].values()):
        by_phase.append({"id": None, "name": None, "target": 0, "cameras_planned": 0, **per_phase[0],
                         "progress": None})
    by_village = _shares_by_village(unit.id, collected_by_village)
    raised = sum(b["raised"] for b in per_phase.values())
    seq, head_hash = ledger.head(unit.id)
    first = db.session.execute(select(func.min(JournalTransaction.occurred_on))
                               .where(JournalTransaction.commune_id == unit.id)).scalar()
    return {
        **report_period(first),
        "commune": {"id": unit.id, "name": unit.name, "code": unit.code},
        "target": sum(p.target for p in phases),
        "raised": raised,
        "budget": sum(b["budget"] for b in per_phase.values()),
        "socialised": sum(b["socialised"] for b in per_phase.values()),
        "by_source": dict(by_source),
        "spent": sum(spending.values()),
        "balance": totals["cash"] + totals["bank"],
        "cash": totals["cash"], "bank": totals["bank"],
        "outstanding_pledges": totals["outstanding_pledges"],
        "by_phase": by_phase,
        "by_village": by_village,
        "spending_by_kind": spending,
        "sponsors": len(sponsors),
        "head_seq": seq, "head_hash": head_hash,
    }


def _shares_by_village(commune_id: int, collected: dict[int, int]) -> list[dict]:
    today = date.today()
    rows = db.session.execute(
        select(Village.id, Village.name, HouseholdShare.amount_due, HouseholdShare.paid, ShareCampaign.due_date)
        .join(HouseholdShare, HouseholdShare.village_id == Village.id)
        .join(ShareCampaign, ShareCampaign.id == HouseholdShare.campaign_id)
        .where(HouseholdShare.commune_id == commune_id)).all()
    out: dict[int, dict] = {}
    for vid, vname, due, paid, due_date in rows:
        v = out.setdefault(vid, {"village_id": vid, "village": vname, "households": 0, "paid": 0, "arrears": 0,
                                 "pending": 0, "due": 0, "collected": collected.get(vid, 0)})
        v["households"] += 1
        v["due"] += due
        if paid >= due:
            v["paid"] += 1
        elif due_date < today:
            v["arrears"] += 1
        else:
            v["pending"] += 1
    return sorted(out.values(), key=lambda v: v["village"])


def _json_list(dialect: str, fields: dict, source, *where):
    """A scalar subquery of ``source``'s rows as a JSON array of objects (``fields``: key -> column),
    '[]' when there are none: PostgreSQL's json_agg, SQLite's json_group_array. Unordered: the
    reader sorts (``_rows``). Keys are this module's own constants, written into the SQL."""
    pairs = [part for key, column in fields.items() for part in (literal_column(f"'{key}'"), column)]
    if dialect == "postgresql":
        rows = func.coalesce(func.json_agg(func.json_build_object(*pairs)), literal_column("'[]'::json"))
    else:
        rows = func.coalesce(func.json_group_array(func.json_object(*pairs)), literal_column("'[]'"))
    return select(rows).select_from(source).where(*where).scalar_subquery()


def _json_value(dialect: str, subquery):
    """A JSON value made by a subquery, to nest in a ``_json_list`` object (SQLite hands a subquery's
    JSON over as text, which json() turns back into JSON)."""
    return subquery if dialect == "postgresql" else func.json(subquery)


def _rows(value, *order: str) -> list[dict]:
    """The objects of a ``_json_list`` (psycopg hands JSON over decoded, SQLite as text), sorted."""
    rows = json.loads(value) if isinstance(value, str) else list(value or ())
    return sorted(rows, key=lambda r: tuple(r[k] for k in order))


@functools.cache
def _sponsor_statements(dialect: str) -> dict:
    """A sponsor's report in one statement (and the incidents' count), built once (building it cost a
    tenth of a report's time): the sponsor, its commune, its balances, the commune's chain head,
    and as JSON lists its pledges, allocations, receipts and funded cameras with their checks of
    the last 30 days (each list a statement of its own cost the web ~0.4 ms)."""
    sponsor_id = bindparam("sponsor_id")
    funded = select(Allocation.camera_id).where(Allocation.sponsor_id == sponsor_id)
    funded_phases = (select(FundingPhase.name).join(Allocation, Allocation.phase_id == FundingPhase.id)
                     .where(Allocation.sponsor_id == sponsor_id))
    checks = (select(_json_array(dialect, func.sum(CameraUptimeDay.ok), func.sum(CameraUptimeDay.checks)))
              .where(CameraUptimeDay.camera_id == Camera.id, CameraUptimeDay.day >= bindparam("since"))
              .scalar_subquery())
    return {
        "header": (
            select(Sponsor.id, Sponsor.commune_id, Sponsor.name, Sponsor.kind, AdminUnit.name.label("commune"),
                   *ledger.sponsor_balance_columns(Sponsor.id), *ledger.head_columns(Sponsor.commune_id),
                   _json_list(dialect, {"id": Pledge.id, "amount": Pledge.amount, "paid": Pledge.paid,
                                        "due_date": Pledge.due_date, "status": Pledge.status},
                              Pledge, Pledge.sponsor_id == Sponsor.id).label("pledges"),
                   _json_list(dialect, {"id": Allocation.id, "amount": Allocation.amount, "phase": FundingPhase.name,
                                        "camera_id": Allocation.camera_id, "note": Allocation.note},
                              outerjoin(Allocation, FundingPhase, FundingPhase.id == Allocation.phase_id),
                              Allocation.sponsor_id == Sponsor.id).label("allocations"),
                   _json_list(dialect, {"id": Receipt.id, "number": Receipt.number, "amount": Receipt.amount,
                                        "method": Receipt.method, "received_on": Receipt.received_on,
                                        "description": Receipt.description, "reversed_by": Receipt.reversed_by_id},
                              Receipt, Receipt.sponsor_id == Sponsor.id).label("receipts"),
                   # the cameras an allocation names, or that belong to a phase an allocation names
                   _json_list(dialect, {"id": Camera.id, "code": Camera.code, "name": Camera.name,
                                        "status": Camera.status, "checks": _json_value(dialect, checks)},
                              Camera, Camera.commune_id == Sponsor.commune_id,
                              or_(Camera.id.in_(funded), Camera.phase.in_(funded_phases))).label("cameras"))
            .join(AdminUnit, AdminUnit.id == Sponsor.commune_id))
        .where(Sponsor.id == sponsor_id),
    }


def _json_array(dialect: str, *values):
    return func.json_build_array(*values) if dialect == "postgresql" else func.json_array(*values)


def sponsor_summary(sponsor_id: int) -> dict:
    """Pledged, paid, allocations, funded cameras with status and 30-day uptime, and the chain head.
    Checks that the caller may read the sponsor (the commune's readers, or the sponsor itself):
    404 otherwise, as for a sponsor that does not exist."""
    from .access import readable_sponsor
    from .spending import position_of

    statements = _sponsor_statements(dialect_name())
    header = db.session.execute(statements["header"], {"sponsor_id": sponsor_id, "since": _uptime_since()}).first()
    if header is None:
        raise NotFoundError()
    readable_sponsor(header)
    position = position_of(ledger.balances_by_type(header))
    pledges = _rows(header.pledges, "id")
    allocations = _rows(header.allocations, "id")
    cams = _rows(header.cameras, "code")
    codes = {c["id"]: c["code"] for c in cams}
    for a in allocations:
        a["camera_code"] = codes.get(a["camera_id"])
    receipts = _rows(header.receipts, "received_on", "id")
    cases = incidents_for_cameras(list(codes))
    return {
        "sponsor": {"id": header.id, "name": header.name, "kind": header.kind, "commune_id": header.commune_id,
                    "commune": header.commune},
        "pledged": sum(p["paid"] if p["status"] == "cancelled" else p["amount"] for p in pledges),
        "paid": position["paid"],
        "outstanding": position["outstanding"],
        "allocated": position["allocated"],
        "unallocated": position["unallocated"],
        "pledges": pledges,
        "receipts": [{"id": r["id"], "number": r["number"], "amount": r["amount"], "method": r["method"],
                      "received_on": r["received_on"], "description": r["description"],
                      "reversed": r["reversed_by"] is not None} for r in receipts],
        "allocations": allocations,
        "cameras": [{"id": c["id"], "code": c["code"], "name": c["name"], "status": c["status"],
                     "uptime_30d": uptime(*c["checks"])} for c in cams],
        # the page and the PDF both count the cases from here: per category, and the one total
        "incidents": cases,
        "incidents_total": sum(int(c["count"]) for c in cases),
        "incidents_clarified": sum(int(c["clarified_by_camera"]) for c in cases),
        "head_seq": header.head_seq,
        "head_hash": header.head_hash,
        **report_period(min((str(r["received_on"]) for r in receipts), default=None)),
    }


def public_summary(commune_id: int) -> dict:
    """Aggregates only: no household's name, reference or payment (Luật BVDLCN 91/2025)."""
    s = chairman_summary(commune_id)
    return {
        "commune": {"id": s["commune"]["id"], "name": s["commune"]["name"]},
        "target": s["target"], "raised": s["raised"], "budget": s["budget"], "socialised": s["socialised"],
        "spent": s["spent"], "balance": s["balance"],
        "by_phase": [{k: p[k] for k in ("name", "target", "raised", "spent", "cameras_planned")} for p in s["by_phase"]],
        "spending_by_kind": s["spending_by_kind"],
        "households_total": sum(v["households"] for v in s["by_village"]),
        "households_paid": sum(v["paid"] for v in s["by_village"]),
        "sponsors": [{"name": sp.name, "kind": sp.kind} for sp in db.session.execute(
            select(Sponsor).where(Sponsor.commune_id == commune_id, Sponsor.kind != "household")
            .order_by(Sponsor.name)).scalars()],
        "head_seq": s["head_seq"], "head_hash": s["head_hash"],
    }


# ---- CSV (UTF-8 with BOM so Excel shows the diacritics) -------------------------------------

def _csv(rows: list[list]) -> bytes:
    return csvsafe.dumps(rows, bom=True).encode("utf-8")  # names and descriptions cannot run as formulas


def _t(lang: str, pair: tuple[str, str]) -> str:
    return pair[1] if lang == "en" else pair[0]


def chairman_csv(summary: dict, lang: str = "vi") -> bytes:
    L = lambda vi, en: en if lang == "en" else vi  # noqa: E731
    rows = [[L("Báo cáo tài chính camera an ninh", "Camera funding report"), summary["commune"]["name"]],
            [L("Mục tiêu", "Target"), summary["target"]], [L("Đã huy động", "Raised"), summary["raised"]],
            [L("Ngân sách", "Budget"), summary["budget"]], [L("Xã hội hóa", "Socialised"), summary["socialised"]],
            [L("Đã chi", "Spent"), summary["spent"]], [L("Số dư", "Balance"), summary["balance"]], [],
            [L("Giai đoạn", "Phase"), L("Mục tiêu", "Target"), L("Đã huy động", "Raised"), L("Ngân sách", "Budget"),
             L("Xã hội hóa", "Socialised"), L("Đã chi", "Spent")]]
    for p in summary["by_phase"]:
        rows.append([p["name"] or L("Chưa phân giai đoạn", "No phase"), p["target"], p["raised"], p["budget"],
                     p["socialised"], p["spent"]])
    rows += [[], [L("Thôn/khu phố", "Village"), L("Số hộ", "Households"), L("Đã nộp", "Paid"),
                  L("Nợ đọng", "In arrears"), L("Đã thu (đồng)", "Collected (đồng)")]]
    for v in summary["by_village"]:
        rows.append([v["village"], v["households"], v["paid"], v["arrears"], v["collected"]])
    rows += [[], [L("Loại chi", "Spending kind"), L("Số tiền", "Amount")]]
    for kind, amount in summary["spending_by_kind"].items():
        rows.append([_t(lang, KIND_LABELS[kind]), amount])
    rows += [[], [L("Mã băm đầu chuỗi", "Chain head hash"), summary["head_seq"], summary["head_hash"]]]
    return _csv(rows)


def sponsor_csv(summary: dict, lang: str = "vi") -> bytes:
    L = lambda vi, en: en if lang == "en" else vi  # noqa: E731
    sp = summary["sponsor"]
    rows = [[L("Báo cáo nhà tài trợ", "Sponsor report"), sp["name"], sp["commune"]],
            [L("Cam kết", "Pledged"), summary["pledged"]], [L("Đã nộp", "Paid"), summary["paid"]],
            [L("Đã phân bổ", "Allocated"), summary["allocated"]], [],
            [L("Phiếu thu", "Receipt"), L("Ngày", "Date"), L("Số tiền", "Amount"), L("Hình thức", "Method"),
             L("Nội dung", "Description")]]
    for r in summary["receipts"]:
        rows.append([r["number"], r["received_on"], r["amount"], r["method"], r["description"] or ""])
    rows += [[], [L("Phân bổ", "Allocation"), L("Giai đoạn", "Phase"), L("Camera", "Camera"), L("Số tiền", "Amount")]]
    for a in summary["allocations"]:
        rows.append([a["id"], a["phase"] or "", a["camera_code"] or "", a["amount"]])
    rows += [[], [L("Mã camera", "Camera code"), L("Tên", "Name"), L("Trạng thái", "Status"),
                  L("Hoạt động 30 ngày", "Uptime 30 days")]]
    for c in summary["cameras"]:
        rows.append([c["code"], c["name"], c["status"], "" if c["uptime_30d"] is None else f"{c['uptime_30d']:.1%}"])
    rows += [[], [L("Mã băm đầu chuỗi", "Chain head hash"), summary["head_seq"], summary["head_hash"]]]
    return _csv(rows)


def sponsor_report_pdf(sponsor_id: int, lang: str = "vi") -> bytes:
    return sponsor_pdf(sponsor_summary(sponsor_id), lang)


def chairman_report_pdf(commune_id: int, lang: str = "vi") -> bytes:
    return chairman_pdf(chairman_summary(commune_id), lang)

