"""Time: now in UTC, Vietnam time (UTC+7 all year, no daylight saving) and calendar months.

The database keeps UTC; what operators type and read is Vietnam time.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7))
VN_ZONE_NAME = "Asia/Ho_Chi_Minh"  # the same offset, as the database names it


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def vn_now() -> datetime:
    return datetime.now(VN_TZ)


def to_vn(value: datetime | None) -> datetime | None:
    """A stored time in Vietnam time (SQLite hands back naive UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(VN_TZ)


def from_vn(value: datetime) -> datetime:
    """A typed time in UTC: naive times come from forms in Vietnam time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=VN_TZ)
    return value.astimezone(timezone.utc)


def vn_day_start(day: date) -> datetime:
    """Midnight of a Vietnamese calendar day, in UTC."""
    return datetime.combine(day, time.min, tzinfo=VN_TZ).astimezone(timezone.utc)


def months_back(n: int = 12, today: date | None = None) -> list[str]:
    """The last ``n`` months as 'YYYY-MM', oldest first, ending with this month (Vietnam time)."""
    today = today or vn_now().date()
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def month_start(month: str) -> datetime:
    """The first moment of a month 'YYYY-MM' in Vietnam, in UTC."""
    y, m = (int(x) for x in month.split("-"))
    return datetime(y, m, 1, tzinfo=VN_TZ).astimezone(timezone.utc)
