"""Money and time helpers every feature shares: one currency sign, Vietnam time, calendar months."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from camnet import clock, money


def test_money_reads_with_dots_between_thousands_and_one_sign():
    assert money.dong(6_000_000) == "6.000.000 đ"
    assert money.dong(0) == "0 đ"
    assert money.dong(-1_500) == "-1.500 đ"
    assert money.dong(None) == "—"
    assert money.number(1200) == "1.200"
    assert money.number(999) == "999"
    assert money.number(None) == "—"


def test_vietnam_time_both_ways():
    naive_utc = datetime(2026, 1, 31, 20, 30)  # SQLite hands back naive UTC
    assert clock.to_vn(naive_utc) == datetime(2026, 2, 1, 3, 30, tzinfo=clock.VN_TZ)
    assert clock.to_vn(None) is None
    typed = datetime(2026, 2, 1, 3, 30)  # a form's time is Vietnam time
    assert clock.from_vn(typed) == datetime(2026, 1, 31, 20, 30, tzinfo=timezone.utc)
    assert clock.vn_day_start(date(2026, 2, 1)) == datetime(2026, 1, 31, 17, 0, tzinfo=timezone.utc)
    assert clock.utc_now().utcoffset() == timedelta(0)
    assert clock.vn_now().utcoffset() == timedelta(hours=7)


def test_months_run_back_across_the_new_year_and_start_in_vietnam():
    assert clock.months_back(3, date(2026, 2, 14)) == ["2025-12", "2026-01", "2026-02"]
    assert clock.months_back(1, date(2026, 2, 14)) == ["2026-02"]
    assert clock.month_start("2026-01") == datetime(2025, 12, 31, 17, 0, tzinfo=timezone.utc)


def test_money_and_time_filters_are_the_apps(app):
    env = app.jinja_env
    assert env.from_string("{{ 6000000|dong }} · {{ 1200|number }} · {{ 0.875|pct }}").render() == \
        "6.000.000 đ · 1.200 · 88%"
    assert env.from_string("{{ when|vntime }}").render(when=datetime(2026, 1, 31, 20, 30)) == "01/02/2026 03:30"
    assert "vnd" not in env.filters
