"""What every response carries, whatever the route: problem+json errors, security headers, request id,
body limits, bad-input handling and the OpenAPI document (Swagger's lock, declared problems)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from api.http.edge import Edge

SECURITY_HEADERS = ("cache-control", "x-content-type-options", "referrer-policy", "content-security-policy",
                    "x-frame-options", "x-request-id")


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("GET", "/health", None, 200),
    ("GET", "/no-such-route", None, 404),
    ("GET", "/me", None, 401),
    ("POST", "/register", {"username": 1}, 422),
    ("DELETE", "/health", None, 405),
])
def test_every_response_carries_the_security_headers(client: TestClient, method: str, path: str,
                                                     body: object, status: int) -> None:
    response = client.request(method, path, json=body)

    assert response.status_code == status
    for header in SECURITY_HEADERS:
        assert header in response.headers, header
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_errors_are_problem_documents_with_the_request_id(client: TestClient) -> None:
    response = client.get("/no-such-route")

    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404 and problem["type"].startswith("urn:strongroom:problem:")
    assert problem["request_id"] == response.headers["x-request-id"] and len(problem["request_id"]) == 32


def test_the_request_id_is_always_the_servers_even_when_the_client_sends_one(client: TestClient) -> None:
    ids = {client.get("/health", headers={"X-Request-ID": "trace-0001-abcd"}).headers["x-request-id"]
           for _ in range(2)}
    assert "trace-0001-abcd" not in ids and len(ids) == 2


def test_a_malformed_request_id_is_replaced_by_a_generated_one(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32


def test_hsts_is_sent_only_over_https(client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/health").headers
    secure = TestClient(client.app, base_url="https://testserver")
    assert secure.get("/health").headers["strict-transport-security"].startswith("max-age=")


def test_a_body_over_the_limit_is_413_before_it_is_read(client: TestClient) -> None:
    limit = client.app.state.settings.max_body_bytes
    response = client.post("/register", content=b"{" + b" " * limit + b"}",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "request_body_too_large"


def test_a_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"username": "'
        for _ in range(limit // 1024 + 1):
            yield b"a" * 1024
        yield b'"}'

    response = client.post("/register", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post("/register", content=b'{"username": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "malformed_json"


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    secret = "hunter2-\u0000-my-password"
    response = client.post("/register", json={"username": "alice", "password": secret})

    assert response.status_code == 422
    assert "hunter2" not in response.text


@pytest.mark.parametrize("body", [
    {"username": "alice", "password": "long enough password", "admin": True},    # unknown field
    {"username": "ali\u0000ce", "password": "long enough password"},            # NUL byte
    {"username": 12345, "password": "long enough password"},                     # wrong type
    {"username": "alice", "password": True},                                     # boolean for a string
    {"username": "a" * 65, "password": "long enough password"},                  # past its length
    {"username": "alice"},                                                       # missing field
    ["alice", "password"],                                                       # not an object
])
def test_bad_register_input_is_422_before_any_sql(client: TestClient, body: object) -> None:
    response = client.post("/register", json=body)
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"


def test_swagger_ui_script_is_allowed_by_its_own_policy(client: TestClient) -> None:
    response = client.get("/docs")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert "http" not in policy  # nothing from elsewhere: /docs works on a network with no route out
    assert "unsafe-inline" not in client.get("/health").headers["content-security-policy"]


def test_openapi_shows_the_lock_on_every_protected_route_and_not_on_public_ones(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    public = {"/health", "/ready", "/register", "/login", "/token/refresh"}
    assert schema["components"]["securitySchemes"]["bearer"]["flows"]["password"]["tokenUrl"] == "login"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            locked = any("bearer" in requirement for requirement in operation.get("security", []))
            assert locked == (path not in public), f"{method.upper()} {path}"


def test_openapi_declares_problem_responses_on_every_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        if path in ("/health", "/ready"):
            continue
        for method, operation in operations.items():
            assert "422" in operation["responses"] and "503" in operation["responses"], f"{method} {path}"
            if path not in ("/register", "/login", "/token/refresh"):
                assert "401" in operation["responses"], f"{method} {path}"


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = client.get("/health", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_the_configured_origins(make_client: Callable[..., TestClient]) -> None:
    client = make_client(cors_origins=["https://app.example"])
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Authorization"}

    allowed = client.options("/orders", headers={"Origin": "https://app.example", **preflight})
    refused = client.options("/orders", headers={"Origin": "https://evil.example", **preflight})

    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in refused.headers


def test_every_reference_in_the_openapi_document_resolves(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    names = set(schema["components"]["schemas"])
    assert refs and [r for r in refs if r.removeprefix("#/components/schemas/") not in names] == []


def test_every_protected_operation_is_401_without_a_token(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not operation.get("security"):
                continue
            url = path.replace("{order_id}", "1").replace("{entry_id}", "1").replace("{item_id}", "1") \
                .replace("{key_id}", "1").replace("{user_id}", "1").replace("{website}", "example.org")
            response = client.request(method.upper(), url, json={})
            assert (response.status_code, response.headers.get("www-authenticate")) == (401, "Bearer"), \
                f"{method.upper()} {path}"
            checked += 1
    assert checked >= 25


def _through_edge(client: TestClient, headers: list[tuple[bytes, bytes]], body: bytes = b"",
                  http_version: str = "1.1") -> dict[str, Any]:
    """One request through the edge alone, around an app that reads the body: what the app saw."""
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                  send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        seen["client_request_id"] = scope["state"]["client_request_id"]
        try:
            seen["body"] = (await receive())["body"]
        except HTTPException as refused:
            seen["refused"] = refused.status_code
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen["headers"] = dict(message["headers"])

    edge = Edge(app, client.app.state.settings, {}, deque())
    scope = {"type": "http", "http_version": http_version, "method": "POST", "path": "/x", "headers": headers,
             "client": ("127.0.0.1", 1), "scheme": "http"}
    asyncio.run(edge(scope, receive, send))
    return seen


def test_a_client_request_id_ending_in_a_newline_is_not_kept(client: TestClient) -> None:
    assert _through_edge(client, [(b"x-request-id", b"trace-0001-abcd")])["client_request_id"] == "trace-0001-abcd"
    assert _through_edge(client, [(b"x-request-id", b"trace-0001-abcd\n")])["client_request_id"] is None


def test_a_body_without_a_length_is_still_counted_beyond_http_1(client: TestClient) -> None:
    """HTTP/1.x frames a body only by Content-Length or chunking (the servers' tests in test_edge_oversized);
    another version may send one without either, so the limit applies to it as to a chunked one."""
    over = b"x" * (client.app.state.settings.max_body_bytes + 1)
    assert _through_edge(client, [], over, http_version="2")["refused"] == 413
    assert _through_edge(client, [(b"transfer-encoding", b"chunked")], over)["refused"] == 413
    within = _through_edge(client, [], b"{}", http_version="2")
    assert within["body"] == b"{}" and within["headers"][b"x-content-type-options"] == b"nosniff"
