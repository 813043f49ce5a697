"""The kinds of event that become alerts: who may hear each, its defaults, and its words.

Each kind names the permission a recipient must hold at the event's unit (``perm``); targeted kinds
(a sponsor's own pledge, a household's own share, the requester of an export) also reach the owner
through ``owner_perm``. ``render`` writes the text for one recipient from the facts and their scope,
so a field the recipient may not see never enters their message.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from ..clock import VN_TZ
from ..money import dong


def vn_time(value, en: bool = False) -> str:
    """A time for people: ISO 8601 with its explicit +07:00 offset, labelled as Vietnam time."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # stored UTC (SQLite hands back naive values)
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(VN_TZ).replace(microsecond=0).isoformat() + (" (Vietnam time)" if en else " (giờ Việt Nam)")


def iso(value) -> str | None:
    """ISO 8601 with +07:00 for machines (webhooks, push payloads)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(VN_TZ).isoformat()


@dataclass(frozen=True)
class Kind:
    code: str
    perm: str                      # held at the event's unit by every staff recipient
    roles: tuple                   # roles subscribed by default
    label: tuple                   # (vi, en)
    severity: str = "info"
    needs_ack: bool = False
    owner_perm: str | None = None  # targeted recipients (payload names them) hold this instead
    groupable: bool = False        # camera offline / online: a power cut is one alert


KINDS: dict[str, Kind] = {k.code: k for k in (
    Kind("camera.offline", "faults.read", ("technician", "operator"),
         ("Camera mất kết nối", "Camera offline"), "warning", True, groupable=True),
    Kind("camera.online", "faults.read", ("technician", "operator"),
         ("Camera kết nối lại", "Camera back online"), groupable=True),
    Kind("cameras.mass_offline", "faults.read", ("technician", "operator", "chairman", "police"),
         ("Nhiều camera mất kết nối cùng lúc", "Many cameras down at once"), "critical", True),
    Kind("cameras.mass_online", "faults.read", ("technician", "operator", "chairman", "police"),
         ("Các camera đã kết nối lại", "Cameras back online")),
    Kind("fault.opened", "faults.read", ("technician",), ("Phiếu sự cố mới", "Fault opened"), "warning", True),
    Kind("fault.overdue", "faults.read", ("technician", "chairman"),
         ("Sự cố quá hạn chưa sửa", "Fault unresolved past its deadline"), "warning", True),
    Kind("worker.lost", "units.manage", ("admin",), ("Mất tiến trình thu hình", "Capture worker lost"),
         "critical", True),
    Kind("incident.created", "incidents.read", ("police", "operator"), ("Vụ việc mới", "New incident")),
    Kind("incident.referred", "incidents.read", ("police",),
         ("Vụ việc được chuyển lên huyện", "Incident referred to the district"), "warning"),
    Kind("export.ready", "incidents.read", (), ("Gói chứng cứ đã sẵn sàng", "Evidence export ready"),
         owner_perm="incidents.read"),
    Kind("consent.revoked", "cameras.read", ("operator", "chairman"),
         ("Chủ camera rút lại đồng ý chia sẻ", "Camera owner revoked consent"), "warning"),
    Kind("pledge.overdue", "funding.read", ("chairman",), ("Cam kết tài trợ quá hạn", "Pledge overdue"),
         "warning", owner_perm="sponsor.own"),
    Kind("share.overdue", "funding.read", ("chairman",), ("Khoản đóng góp quá hạn", "Household share overdue"),
         "info", owner_perm="household.own"),
    Kind("storage.quota", "cameras.read", ("chairman", "admin"),
         ("Dung lượng lưu trữ sắp hết", "Storage quota nearly used"), "warning"),
    Kind("ledger.broken", "funding.read", ("chairman", "admin"),
         ("Sổ cái bị sai lệch chuỗi băm", "Ledger chain check failed"), "critical", True),
)}
GROUPED = {"camera.offline": "cameras.mass_offline", "camera.online": "cameras.mass_online"}


def _camera_line(f: dict) -> tuple[str, str]:
    code, name = f.get("camera_code", ""), f.get("camera_name", "")
    return f"{code} «{name}»", f"{code} “{name}”"


def render(kind: str, facts: dict, scope, unit_id: int, owner: bool = False) -> dict:
    """Title and body (vi, en) and a link for one recipient. ``owner``: they hear it as the owner
    (sponsor, household, requester), so only their own item's facts are written."""
    k = KINDS[kind]
    vi, en = [], []
    link = None
    when, when_en = vn_time(facts.get("at")), vn_time(facts.get("at"), en=True)
    commune = facts.get("commune_name", "")
    if kind in ("camera.offline", "camera.online"):
        cv, ce = _camera_line(facts)
        vi.append(f"Camera {cv} — {commune}")
        en.append(f"Camera {ce} — {commune}")
        link = "/faults"
    elif kind in ("cameras.mass_offline", "cameras.mass_online"):
        n = facts.get("count", 0)
        codes = ", ".join(facts.get("camera_codes", [])[:20])
        more = "" if n <= 20 else f" (+{n - 20})"
        vi.append(f"{n} camera ở {commune}: {codes}{more}")
        en.append(f"{n} cameras in {commune}: {codes}{more}")
        if kind == "cameras.mass_offline":
            vi.append("Có thể mất điện hoặc mất đường truyền khu vực.")
            en.append("Likely a power cut or a network outage in the area.")
        link = "/faults"
    elif kind in ("fault.opened", "fault.overdue"):
        cv, ce = _camera_line(facts)
        vi.append(f"Camera {cv} — {commune}: lỗi «{facts.get('rule')}» (phiếu #{facts.get('ticket_id')})")
        en.append(f"Camera {ce} — {commune}: “{facts.get('rule')}” (ticket #{facts.get('ticket_id')})")
        if kind == "fault.overdue":
            vi.append(f"Mở từ {vn_time(facts.get('opened_at'))}, quá hạn {facts.get('deadline_hours')} giờ.")
            en.append(f"Open since {vn_time(facts.get('opened_at'), en=True)}, past its {facts.get('deadline_hours')} h deadline.")
        link = "/faults"
    elif kind == "worker.lost":
        vi.append(f"Tiến trình {facts.get('worker')} không còn báo sống; còn {facts.get('live')} tiến trình.")
        en.append(f"Worker {facts.get('worker')} stopped reporting; {facts.get('live')} still alive.")
    elif kind in ("incident.created", "incident.referred"):
        vi.append(f"Số vụ #{facts.get('incident_id')} «{facts.get('title')}» — {commune}")
        en.append(f"Case #{facts.get('incident_id')} “{facts.get('title')}” — {commune}")
        link = f"/incidents/{facts.get('incident_id')}"
    elif kind == "export.ready":
        vi.append(f"Gói chứng cứ #{facts.get('export_id')} của vụ #{facts.get('incident_id')} đã sẵn sàng tải về.")
        en.append(f"Evidence export #{facts.get('export_id')} of case #{facts.get('incident_id')} is ready.")
        link = f"/incidents/{facts.get('incident_id')}"
    elif kind == "consent.revoked":
        cv, ce = _camera_line(facts)
        vi.append(f"Camera {cv} — {commune}: ngừng chia sẻ hình ảnh.")
        en.append(f"Camera {ce} — {commune}: sharing stopped.")
    elif kind == "pledge.overdue":
        amount = dong(facts.get('amount', 0) - facts.get('paid', 0))
        if owner:
            vi.append(f"Cam kết #{facts.get('pledge_id')} của quý vị còn {amount}, hạn {facts.get('due_date')}.")
            en.append(f"Your pledge #{facts.get('pledge_id')} has {amount} outstanding, due {facts.get('due_date')}.")
        else:
            vi.append(f"{facts.get('sponsor_name')}: cam kết #{facts.get('pledge_id')} còn {amount}, "
                      f"hạn {facts.get('due_date')} — {commune}")
            en.append(f"{facts.get('sponsor_name')}: pledge #{facts.get('pledge_id')} has {amount} outstanding, "
                      f"due {facts.get('due_date')} — {commune}")
    elif kind == "share.overdue":
        amount = dong(facts.get('amount_due', 0) - facts.get('paid', 0))
        if owner:
            vi.append(f"Khoản đóng góp «{facts.get('campaign')}» của hộ còn {amount}, hạn {facts.get('due_date')}.")
            en.append(f"Your household's share “{facts.get('campaign')}” has {amount} outstanding, "
                      f"due {facts.get('due_date')}.")
        else:
            vi.append(f"Hộ {facts.get('household_ref')}: «{facts.get('campaign')}» còn {amount} — {commune}")
            en.append(f"Household {facts.get('household_ref')}: “{facts.get('campaign')}” {amount} "
                      f"outstanding — {commune}")
    elif kind == "storage.quota":
        vi.append(f"{commune}: đã dùng {facts.get('percent')}% của {facts.get('quota_gb')} GB.")
        en.append(f"{commune}: {facts.get('percent')}% of {facts.get('quota_gb')} GB used.")
    elif kind == "ledger.broken":
        vi.append(f"{commune}: chuỗi sổ cái sai từ giao dịch số {facts.get('seq')} ({facts.get('reason')}).")
        en.append(f"{commune}: the ledger chain breaks at seq {facts.get('seq')} ({facts.get('reason')}).")
    if when:
        vi.append(f"Lúc {when}")
        en.append(f"At {when_en}")
    return {"title_vi": k.label[0], "title_en": k.label[1], "body_vi": "\n".join(vi), "body_en": "\n".join(en),
            "link": link}
