"""Each role's home page in Chromium at desk (1366×800) and phone (390×844) size: the numbers it
must answer with, Vietnamese labels, no raw codes, and a menu that collapses at phone width
(issue #14). Screenshots go to test-artifacts/screenshots/role-*.png."""
from __future__ import annotations

import re

import pytest

from .test_browser import _shot, _signed_in

DESK = (1366, 800)
PHONE = (390, 844)
RAW = re.compile(r"\b(active|offline|faulty|planned|decommissioned|None|True|False)\b|\{\"|media\.view")

# what each person must see on their home page, in Vietnamese
MUST_SEE = {
    "congan.huyen": ["camera đang hỏng, mất kết nối", "phiếu sự cố đang mở", "vụ việc 7 ngày qua",
                     "Camera đang hỏng và ở đâu", "Công an huyện"],
    "congan.tinh": ["camera đang hỏng, mất kết nối", "vụ việc 7 ngày qua", "Công an tỉnh"],
    "chutich.nuidoi": ["camera đang hoạt động", "thôn chưa có camera hoạt động", "Đã huy động",
                       "Đã phân bổ cho camera, giai đoạn", "Đã chi", "sự cố chờ sửa"],
    "vanhanh.nuidoi": ["vụ việc hôm nay", "Mở tường camera", "Ghi nhận vụ việc"],
    "kythuat.nuidoi": ["Việc sửa chữa, cũ nhất trước", "phiếu sự cố đang mở"],
    "taitro.viettel": ["đã nộp", "đã phân bổ", "chưa phân bổ", "camera được tài trợ"],
    "hogiadinh.bensung": ["Phần đóng góp của gia đình", "phải nộp"],
    "admin": ["người dùng đang hoạt động", "Tình trạng hệ thống"],
}


def _main_text(page) -> str:
    return page.inner_text("main")


@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
@pytest.mark.parametrize("username", list(MUST_SEE))
def test_home_answers_the_role_question(browser, server, username, size):  # noqa: F811
    context, page = _signed_in(browser, server, username, *size)
    page.goto(server["url"] + "/?lang=vi")
    text = _main_text(page)
    for words in MUST_SEE[username]:
        assert words in text, f"{username} at {size}: {words!r} missing"
    assert not RAW.search(text), RAW.search(text).group(0)
    assert re.search(r"\d", text), "a home page shows numbers first"
    _shot(page, f"role-{username}-{'phone' if size == PHONE else 'desk'}")
    context.close()


def test_menu_collapses_at_phone_width_and_opens_with_its_button(browser, server):  # noqa: F811
    context, page = _signed_in(browser, server, "chutich.nuidoi", *PHONE)
    toggle = page.locator("[data-nav-toggle]")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator("#main-nav").is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    ledger = page.locator("#main-nav a", has_text="Sổ thu chi")
    assert ledger.is_visible()
    _shot(page, "role-menu-open-phone")
    ledger.click()
    page.wait_for_url(re.compile(r"/funding/communes/\d+"))  # the ledger page is reachable from the menu
    page.keyboard.press("Escape")
    context.close()
    context, page = _signed_in(browser, server, "chutich.nuidoi", *DESK)
    assert not page.locator("[data-nav-toggle]").is_visible() and page.locator("#main-nav").is_visible()
    context.close()


def test_household_and_sponsor_menus_have_no_api_tokens(browser, server):  # noqa: F811
    for username in ("hogiadinh.bensung", "taitro.viettel"):
        context, page = _signed_in(browser, server, username, *DESK)
        assert "Mã API" not in page.inner_text("#main-nav")
        context.close()


def test_audit_log_reads_in_words_and_filters(browser, server):  # noqa: F811
    context, page = _signed_in(browser, server, "congan.huyen", *DESK)
    page.goto(server["url"] + "/audit?lang=vi")
    text = _main_text(page)
    assert "Đăng nhập" in text and "giờ Việt Nam" in text and "auth.signin" not in text
    page.select_option("select[name=action]", "auth.signin")
    page.click("form.filters button[type=submit]")
    rows = page.locator("table.audit tbody tr").all_inner_texts()
    assert rows and all("Đăng nhập" in r for r in rows)
    _shot(page, "role-audit-filtered")
    context.close()
