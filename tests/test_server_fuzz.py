"""A short fuzz of the JSON API from its own OpenAPI description (schemathesis): no reply is a 5xx,
every status and body is one the description declares. The long run is bench/fuzz_api.py.

schemathesis's engine is driven through hypothesis directly, not through its pytest plugin: the plugin
reaches into pytest's private attributes and broke with pytest 9.2 (issue 19), while `as_strategy`
and `call_and_validate` are its public, documented API."""

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from schemathesis import checks  # noqa: E402

from matdiff.web.openapi import openapi  # noqa: E402
from stand_in import running_server  # noqa: E402

CHECKS = [getattr(checks, name) for name in ("not_a_server_error", "status_code_conformance",
                                              "content_type_conformance", "response_schema_conformance")]

# schemathesis's exhaustive "coverage" phase is left to the long run; the short one keeps to random
# examples (derandomized in CI, conftest.py).
SCHEMA = schemathesis.openapi.from_dict(
    openapi(), config=schemathesis.config.SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}))
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


@pytest.fixture(scope="module")
def server_url():
    """The real server with real engine workers."""
    with running_server(workers=1, timeout=10.0, queue_timeout=30.0) as url:
        yield url


def test_the_description_has_operations_to_fuzz():
    """A guard: an empty description would make the fuzz below check nothing."""
    assert {"POST /api/diff", "POST /api/evaluate", "GET /"} <= set(OPERATIONS)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_request_the_description_allows_gets_a_5xx_or_an_undeclared_reply(label, server_url):
    operation = OPERATIONS[label]

    @given(data=st.data())
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
    def requests_the_description_allows(data):
        case = data.draw(operation.as_strategy())
        case.call_and_validate(base_url=server_url, checks=CHECKS)

    requests_the_description_allows()
