"""Funding reports from the ledger: the chairman's, a sponsor's, the public one; CSV for Excel.

``chairman_summary``, ``sponsor_summary`` and ``sponsor_report_pdf`` are the public interface
for the dashboards. They read through the caller's scope; the chairman's does not check
permissions (the caller, a route, does), a sponsor's checks that the caller may read that
sponsor (its first statement is the check). Money figures come from the balance cache of the postings
(``ledger.check_balances`` proves the cache equals the postings).
"""
from __future__ import annotations

import csv
import functools
import io
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import bindparam, func, or_, select

from ..errors import NotFoundError
from ..extensions import db
from ..streams.models import Camera, CameraUptimeDay
from ..tenants.models import AdminUnit, Village
from . import ledger
from .models import (EXPENSE_KINDS, Account, Allocation, FundingPhase, HouseholdShare, Pledge, Receipt,
                     ShareCampaign, Sponsor)

KIND_LABELS = {"equipment": ("Thiết bị", "Equipment"), "installation": ("Lắp đặt", "Installation"),
               "repair": ("Sửa chữa", "Repair"), "connectivity": ("Đường truyền", "Connectivity"),
               "other": ("Khác", "Other")}
SPONSOR_KIND_LABELS = {"company": ("Doanh nghiệp", "Company"), "organisation": ("Tổ chức", "Organisation"),
                       "household": ("Hộ gia đình", "Household"), "budget": ("Ngân sách", "State budget")}


def incidents_for_cameras(camera_ids: list[int]) -> list[dict]:
    """Cases these cameras helped with, once the incidents feature exists; [] until then."""
    try:
        from ..incidents import services as incidents  # type: ignore[attr-defined]
    except ImportError:
        return []
    finder = getattr(incidents, "incidents_for_cameras", None)
    return list(finder(camera_ids)) if callable(finder) and camera_ids else []


def uptime_30d(camera_ids: list[int]) -> dict[int, float | None]:
    if not camera_ids:
        return {}
    since = date.today() - timedelta(days=30)
    rows = db.session.execute(
        select(CameraUptimeDay.camera_id, func.sum(CameraUptimeDay.ok), func.sum(CameraUptimeDay.checks))
        .where(CameraUptimeDay.camera_id.in_(camera_ids), CameraUptimeDay.day >= since)
        .group_by(CameraUptimeDay.camera_id)).all()
    out: dict[int, float | None] = {cid: None for cid in camera_ids}
    for cid, ok, checks in rows:
        out[cid] = round(int(ok or 0) / int(checks), 4) if checks else None
    return out


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
        elif acct.type in ("receivable", "fund", "allocated"):
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
    return {
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


@functools.cache
def _sponsor_statements() -> dict:
    """A sponsor's report in five statements at most, built once (building them cost a tenth of a
    report's time), read as plain rows. The header carries the sponsor, its commune, its balances
    and the commune's chain head."""
    sponsor_id = bindparam("sponsor_id")
    return {
        "header": ledger.with_sponsor_balances(
            select(Sponsor.id, Sponsor.commune_id, Sponsor.name, Sponsor.kind, AdminUnit.name.label("commune"),
                   *ledger.sponsor_balance_columns(), *ledger.head_columns(Sponsor.commune_id))
            .join(AdminUnit, AdminUnit.id == Sponsor.commune_id), Sponsor.id)
        .where(Sponsor.id == sponsor_id).group_by(Sponsor.id, AdminUnit.id),
        "pledges": select(Pledge.id, Pledge.amount, Pledge.paid, Pledge.due_date, Pledge.status)
        .where(Pledge.sponsor_id == sponsor_id).order_by(Pledge.id),
        "allocations": select(Allocation.id, Allocation.amount, FundingPhase.name, Allocation.camera_id,
                              Allocation.note)
        .outerjoin(FundingPhase, FundingPhase.id == Allocation.phase_id)
        .where(Allocation.sponsor_id == sponsor_id).order_by(Allocation.id),
        "receipts": select(Receipt.id, Receipt.number, Receipt.amount, Receipt.method, Receipt.received_on,
                           Receipt.description, Receipt.reversed_by_id)
        .where(Receipt.sponsor_id == sponsor_id).order_by(Receipt.received_on, Receipt.id),
        # the cameras an allocation names, or that belong to a phase an allocation names
        "cameras": select(Camera.id, Camera.code, Camera.name, Camera.status)
        .where(Camera.commune_id == bindparam("commune_id"),
               or_(Camera.id.in_(bindparam("camera_ids", expanding=True)),
                   Camera.phase.in_(bindparam("phases", expanding=True))))
        .order_by(Camera.code),
    }


def sponsor_summary(sponsor: Sponsor | int) -> dict:
    """Pledged, paid, allocations, funded cameras with status and 30-day uptime, and the chain head.
    Checks that the caller may read the sponsor (the commune's readers, or the sponsor itself):
    404 otherwise, as for a sponsor that does not exist."""
    from .access import readable_sponsor
    from .spending import position_of

    statements = _sponsor_statements()
    params = {"sponsor_id": sponsor.id if isinstance(sponsor, Sponsor) else sponsor}
    header = db.session.execute(statements["header"], params).first()
    if header is None:
        raise NotFoundError()
    readable_sponsor(header)
    position = position_of(ledger.balances_by_type(header))
    pledges = db.session.execute(statements["pledges"], params).all()
    allocations = [{"id": i, "amount": amount, "phase": phase, "camera_id": camera_id, "note": note}
                   for i, amount, phase, camera_id, note in db.session.execute(statements["allocations"], params)]
    camera_ids = sorted({a["camera_id"] for a in allocations if a["camera_id"]})
    phase_names = sorted({a["phase"] for a in allocations if a["phase"] is not None})
    cams = db.session.execute(statements["cameras"], {"commune_id": header.commune_id, "camera_ids": camera_ids,
                                                      "phases": phase_names}).all() if allocations else []
    codes = {c.id: c.code for c in cams}
    for a in allocations:
        a["camera_code"] = codes.get(a["camera_id"])
    uptime = uptime_30d(list(codes))
    receipts = db.session.execute(statements["receipts"], params).all()
    return {
        "sponsor": {"id": header.id, "name": header.name, "kind": header.kind, "commune_id": header.commune_id,
                    "commune": header.commune},
        "pledged": sum(paid if status == "cancelled" else amount for _, amount, paid, _, status in pledges),
        "paid": position["paid"],
        "outstanding": position["outstanding"],
        "allocated": position["allocated"],
        "unallocated": position["unallocated"],
        "pledges": [{"id": i, "amount": amount, "paid": paid, "due_date": due.isoformat(), "status": status}
                    for i, amount, paid, due, status in pledges],
        "receipts": [{"id": r.id, "number": r.number, "amount": r.amount, "method": r.method,
                      "received_on": r.received_on.isoformat(), "description": r.description,
                      "reversed": r.reversed_by_id is not None} for r in receipts],
        "allocations": allocations,
        "cameras": [{"id": c.id, "code": c.code, "name": c.name, "status": c.status, "uptime_30d": uptime.get(c.id)}
                    for c in cams],
        "incidents": incidents_for_cameras(list(codes)),
        "head_seq": header.head_seq,
        "head_hash": header.head_hash,
        "generated_on": date.today().isoformat(),
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
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow(row)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


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
    from .pdf import sponsor_pdf

    return sponsor_pdf(sponsor_summary(sponsor_id), lang)


def chairman_report_pdf(commune_id: int, lang: str = "vi") -> bytes:
    from .pdf import chairman_pdf

    return chairman_pdf(chairman_summary(commune_id), lang)


def dong(amount: int | None) -> str:
    """1.250.000 ₫ (Vietnamese thousands separator)."""
    return "—" if amount is None else f"{amount:,}".replace(",", ".") + " ₫"
