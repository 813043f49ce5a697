"""Schemathesis fuzzes every operation of the OpenAPI document on the demo data: no 500s."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error


@pytest.fixture
def api_schema(make_app):
    app = make_app("sqlite")
    with app.app_context():
        from camnet.demo import load_all
        from camnet.tenants.demo import DEMO_PASSWORD

        load_all()
    client = app.test_client()
    client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD})
    token = client.post("/api/v1/tokens", json={"name": "fuzz"}).get_json()["token"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.headers = {"Authorization": f"Bearer {token}"}
    return schema


def test_no_operation_answers_500(api_schema):
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            case.call_and_validate(checks=[not_a_server_error])

        fuzz()
        checked.append(operation.label)
    assert len(checked) >= 10
