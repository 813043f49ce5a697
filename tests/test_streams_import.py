"""Bulk import: all rows checked first, all-or-nothing, duplicates reported, idempotent, export round trip."""
import io

from sqlalchemy import func, select

from camnet.extensions import db
from camnet.streams.models import Camera
from camnet.tenants.scope import system_scope

HEADER = "code,name,village,road,latitude,longitude,ownership,owner_name,snapshot_url,status,phase,consent_shares,consent_granted_by,consent_since\n"
GOOD = (HEADER
        + "NH-001,Ngã tư Đông Trạch - Yên Ngưu,Thôn Một,Đường Ngũ Hiệp,20.9201,105.8603,commune,,http://10.0.1.1/snap.jpg,active,Giai đoạn 1,,,\n"
        + "NH-002,Cổng chợ Ngũ Hiệp,Thôn Một,\"Đường Lạc Thị, gần chợ\",20.9212,105.8611,commune,,http://10.0.1.2/snap.jpg,active,Giai đoạn 1,,,\n"
        + "NH-003,Cửa hàng Minh Phát,,QL1A km 190+500,20.93,105.87,business,Cửa hàng vật liệu Minh Phát,http://10.0.1.3/snap.jpg,active,Giai đoạn 2,snapshots,Ông Nguyễn Văn Phát,2026-02-01\n")


def _count(world, key="a"):
    with system_scope():
        return db.session.execute(select(func.count()).select_from(Camera).where(
            Camera.commune_id == world.id(key))).scalar()


def _post_csv(client, world, text, key="a"):
    return client.post(f"/api/v1/cameras/import?unit_id={world.id(key)}", data=text.encode("utf-8"),
                       content_type="text/csv")


def test_import_creates_cameras_and_keeps_diacritics(app, world, client_for):
    client = client_for("operator_a")
    before = _count(world)
    resp = _post_csv(client, world, GOOD)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"created": 3, "updated": 0, "unchanged": 0}
    assert _count(world) == before + 3
    cams = client.get(f"/api/v1/cameras?unit_id={world.id('a')}&q=NH-").get_json()
    by_code = {c["code"]: c for c in cams}
    assert by_code["NH-001"]["name"] == "Ngã tư Đông Trạch - Yên Ngưu"
    assert by_code["NH-002"]["road"] == "Đường Lạc Thị, gần chợ"
    assert by_code["NH-003"]["consent"]["shares"] == "snapshots"


def test_reimporting_the_same_file_changes_nothing(app, world, client_for):
    client = client_for("operator_a")
    _post_csv(client, world, GOOD)
    assert _post_csv(client, world, GOOD).get_json() == {"created": 0, "updated": 0, "unchanged": 3}
    changed = GOOD.replace("Cổng chợ Ngũ Hiệp", "Cổng chợ Ngũ Hiệp mới")
    assert _post_csv(client, world, changed).get_json() == {"created": 0, "updated": 1, "unchanged": 2}


def test_one_bad_row_rejects_the_whole_file_with_every_error(app, world, client_for):
    client = client_for("operator_a")
    bad = (GOOD
           + "NH-004,Cổng trường,Thôn Không Có,,,,commune,,http://169.254.169.254/latest,active,,,,\n"
           + "NH-005,,,,95.5,,commune,,,sleeping,,,,\n"
           + "NH-001,Trùng mã,,,,,commune,,,active,,,,\n"
           + "NH-006,Hộ gia đình,,,,,household,Hộ ông A,,active,,,,\n")
    before = _count(world)
    resp = _post_csv(client, world, bad)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    got = {(e["line"], e["field"]) for e in errors}
    assert (5, "village") in got and (5, "snapshot_url") in got
    assert (6, "name") in got and (6, "latitude") in got and (6, "status") in got
    assert (7, "code") in got and any("duplicate" in e["reason"] and e["line"] == 7 for e in errors)
    assert (8, "consent_shares") in got
    assert _count(world) == before  # nothing written, not even the good rows


def test_unknown_columns_and_non_utf8_are_refused(app, world, client_for):
    client = client_for("operator_a")
    resp = _post_csv(client, world, "code,name,colour\nX,Y,red\n")
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "colour"
    resp = client.post(f"/api/v1/cameras/import?unit_id={world.id('a')}",
                       data="code,name\nX1,Ngã tư Hà Đông\n".encode("utf-16"), content_type="text/csv")
    assert resp.status_code == 422 and resp.get_json()["field"] == "file"


def test_export_then_import_is_unchanged_with_diacritics(any_app, world, client_for):
    client = client_for("operator_a")
    _post_csv(client, world, GOOD)
    resp = client.get(f"/api/v1/units/{world.id('a')}/cameras.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.get_data(as_text=True)
    assert "Ngã tư Đông Trạch - Yên Ngưu" in text and "password" not in text.splitlines()[0]
    # multipart upload, as the page and curl -F send it
    resp = client.post("/api/v1/cameras/import", data={"file": (io.BytesIO(("\ufeff" + text).encode()), "c.csv")},
                       query_string={"unit_id": world.id("a")}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["created"] == 0 and body["updated"] == 0 and body["unchanged"] == _count(world)
    assert client.get(f"/api/v1/units/{world.id('a')}/cameras.csv").get_data(as_text=True) == text


def test_import_into_another_commune_is_not_found(app, world, client_for):
    resp = _post_csv(client_for("operator_a"), world, GOOD, key="b")
    assert resp.status_code == 404
    assert client_for("technician_a").post(f"/api/v1/cameras/import?unit_id={world.id('a')}",
                                           data=GOOD.encode(), content_type="text/csv").status_code == 403


def test_cli_import_and_page_upload(app, world, tmp_path, client_for):
    path = tmp_path / "cams.csv"
    path.write_text(GOOD, encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["camera", "import", "--commune", "A", str(path)])
    assert result.exit_code == 0, result.output
    assert "created=3" in result.output
    result = runner.invoke(args=["camera", "import", "--commune", "A", str(path)])
    assert "unchanged=3" in result.output
    path.write_text(HEADER + "NH-009,,,,,,commune,,,active,,,,\n", encoding="utf-8")
    result = runner.invoke(args=["camera", "import", "--commune", "A", str(path)])
    assert result.exit_code != 0 and "line 2: name" in result.output
    page = client_for("operator_a").post("/cameras/import", data={
        "unit_id": world.id("a"), "file": (io.BytesIO(GOOD.encode()), "c.csv")}, content_type="multipart/form-data")
    assert page.status_code == 200 and "3" in page.get_data(as_text=True)
