"""The OpenAPI document describes exactly the routes under /api/v1."""
from camnet.apispec import openapi_path


def test_openapi_document_matches_the_routes(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routed.add((openapi_path(rule.rule), method.lower()))
    assert routed == documented, {"undocumented": routed - documented, "stale": documented - routed}


def test_every_operation_has_summary_and_error_schema(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op["summary"], (path, method)
            assert "404" in op["responses"] and "422" in op["responses"]
            for ref in [op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")]:
                if ref:
                    assert ref.split("/")[-1] in spec["components"]["schemas"]


def test_every_json_answer_names_its_schema(app):
    """No response is ``{}`` any more: a client can be generated from the document."""
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = [v for k, v in op["responses"].items() if k.startswith("2")]
            assert len(ok) == 1, (method, path)
            schema = ok[0].get("content", {}).get("application/json", {}).get("schema")
            if schema is not None:
                assert schema, (method, path)
                ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
                assert ref is None or ref.split("/")[-1] in schemas, (method, path, ref)
            assert op["responses"]["404"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}


def test_a_viewer_reads_no_camera_address_in_any_listing(any_app, world, client_for):
    """The route decides who sees camera addresses; the model hides them unless told otherwise.
    A viewer (district police) asks every camera answer it can: list, one camera, the wall."""
    viewer = client_for("police_dist")
    listed = viewer.get("/api/v1/cameras").get_json()
    assert listed, "the viewer sees cameras"
    for cam in listed + [viewer.get(f"/api/v1/cameras/{listed[0]['id']}").get_json()]:
        assert {k: cam[k] for k in ("rtsp_main", "rtsp_sub", "snapshot_url", "mjpeg_url", "username")} == dict.fromkeys(
            ("rtsp_main", "rtsp_sub", "snapshot_url", "mjpeg_url", "username"))
        assert "password_enc" not in cam
    installer = client_for("operator_a").get(f"/api/v1/cameras?unit_id={world.id('a')}").get_json()
    assert any(c["snapshot_url"] or c["rtsp_main"] for c in installer)  # those who install them do


def test_camera_model_hides_addresses_without_the_routes_decision():
    from types import SimpleNamespace

    from camnet.streams.schemas import SOURCES, CameraOut

    cam = SimpleNamespace(id=1, commune_id=7, code="C", name="n", village_id=None, village=None, road=None,
                          latitude=None, longitude=None, direction=None, kind="fixed", ownership="commune",
                          owner_name=None, owner_contact=None, recorder=None, channel=None,
                          rtsp_main="rtsp://10.0.0.1/1", rtsp_sub=None, snapshot_url="http://10.0.0.1/s.jpg",
                          mjpeg_url=None, username="admin", password_enc="x", install_date=None, phase=None,
                          status="active", capture_interval=60, health="ok", last_snapshot_at=None,
                          last_ok_at=None, consents=[])
    hidden = CameraOut.model_validate(cam).model_dump()
    assert hidden["rtsp_main"] is None and hidden["username"] is None and hidden["has_password"] is True
    elsewhere = CameraOut.model_validate(cam, context={SOURCES: lambda commune_id: commune_id == 8}).model_dump()
    assert elsewhere["snapshot_url"] is None
    shown = CameraOut.model_validate(cam, context={SOURCES: lambda commune_id: commune_id == 7}).model_dump()
    assert shown["rtsp_main"] == "rtsp://10.0.0.1/1" and shown["capture_allowed"] is True


def test_api_times_carry_the_vietnam_offset():
    from datetime import datetime, timezone

    from camnet.streams.schemas import SnapshotPage

    naive_utc = datetime(2026, 1, 5, 14, 30)  # as SQLite hands it back
    page = SnapshotPage(camera_id=1, items=[], next_before=naive_utc).model_dump(mode="json")
    assert page["next_before"] == "2026-01-05T21:30:00+07:00"
    aware = SnapshotPage(camera_id=1, items=[], next_before=naive_utc.replace(tzinfo=timezone.utc))
    assert aware.model_dump(mode="json")["next_before"] == "2026-01-05T21:30:00+07:00"
