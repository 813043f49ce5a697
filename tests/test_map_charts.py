"""The map's data (stored commune outlines, cameras, incidents in the caller's scope only), the
offline base map served with HTTP Range requests, and charts with a legend and their numbers."""
from __future__ import annotations

import json
import re

import pytest
from markupsafe import Markup
from sqlalchemy import select

from camnet.dashboards import charts
from camnet.dashboards.map import map_data
from camnet.extensions import db
from camnet.tenants.models import CommuneBoundary
from camnet.tenants.scope import system_scope

from .world import build_world


def square(lon: float, lat: float, d: float = 0.02) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                                                [lon - d, lat + d], [lon - d, lat - d]]]}


def _store_outlines(world) -> None:
    with system_scope():
        for key in ("a", "b", "c"):
            db.session.add(CommuneBoundary(commune_id=world.id(key), geometry=square(107.1, 16.8 + 0.01 * ord(key)),
                                           source="test"))
        db.session.commit()


def _map_json(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="camera-map-data">(.*?)</script>', html, re.S)
    assert found, "the page has no map"
    return json.loads(found.group(1).replace("<\\/", "</"))


@pytest.mark.parametrize("bad, field", [
    ({"type": "Point", "coordinates": [107, 16]}, "geometry"),
    ({"type": "Polygon", "coordinates": [[[107, 16], [107.1, 16], [107, 16.1]]]}, "geometry.coordinates"),
    ({"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.8]]]}, "geometry.coordinates"),
    ("not json", "geometry"),
])
def test_a_boundary_must_be_a_closed_polygon_in_vietnam(bad, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        CommuneBoundary.check_geometry(bad)
    assert CommuneBoundary.check_geometry(square(105.8, 19.9)) == square(105.8, 19.9)


def test_district_police_map_has_its_outlines_cameras_and_incidents_only(any_app, world, client_for):
    """The district officer's map: outlines of A and B (his district), never C's; the incidents of
    his communes drawn at their camera; nothing of commune C anywhere in the data."""
    _store_outlines(world)
    page = client_for("police_dist").get("/oversight")
    assert page.status_code == 200
    data = _map_json(page.get_data(as_text=True))
    assert set(data["boundaries"]) == {str(world.id("a")), str(world.id("b"))}
    assert data["boundaries"][str(world.id("a"))]["type"] == "Polygon"
    assert {p["status"] for p in data["points"]} <= set(data["colours"])
    assert data["labels"]["active"] == "Hoạt động" and data["incidents_shown"] is True
    communes = {i["commune_id"] for i in data["incidents"]}
    assert communes == {world.id("a"), world.id("b")}
    assert all(0 <= i["age_days"] <= 90 and i["lat"] and i["when"] for i in data["incidents"])
    assert str(world.id("c")) not in data["communes"] and world.id("c") not in communes


def test_a_sponsor_map_shows_funded_cameras_without_incidents(app, world, client_for):
    _store_outlines(world)
    page = client_for("sponsor_a").get("/sponsor")
    assert page.status_code == 200
    data = _map_json(page.get_data(as_text=True))
    assert [p["code"] for p in data["points"]] == ["TT-A1"]
    assert data["incidents"] == [] and data["incidents_shown"] is False
    assert all(p["drill"] == "" for p in data["points"])  # no link into the police pages
    assert "camera-map-filter" not in page.get_data(as_text=True)


def test_map_data_escapes_script_closing_in_names(app, world):
    with app.test_request_context("/"), system_scope():
        html = Markup(map_data([], {world.id("a"): "</script><b>x"}, incidents=False)).__html__()
    assert "</script>" not in html and "<\\/script>" in html


def test_the_offline_base_map_is_served_in_ranges_to_signed_in_users(make_app, tmp_path):
    tiles = tmp_path / "base.pmtiles"
    tiles.write_bytes(b"PMTiles" + bytes(range(256)) * 8)
    app = make_app("sqlite", {"MAP_PMTILES_PATH": str(tiles)})
    with app.app_context():
        world = build_world(app)
        anonymous = app.test_client().get("/map/base.pmtiles", headers={"Range": "bytes=0-6"})
        assert anonymous.status_code in (302, 401) and b"PMTiles" not in anonymous.data
        client = app.test_client()
        assert client.post("/login", data={"username": "police_dist", "password": world.password}).status_code == 302
        part = client.get("/map/base.pmtiles", headers={"Range": "bytes=0-6"})
        assert part.status_code == 206 and part.data == b"PMTiles"
        assert part.headers["Content-Range"].startswith("bytes 0-6/") and part.headers["Accept-Ranges"] == "bytes"
        data = _map_json(client.get("/oversight").get_data(as_text=True))
        assert data["pmtiles"].endswith("/map/base.pmtiles") and data["tiles"] == ""


def test_without_the_file_the_base_map_route_is_404(app, world, client_for):
    client = client_for("police_dist")
    assert client.get("/map/base.pmtiles").status_code == 404
    app.config["MAP_PMTILES_PATH"] = "/nonexistent/base.pmtiles"
    assert client.get("/map/base.pmtiles").status_code == 404


def test_charts_have_a_legend_and_a_table_of_their_numbers(app):
    with app.test_request_context("/"):
        spending = Markup(charts.spending_by_kind({"spending_by_kind": {"equipment": 12_000_000, "repair": 500_000}})).__html__()
        villages = Markup(charts.shares_by_village({"by_village": [
            {"village": "Thôn Một", "paid": 3, "pending": 1, "arrears": 2}]})).__html__()
        trend = Markup(charts.line(["01/12", "02/12"], [0.5, None], "Tỉ lệ hoạt động")).__html__()
        bars = Markup(charts.stacked_bars(["11/26", "12/26"], [("Trộm cắp", "#c0392b", [1, 3])], "Vụ việc")).__html__()
    for html in (spending, villages, trend, bars):
        assert 'class="chart-legend"' in html and "<svg" in html and "<details>" in html
    assert "Thiết bị" in spending and "12.000.000 đ" in spending and "equipment" not in spending
    assert "Đã nộp đủ" in villages and "Quá hạn" in villages and "Chưa đến hạn" in villages
    assert "50,0%" in trend and "Trộm cắp" in bars and ">3<" in bars


def test_coverage_page_draws_spending_and_shares_as_charts(app, world, client_for):
    html = client_for("chairman_a").get(f"/coverage?commune_id={world.id('a')}").get_data(as_text=True)
    spending = html[html.index('id="spending-by-kind"'):]
    assert "<svg" in spending[:4000] and "chart-legend" in spending[:6000]
    shares = html[html.index('id="shares-by-village"'):]
    assert "<svg" in shares[:4000] and "Thôn Một" in shares[:6000]


def test_boundaries_are_scoped_rows(pg_app, world):
    """On PostgreSQL the outlines table has row-level security like every commune's data."""
    from sqlalchemy import text

    forced = db.session.execute(text("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class "
                                     "WHERE relname = 'commune_boundaries'")).scalar()
    assert forced is True
    _store_outlines(world)
    with system_scope():
        assert len(db.session.execute(select(CommuneBoundary)).scalars().all()) == 3
