"""Schemathesis against the served OpenAPI document: generated requests (valid and not) on every
operation, a bounded number of examples each; no 5xx, and every response matches what the document
declares (status, content type, body schema)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import PASSWORD, LiveApi

pytestmark = pytest.mark.slow
EXAMPLES = 25  # per operation; derandomized, so a CI run is reproducible
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_no_generated_request_gets_a_5xx_or_an_undeclared_answer(live_api: Callable[..., LiveApi]) -> None:
    api = live_api()
    httpx.post(f"{api.base}/register", json={"username": "fuzzer", "password": PASSWORD})
    token = httpx.post(f"{api.base}/login", json={"username": "fuzzer", "password": PASSWORD}).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    schema = schemathesis.openapi.from_url(f"{api.base}/openapi.json")
    failures: dict[str, str] = {}
    checked = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/logout/all":
            continue  # it revokes the token every other operation runs with (tested in test_accounts)

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=api.base, headers=auth, checks=CHECKS)

        try:
            run()
        except Exception as failure:  # collect every operation's failure, then report them together
            failures[f"{operation.method.upper()} {operation.path}"] = str(failure)[:2000]
        checked += 1

    assert checked >= 30
    assert failures == {}
