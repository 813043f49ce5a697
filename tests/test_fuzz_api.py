"""Schemathesis fuzzes every operation of the OpenAPI document on the demo data: no 500s, and every
answer the document describes has the body its schema says."""
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

# A few examples per operation, not shrunk: the run looks for answers that break the contract,
# and the failing example is printed as found.
FUZZ = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                phases=[Phase.explicit, Phase.generate])


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


def test_no_operation_answers_500_or_breaks_its_schema(api_schema):
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy())
        @FUZZ
        def fuzz(case):
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

        fuzz()
        checked.append((operation.path, operation.method.lower()))
    documented = {(p, m) for p, ops in api_schema.raw_schema["paths"].items() for m in ops}
    # every operation but the document itself, which schemathesis was loaded from
    assert documented - set(checked) == {("/api/v1/openapi.json", "get")}
