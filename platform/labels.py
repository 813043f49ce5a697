"""What people read for every stored code: (kind, value) -> (Vietnamese, English).

ONE place for the labels of enum values (camera states, fault rules, audit actions...), used by
pages through the ``label`` template filter (``{{ cam.status|label('camera_status') }}``), by
CSV exports and PDFs through :func:`label`. A value with no label is shown as itself, and the
page walk (tests/test_pages_labels.py) fails on it: add the label here.

Other features add their kinds at the END of ``LABELS`` (one kind per entry).
"""
from __future__ import annotations

from .i18n import t

LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "camera_status": {
        "active": ("Hoạt động", "Working"), "offline": ("Mất kết nối", "Offline"),
        "faulty": ("Hỏng", "Faulty"), "planned": ("Dự kiến lắp", "Planned"),
        "decommissioned": ("Đã tháo dỡ", "Decommissioned"),
    },
    # Camera.health: "ok", "unknown" or the fault rule that fired last
    "camera_health": {
        "ok": ("Tốt", "Good"), "unknown": ("Chưa kiểm tra", "Not checked yet"),
        "unreachable": ("Không kết nối được", "Unreachable"), "dark": ("Hình tối", "Dark picture"),
        "frozen": ("Hình đứng", "Frozen picture"), "blur": ("Hình mờ", "Blurred picture"),
        "covered": ("Bị che", "Covered"), "moved": ("Bị xoay lệch hướng", "Moved off its view"),
    },
    "fault_rule": {
        "unreachable": ("Không kết nối được", "Unreachable"), "dark": ("Hình tối", "Dark picture"),
        "frozen": ("Hình đứng", "Frozen picture"), "blur": ("Hình mờ", "Blurred picture"),
        "covered": ("Bị che", "Covered"), "moved": ("Bị xoay lệch hướng", "Moved off its view"),
        "low_uptime": ("Hoạt động kém (tỉ lệ thấp)", "Low uptime"),
    },
    "fault_status": {"open": ("Đang mở", "Open"), "closed": ("Đã xử lý", "Fixed")},
    "camera_kind": {"fixed": ("Cố định", "Fixed"), "ptz": ("Quay quét (PTZ)", "Pan-tilt-zoom")},
    "ownership": {"commune": ("Của xã", "Commune"), "household": ("Của hộ gia đình", "Household"),
                  "business": ("Của cơ sở kinh doanh", "Business")},
    "consent_share": {"live": ("Xem trực tiếp", "Live view"), "snapshots": ("Chỉ ảnh chụp", "Snapshots only"),
                      "on_request": ("Khi có yêu cầu", "On request")},
    "clip_status": {"pending": ("Đang chờ", "Waiting"), "recording": ("Đang ghi", "Recording"),
                    "ready": ("Sẵn sàng", "Ready"), "failed": ("Lỗi", "Failed")},
    "incident_status": {"open": ("Mới", "Open"), "investigating": ("Đang xác minh", "Investigating"),
                        "resolved": ("Đã giải quyết", "Resolved"), "referred": ("Đã chuyển cơ quan khác", "Referred")},
    "evidence_kind": {"snapshot": ("Ảnh chụp", "Snapshot"), "clip": ("Đoạn video", "Video clip"),
                      "manifest": ("Bảng kê chứng cứ", "Evidence manifest")},
    "export_status": {"pending": ("Đang chờ", "Waiting"), "building": ("Đang đóng gói", "Packing"),
                      "ready": ("Sẵn sàng tải", "Ready"), "failed": ("Lỗi", "Failed")},
    "pledge_status": {"open": ("Chưa nộp đủ", "Not fully paid"), "paid": ("Đã nộp", "Paid"),
                      "cancelled": ("Đã hủy", "Cancelled")},
    "receipt_method": {"cash": ("Tiền mặt", "Cash"), "bank": ("Chuyển khoản", "Bank transfer"),
                       "in_kind": ("Hiện vật", "In kind")},
    "in_kind_type": {"equipment": ("Thiết bị", "Equipment"), "service": ("Dịch vụ", "Service")},
    "expense_kind": {"equipment": ("Thiết bị", "Equipment"), "installation": ("Lắp đặt", "Installation"),
                     "repair": ("Sửa chữa", "Repair"), "connectivity": ("Đường truyền", "Connectivity"),
                     "other": ("Khác", "Other")},
    "sponsor_kind": {"company": ("Doanh nghiệp", "Company"), "organisation": ("Tổ chức", "Organisation"),
                     "household": ("Hộ gia đình", "Household"), "budget": ("Ngân sách", "State budget")},
    "delivery_state": {"pending": ("Đang chờ", "Waiting"), "sending": ("Đang gửi", "Sending"),
                       "delivered": ("Đã gửi", "Delivered"), "failed": ("Lỗi", "Failed")},
    "check": {"ok": ("Khớp", "Matches"), "differs": ("Không khớp", "Differs")},
    "audit_outcome": {"ok": ("Thành công", "Done"), "failed": ("Thất bại", "Failed"),
                      "locked": ("Bị khóa tạm", "Locked out"), "refused": ("Bị từ chối", "Refused"),
                      "denied": ("Bị từ chối", "Denied")},
    "audit_action": {
        "auth.signin": ("Đăng nhập", "Signed in"), "auth.signout": ("Đăng xuất", "Signed out"),
        "auth.mfa": ("Xác thực hai lớp", "Two-factor check"), "auth.sso": ("Đăng nhập qua SSO", "SSO sign-in"),
        "auth.session.end": ("Kết thúc một phiên", "Ended a session"),
        "auth.session.end_others": ("Đăng xuất các phiên khác", "Signed out other sessions"),
        "auth.session.revoke_all": ("Đăng xuất mọi nơi", "Signed out everywhere"),
        "media.view": ("Xem hình ảnh", "Viewed media"), "media.live": ("Xem trực tiếp", "Watched live"),
        "media.download": ("Tải video", "Downloaded video"), "media.playback": ("Xem lại ghi hình", "Played back a recording"),
        "evidence.download": ("Tải gói chứng cứ", "Downloaded an evidence package"),
        "evidence.export": ("Đóng gói chứng cứ", "Packed evidence"),
        "snapshot.evidence": ("Giữ ảnh làm chứng cứ", "Kept a snapshot as evidence"),
        "clip.evidence": ("Giữ đoạn video làm chứng cứ", "Kept a clip as evidence"),
        "snapshot.evidence.release": ("Thôi giữ ảnh làm chứng cứ", "Released a snapshot from evidence"),
        "clip.evidence.release": ("Thôi giữ đoạn video làm chứng cứ", "Released a clip from evidence"),
        "clip.request": ("Yêu cầu ghi đoạn video", "Requested a clip"),
        "incident.create": ("Ghi nhận vụ việc", "Logged an incident"),
        "incident.update": ("Cập nhật vụ việc", "Updated an incident"),
        "incident.evidence.add": ("Thêm chứng cứ vào vụ việc", "Added evidence to an incident"),
        "incident_category.create": ("Thêm loại vụ việc", "Added an incident category"),
        "incident_category.update": ("Sửa loại vụ việc", "Changed an incident category"),
        "camera.create": ("Thêm camera", "Added a camera"), "camera.update": ("Sửa camera", "Changed a camera"),
        "camera.import": ("Nhập danh sách camera", "Imported cameras"),
        "camera.decommission": ("Tháo dỡ camera", "Decommissioned a camera"),
        "camera.consent": ("Ghi nhận đồng ý chia sẻ", "Recorded sharing consent"),
        "camera.consent.revoke": ("Rút lại đồng ý chia sẻ", "Revoked sharing consent"),
        "camera.reference_reset": ("Đặt lại khung hình chuẩn", "Reset the reference view"),
        "camera.key": ("Cấp khóa camera", "Issued a camera key"),
        "camera.offline": ("Camera mất kết nối", "Camera went offline"),
        "camera.online": ("Camera hoạt động lại", "Camera back online"),
        "fault.close": ("Đóng phiếu sự cố", "Closed a fault ticket"),
        "recording.export": ("Xuất đoạn ghi hình", "Exported a recording"),
        "recording.settings": ("Đổi cài đặt ghi hình", "Changed recording settings"),
        "recording.trigger": ("Bật ghi hình", "Triggered recording"),
        "funding.allocation.create": ("Phân bổ khoản đóng góp", "Allocated a contribution"),
        "funding.campaign.create": ("Mở đợt vận động", "Opened a campaign"),
        "funding.expense.attach": ("Đính kèm chứng từ chi", "Attached an expense document"),
        "funding.expense.create": ("Ghi khoản chi", "Recorded an expense"),
        "funding.expense.download": ("Tải chứng từ chi", "Downloaded an expense document"),
        "funding.expense.reverse": ("Hủy khoản chi", "Reversed an expense"),
        "funding.journal.post": ("Ghi sổ", "Posted to the ledger"),
        "funding.phase.create": ("Mở giai đoạn", "Opened a phase"),
        "funding.pledge.cancel": ("Hủy cam kết đóng góp", "Cancelled a pledge"),
        "funding.pledge.create": ("Ghi cam kết đóng góp", "Recorded a pledge"),
        "funding.receipt.create": ("Ghi phiếu thu", "Recorded a receipt"),
        "funding.receipt.reverse": ("Hủy phiếu thu", "Reversed a receipt"),
        "funding.sponsor.create": ("Thêm nhà tài trợ", "Added a sponsor"),
        "role.grant": ("Cấp vai trò", "Granted a role"), "role.revoke": ("Thu hồi vai trò", "Revoked a role"),
        "sso.provider.create": ("Thêm nhà cung cấp SSO", "Added an SSO provider"),
        "sso.provider.enable": ("Bật SSO", "Enabled SSO"), "sso.provider.disable": ("Tắt SSO", "Disabled SSO"),
        "token.create": ("Tạo mã API", "Created an API token"), "token.revoke": ("Thu hồi mã API", "Revoked an API token"),
        "unit.create": ("Tạo đơn vị", "Created a unit"),
        "user.create": ("Tạo người dùng", "Created a user"), "user.activate": ("Mở khóa người dùng", "Reactivated a user"),
        "user.deactivate": ("Khóa người dùng", "Deactivated a user"),
        "user.update": ("Sửa thông tin người dùng", "Changed a user"),
        "user.password_change": ("Đổi mật khẩu", "Changed password"),
        "user.password_reset": ("Đặt lại mật khẩu", "Reset password"),
        "user.password_reset_issue": ("Cấp liên kết đặt lại mật khẩu", "Issued a password reset link"),
        "user.mfa.enrol": ("Đăng ký xác thực hai lớp", "Enrolled two-factor"),
        "user.mfa.disable": ("Tắt xác thực hai lớp", "Disabled two-factor"),
        "user.mfa.remove": ("Gỡ một cách xác thực", "Removed a second factor"),
        "user.mfa.reset": ("Đặt lại xác thực hai lớp", "Reset two-factor"),
        "user.mfa.recovery_codes": ("Tạo mã khôi phục", "Made recovery codes"),
    },
    # AuditEvent.object_type: what the object is ("Ảnh chụp", then when and which camera)
    "object_type": {
        "camera": ("Camera", "Camera"), "snapshot": ("Ảnh chụp", "Snapshot"), "clip": ("Đoạn video", "Video clip"),
        "incident": ("Vụ việc", "Incident"), "incident_category": ("Loại vụ việc", "Incident category"),
        "evidence_export": ("Gói chứng cứ", "Evidence package"), "fault_ticket": ("Phiếu sự cố", "Fault ticket"),
        "recording_segment": ("Đoạn ghi hình", "Recording"), "user": ("Người dùng", "User"),
        "session": ("Phiên đăng nhập", "Session"), "token": ("Mã API", "API token"), "unit": ("Đơn vị", "Unit"),
        "sso_provider": ("Nhà cung cấp SSO", "SSO provider"), "sponsor": ("Nhà tài trợ", "Sponsor"),
        "receipt": ("Phiếu thu", "Receipt"), "expense": ("Khoản chi", "Expense"), "pledge": ("Cam kết", "Pledge"),
        "allocation": ("Phân bổ", "Allocation"), "campaign": ("Đợt vận động", "Campaign"),
        "phase": ("Giai đoạn", "Phase"), "transaction": ("Bút toán", "Ledger entry"),
    },
    "role": {
        "admin": ("Quản trị nền tảng", "Platform admin"),
        "police": ("Công an", "Police"),
        "police@huyện": ("Công an huyện", "District police"),
        "police@tỉnh": ("Công an tỉnh", "Province police"),
        "chairman": ("Chủ tịch UBND xã", "Commune chairman"),
        "operator": ("Cán bộ trực camera", "Commune operator"),
        "technician": ("Kỹ thuật viên", "Technician"),
        "sponsor": ("Nhà tài trợ", "Sponsor"),
        "household": ("Hộ gia đình", "Household"),
        "video": ("Quyền xem hình ảnh", "Video grant"),
        "finance": ("Quyền xem tài chính", "Finance grant"),
    },
    "yes_no": {"True": ("Có", "Yes"), "False": ("Không", "No")},
    # a household's share as the funding charts count it (map/charts engineer)
    "share_state": {"paid": ("Đã nộp đủ", "Paid"), "pending": ("Chưa đến hạn", "Not yet due"),
                    "arrears": ("Quá hạn", "Overdue")},
}


def pair(value, kind: str) -> tuple[str, str]:
    """(Vietnamese, English) of a stored value; the value itself when it has no label yet."""
    key = str(value)
    got = LABELS.get(kind, {}).get(key)
    return got or (key, key)


def label(value, kind: str) -> str:
    """The label of ``value`` in the request's language ("–" for no value)."""
    if value is None or value == "":
        return "–"
    return t(*pair(value, kind))


def vi(value, kind: str) -> str:
    """The Vietnamese label whatever the request's language (PDFs and CSV files are Vietnamese)."""
    return "–" if value is None or value == "" else pair(value, kind)[0]


def role_label(role: str, unit_level: str | None = None) -> str:
    """A role as people call it; police by the level of the unit they were granted at."""
    if role == "police" and unit_level in ("huyện", "tỉnh"):
        return label(f"police@{unit_level}", "role")
    if role == "police" and unit_level in ("quận", "thị xã", "thành phố"):
        return label("police@huyện", "role")
    return label(role, "role")


# ---- what an audited object is, in words ---------------------------------------------------
# Features register, per object type, ``describe(ids) -> {id: text}`` (one query for a page of
# rows): "Ảnh chụp lúc 08:15 03/12/2026 (giờ Việt Nam), camera Chợ Núi Đối" instead of "snapshot 273".
DESCRIBERS = "camnet.object_describers"


def register_describer(app, object_type: str, describe) -> None:
    app.extensions.setdefault(DESCRIBERS, {})[object_type] = describe


def describe_objects(app, pairs) -> dict[tuple[str, str], str]:
    """{(object_type, object_id): words} for the (type, id) pairs given; a type no feature
    describes is named by its label and number ("Phiên đăng nhập số 12")."""
    by_type: dict[str, set[str]] = {}
    for kind, oid in pairs:
        if kind and oid:
            by_type.setdefault(kind, set()).add(str(oid))
    out: dict[tuple[str, str], str] = {}
    for kind, ids in by_type.items():
        describe = app.extensions.get(DESCRIBERS, {}).get(kind)
        named = {}
        if describe is not None:
            ints = sorted(int(i) for i in ids if i.isdigit())
            named = {str(k): v for k, v in (describe(ints) if ints else {}).items()}
        for oid in ids:
            out[(kind, oid)] = named.get(oid) or f"{label(kind, 'object_type')} {t('số', 'no.')} {oid}"
    return out


def one_language(message) -> str:
    """A "Vietnamese / English" message (as errors and checks write them) in the request's language."""
    text = str(message or "")
    if " / " not in text:
        return text
    vi_part, _, en_part = text.partition(" / ")
    head, sep, _ = vi_part.rpartition(": ")  # "name.jpg: SHA-256 khác manifest / sha256 differs ..."
    return t(vi_part, (head + sep if sep and not en_part.startswith(head) else "") + en_part)


def grant_label(grant) -> str:
    """A role grant as people call it: "Công an huyện" for police granted at a district."""
    unit = getattr(grant, "unit", None)
    return role_label(grant.role, getattr(unit, "level", None))


def init_app(app) -> None:
    app.add_template_filter(label, "label")
    app.add_template_filter(one_language, "one_language")
    app.jinja_env.globals.update(role_label=role_label, grant_label=grant_label)
