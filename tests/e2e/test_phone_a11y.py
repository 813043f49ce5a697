"""Each role's main pages at phone width (390x844) do not scroll sideways, and axe-core finds no
serious or critical accessibility violation on them; the keyboard reaches a "skip to content"
link first; the favicon is served. axe-core is installed by scripts/services/axe/install.sh (npm
ci from its lock file) and injected through Playwright; screenshots go to test-artifacts/."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .test_browser import CHROMIUM, PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "phone"
AXE_INSTALL = ROOT / "scripts" / "services" / "axe" / "install.sh"

# each demo role -> its main pages (endpoints): home first, then what its menu leads to
ROLE_PAGES = {
    "admin": ["tenants.home", "tenants.users", "tenants.units"],
    "congan.huyen": ["tenants.home", "dashboards.oversight", "incidents.incident_list"],
    "congan.tinh": ["tenants.home", "dashboards.oversight"],
    "chutich.nuidoi": ["tenants.home", "dashboards.coverage"],
    "vanhanh.nuidoi": ["tenants.home", "video.wall", "streams.cameras"],
    "kythuat.nuidoi": ["tenants.home", "streams.faults_page"],
    "taitro.viettel": ["tenants.home", "dashboards.sponsor_portal"],
    "hogiadinh.bensung": ["tenants.home", "funding.my_shares_page"],
}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' :: ' + n.html.slice(0, 160))}));
}"""

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def axe_script() -> str:
    try:
        out = subprocess.run(["bash", str(AXE_INSTALL)], check=True, capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"axe-core could not be installed: {exc.stderr[-500:]}")
    path = out.stdout.strip().splitlines()[-1]
    assert Path(path).is_file(), path
    return path


def _paths(server, endpoints):
    from flask import url_for

    app = server["app"]
    with app.test_request_context():
        return [url_for(e) for e in endpoints]


def _page(browser, server, username, width=390, height=844):  # noqa: F811
    # bypass_csp: only so Playwright may inject axe-core; the pages' own CSP is tested elsewhere
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    page.goto(server["url"] + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return context, page


@pytest.mark.parametrize("username", list(ROLE_PAGES))
def test_each_roles_main_pages_fit_a_phone_and_pass_axe(browser, server, axe_script, username):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page = _page(browser, server, username)
    problems = []
    try:
        for endpoint, path in zip(ROLE_PAGES[username], _paths(server, ROLE_PAGES[username]), strict=True):
            resp = page.goto(server["url"] + path)
            assert resp is not None and resp.status == 200, (username, path, resp and resp.status)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(SHOTS / f"{username}-{endpoint.replace('.', '-')}.png"), full_page=True)
            width = page.evaluate("document.scrollingElement.scrollWidth")
            if width > 390:
                wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > 391)
                    .slice(0, 6).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
                problems.append(f"{path}: {width} px wide at 390 px: {wide}")
            page.add_script_tag(path=axe_script)
            for v in page.evaluate(AXE_RUN, AXE_TAGS):
                problems.append(f"{path}: axe {v['impact']} {v['id']} ({v['help']}): {v['nodes']}")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_the_keyboard_reaches_skip_link_first_and_focus_is_visible(browser, server):  # noqa: F811
    context, page = _page(browser, server, "kythuat.nuidoi", width=1366, height=800)
    try:
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            const s = getComputedStyle(e); const r = e.getBoundingClientRect();
            return {cls: e.className, text: e.innerText, href: e.getAttribute('href'),
                    outline: s.outlineStyle, visible: r.width > 1 && r.height > 1}; }""")
        assert focused["cls"] == "skip-link" and focused["href"] == "#main" and focused["visible"], focused
        assert "nội dung chính" in focused["text"] and focused["outline"] != "none"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.screenshot(path=str(SHOTS.parent / "keyboard-skip-link.png"))
    finally:
        context.close()


def test_pages_link_a_favicon_that_is_served_and_print_hides_the_menu(browser, server):  # noqa: F811
    context, page = _page(browser, server, "chutich.nuidoi", width=1366, height=800)
    try:
        hrefs = page.eval_on_selector_all("link[rel=icon]", "els => els.map(e => e.href)")
        assert any(h.endswith("favicon.svg") for h in hrefs) and any(h.endswith("favicon.ico") for h in hrefs)
        for href in hrefs:
            resp = context.request.get(href)
            assert resp.status == 200 and len(resp.body()) > 100
        page.emulate_media(media="print")
        assert page.evaluate("getComputedStyle(document.querySelector('header.top')).display") == "none"
    finally:
        context.close()
