"""A short fuzz of the JSON API from its own OpenAPI description (schemathesis): no reply is a 5xx,
every status and body is one the description declares. The long run is bench/fuzz_api.py."""

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

from stand_in import running_server  # noqa: E402

CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance"]


@pytest.fixture(scope="module")
def api_schema():
    """The real server with real engine workers; schemathesis's exhaustive "coverage" phase is left
    to the long run, the short one keeps to its random examples (derandomized, conftest.py)."""
    with running_server(workers=1, timeout=10.0, queue_timeout=30.0) as url:
        config = schemathesis.config.SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
        yield schemathesis.openapi.from_url(url + "/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_the_description_allows_gets_a_5xx_or_an_undeclared_reply(case):
    case.call_and_validate(checks=[getattr(checks, name) for name in CHECKS])
