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
