"""The map in Chromium as a district police officer sees it, at desk (1366×800) and phone (390×844)
size: the commune outlines, the cameras in their status colours with a legend, the incidents with
a 7/30/90-day filter that changes the count, labels that never overlap, and a base layer read from
camnet's own PMTiles route (a monitoring room without internet). Screenshots go to test-artifacts/."""
from __future__ import annotations

import math
import struct
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from camnet.extensions import db
from camnet.tenants.scope import system_scope

from .test_browser import CHROMIUM, SHOTS, _signed_in

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

DESK, PHONE = (1366, 800), (390, 844)
COLOURS = {"active": "#1c7c3c", "offline": "#b3261e", "faulty": "#d35400"}
AGES = {3: 2, 20: 3, 60: 4}  # incidents this many days old: how many


def _png(rgb=(222, 230, 214)) -> bytes:
    """A plain 256×256 PNG tile."""
    raw = b"".join(b"\x00" + bytes(rgb) * 256 for _ in range(256))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _tile(lat, lon, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _write_pmtiles(path: Path, box) -> None:
    """A raster PMTiles file covering ``box`` (south, west, north, east) from zoom 5 to 17."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import write

    south, west, north, east = box
    ids = set()
    for z in range(5, 18):
        x0, y0 = _tile(north, west, z)
        x1, y1 = _tile(south, east, z)
        ids.update(zxy_to_tileid(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1))
    png = _png()
    with write(str(path)) as w:
        for tile_id in sorted(ids):
            w.write_tile(tile_id, png)
        w.finalize({"tile_type": TileType.PNG, "tile_compression": Compression.NONE,
                    "min_lon_e7": int(west * 1e7), "min_lat_e7": int(south * 1e7),
                    "max_lon_e7": int(east * 1e7), "max_lat_e7": int(north * 1e7)},
                   {"name": "camnet test base map", "attribution": "camnet test"})


@pytest.fixture(scope="module")
def map_world(server, tmp_path_factory):  # noqa: F811
    """Outlines for every demo commune that has none, cameras in trouble, incidents 3, 20 and 60
    days old, and a PMTiles base map served by camnet."""
    from camnet.incidents.models import Incident, IncidentCategory
    from camnet.streams.models import Camera
    from camnet.tenants.models import AdminUnit, CommuneBoundary

    app = server["app"]
    with app.app_context(), system_scope():
        communes = list(db.session.execute(select(AdminUnit).where(AdminUnit.is_commune.is_(True))).scalars())
        outlined = set(db.session.execute(select(CommuneBoundary.commune_id)).scalars())
        for c in communes:
            south, west, north, east = db.session.execute(
                select(func.min(Camera.latitude), func.min(Camera.longitude), func.max(Camera.latitude),
                       func.max(Camera.longitude)).where(Camera.commune_id == c.id)).one()
            if c.id in outlined or south is None:
                continue
            d = 0.004
            ring = [[west - d, south - d], [east + d, south - d], [east + d + d, (south + north) / 2],
                    [east + d, north + d], [west - d, north + d], [west - d, south - d]]
            db.session.add(CommuneBoundary(commune_id=c.id, geometry={"type": "Polygon", "coordinates": [ring]},
                                           source="test"))
        nuidoi = next(c for c in communes if c.code == "NUIDOI")
        cams = list(db.session.execute(select(Camera).where(Camera.commune_id == nuidoi.id, Camera.latitude.is_not(None))
                                       .order_by(Camera.code)).scalars())
        cams[0].status, cams[1].status = "offline", "faulty"
        category = db.session.execute(select(IncidentCategory).order_by(IncidentCategory.sort_order)).scalars().first()
        now = datetime.now(timezone.utc)
        for age, n in AGES.items():
            for i in range(n):
                db.session.add(Incident(commune_id=nuidoi.id, category_id=category.id, title=f"Vụ thử {age}-{i}",
                                        occurred_at=now - timedelta(days=age, hours=i), status="open",
                                        latitude=cams[i].latitude, longitude=cams[i].longitude))
        box = db.session.execute(select(func.min(Camera.latitude), func.min(Camera.longitude),
                                        func.max(Camera.latitude), func.max(Camera.longitude))).one()
        db.session.commit()
    tiles = tmp_path_factory.mktemp("tiles") / "base.pmtiles"
    _write_pmtiles(tiles, (box[0] - 0.2, box[1] - 0.2, box[2] + 0.2, box[3] + 0.2))
    app.config["MAP_PMTILES_PATH"] = str(tiles)
    yield {"nuidoi": nuidoi.id}
    app.config["MAP_PMTILES_PATH"] = ""


def _visible_label_boxes(page) -> list[dict]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('#camera-map .map-label'))
        .filter(e => !e.classList.contains('map-label-hidden'))
        .map(e => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height,
                                                                text: e.textContent}; })
        .filter(r => r.w > 0 && r.h > 0)""")


def _assert_no_overlap(boxes):
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or
                     a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, f"labels overlap: {a['text']!r} and {b['text']!r}"


@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
def test_police_map_has_outlines_cameras_incidents_and_labels_apart(browser, server, map_world, size):  # noqa: F811
    context, page = _signed_in(browser, server, "congan.huyen", *size)
    requests = []
    page.on("request", lambda r: requests.append((r.url, r.headers.get("range"))))
    page.goto(server["url"] + "/oversight")
    page.wait_for_selector("#camera-map[data-incidents]")
    name = "desk" if size == DESK else "phone"

    assert int(page.get_attribute("#camera-map", "data-outlines")) >= 1
    assert page.locator("#camera-map path.commune-outline").count() >= 1
    fills = page.evaluate("""() => Array.from(document.querySelectorAll('#camera-map path.cam-marker'))
        .map(p => [p.getAttribute('class'), p.getAttribute('fill')])""")
    assert fills, "no camera on the map"
    for status, colour in COLOURS.items():
        assert any(f"cam-{status}" in cls and fill == colour for cls, fill in fills), f"no {status} camera in {colour}"
    legend = page.inner_text(".map-legend")
    assert "Hoạt động" in legend and "Mất kết nối" in legend and "Hỏng" in legend and "Ranh giới xã" in legend

    counts = {}
    for days in (7, 30, 90):
        page.click(f"#camera-map-filter button[data-days='{days}']")
        counts[days] = int(page.get_attribute("#camera-map", "data-incidents"))
        assert page.locator("#camera-map path.incident-marker").count() == counts[days]
        assert f"{counts[days]} vụ việc trong {days} ngày qua" in page.inner_text("#camera-map-count")
        assert page.get_attribute(f"#camera-map-filter button[data-days='{days}']", "aria-pressed") == "true"
    assert AGES[3] <= counts[7] < counts[30] < counts[90]
    page.click("#camera-map-filter button[data-days='30']")

    _assert_no_overlap(_visible_label_boxes(page))
    assert page.locator("#camera-map .commune-label").count() >= 1
    page.screenshot(path=str(SHOTS / f"map-oversight-{name}.png"), full_page=True)
    page.evaluate("() => document.querySelector('#camera-map').scrollIntoView()")
    zoom = page.get_attribute("#camera-map", "data-zoom")
    page.locator("#camera-map .leaflet-control-zoom-in").click()
    page.wait_for_function(f"() => document.querySelector('#camera-map').getAttribute('data-zoom') !== '{zoom}'")
    _assert_no_overlap(_visible_label_boxes(page))

    assert page.get_attribute("#camera-map", "data-base") == "pmtiles"
    page.wait_for_function("() => document.querySelectorAll('#camera-map .base-pmtiles img[src^=\"blob:\"]').length > 0")
    assert all(url.startswith(server["url"]) or url.startswith("blob:") for url, _ in requests), "only camnet is asked"
    ranges = [r for url, r in requests if url.startswith(server["url"] + "/map/base.pmtiles")]
    assert ranges and all(r and r.startswith("bytes=") for r in ranges), "the PMTiles file is read in ranges"
    page.screenshot(path=str(SHOTS / f"map-oversight-{name}-zoomed.png"), full_page=True)
    context.close()


def test_commune_map_and_charts_for_the_chairman(browser, server, map_world):  # noqa: F811
    context, page = _signed_in(browser, server, "chutich.nuidoi", *DESK)
    page.goto(server["url"] + f"/coverage?commune_id={map_world['nuidoi']}")
    page.wait_for_selector("#camera-map[data-markers]")
    assert page.locator("#camera-map path.commune-outline").count() >= 1
    _assert_no_overlap(_visible_label_boxes(page))
    legends = page.locator(".chart-legend")
    assert legends.count() >= 2 and "Tỉ lệ" in page.inner_text("main")
    details = page.locator(".chart-figure details").first
    details.locator("summary").click()
    assert details.locator("table").is_visible()
    page.screenshot(path=str(SHOTS / "map-coverage-chairman.png"), full_page=True)
    context.close()
