"""Issue #12 in a real browser: every page works under the Content-Security-Policy (no violation
reported while an admin and a district police officer walk the pages), and a commune named like an
HTML tag shows on the map as text, running nothing."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from camnet.extensions import db
from camnet.tenants.models import AdminUnit
from camnet.tenants.scope import system_scope

from .test_browser import CHROMIUM, _signed_in

pytestmark = pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed")

# Collects every violation the page reports; init scripts are not subject to the page's policy.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " @" + e.sourceFile + ":" + e.lineNumber);
});
"""
SKIP = ("/logout", "/api/", "/media/", ".pdf", ".csv", ".zip", "/download", "lang=", "/exports/")
EVIL = "<img src=x onerror=window.__xss=1>"


def _walk(page, base: str, limit: int = 70) -> tuple[list[str], dict]:
    """Open the home page, then the pages its links lead to, breadth first; at most two pages of one
    shape (``/cameras/N``), so the walk covers many kinds of page rather than every camera."""
    seen, queue, problems, shapes = [], ["/", "/funding", "/incidents/categories"], {}, {}
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.append(path)
        resp = page.goto(base + path)
        page.wait_for_load_state("load")
        assert resp.status < 500, (path, resp.status)
        assert "script-src 'self'" in (resp.headers.get("content-security-policy") or ""), path
        found = page.evaluate("window.__csp || []")
        if found:
            problems[path] = found
        hrefs = page.eval_on_selector_all("header nav a[href], main a[href]",
                                          "els => els.map(e => e.getAttribute('href'))")
        for href in hrefs:
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/") or any(s in href for s in SKIP):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            shape = re.sub(r"\d+", "N", target)
            if target not in seen and target not in queue and shapes.get(shape, 0) < 2:
                shapes[shape] = shapes.get(shape, 0) + 1
                queue.append(target)
    return seen, problems


@pytest.mark.parametrize("username", ["admin", "congan.huyen"])
def test_the_pages_raise_no_content_security_policy_violation(browser, server, username):  # noqa: F811
    context, page = _signed_in(browser, server, username)
    context.add_init_script(WATCH_CSP)
    console = []
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    seen, problems = _walk(page, server["url"])
    assert len(seen) >= 15, seen  # the walk did reach the menu's pages and the pages below them
    assert problems == {} and console == [], (problems, console)
    context.close()


def test_the_pages_with_maps_and_images_are_walked_without_violation(browser, server):  # noqa: F811
    """The pages most likely to break: maps (Leaflet sets styles from script), the camera wall's
    images, the snapshot history, a receipt's print button and the coverage commune picker."""
    context, page = _signed_in(browser, server, "congan.huyen")
    context.add_init_script(WATCH_CSP)
    for path in ("/oversight", "/coverage", "/wall", f"/cameras/{server['camera_id']}",
                 f"/oversight/cameras/{server['camera_id']}"):
        page.goto(server["url"] + path)
        page.wait_for_load_state("load")
        if page.locator("[data-map]").count():
            page.wait_for_selector("[data-map][data-markers]")
            height = page.eval_on_selector("[data-map]", "el => el.getBoundingClientRect().height")
            assert height >= 250, (path, height)  # data-height reached the map without an inline style
        assert page.evaluate("window.__csp") == [], (path, page.evaluate("window.__csp"))
    # the commune picker on the coverage page submits on change (was an inline onchange handler)
    page.goto(server["url"] + "/coverage")
    picker = page.locator("select[data-autosubmit]")
    other = picker.locator("option:not([selected])").first.get_attribute("value")
    picker.select_option(other)
    page.wait_for_url(lambda url: f"commune_id={other}" in url)
    assert page.evaluate("window.__csp") == []
    context.close()


@pytest.fixture
def evil_commune(server):  # noqa: F811
    """A commune renamed by someone who may edit units, to a name that is an HTML tag."""
    app = server["app"]
    with app.app_context(), system_scope():
        from camnet.streams.models import Camera

        commune_id = db.session.execute(select(Camera.commune_id).where(Camera.id == server["camera_id"])).scalar_one()
        unit = db.session.get(AdminUnit, commune_id)
        old, unit.name = unit.name, EVIL
        db.session.commit()
    yield commune_id
    with app.app_context(), system_scope():
        db.session.get(AdminUnit, commune_id).name = old
        db.session.commit()


@pytest.mark.parametrize("point_limit", [2000, 1], ids=["cameras", "one-marker-per-commune"])
def test_a_commune_named_like_an_html_tag_shows_as_text_on_the_map(browser, server, evil_commune,  # noqa: F811
                                                                   point_limit):
    app = server["app"]
    app.config["MAP_POINT_LIMIT"] = point_limit
    try:
        context, page = _signed_in(browser, server, "congan.huyen")
        page.goto(server["url"] + "/oversight")
        page.wait_for_selector("#camera-map[data-communes]")
        labels = page.locator(".commune-label").all_inner_texts()
        assert EVIL in labels
        assert page.locator("#camera-map img[src='x'], .commune-label img").count() == 0
        if point_limit == 1:  # the commune's popup carries its name too
            page.locator("path.cam-cluster").first.click(force=True)
            page.locator(".leaflet-popup-content").wait_for()
            assert page.locator(".leaflet-popup-content img").count() == 0
        assert page.evaluate("window.__xss") is None
        context.close()
    finally:
        app.config["MAP_POINT_LIMIT"] = 2000
