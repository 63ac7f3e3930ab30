"""The API process's own log: JSON lines with the request id, never a password, token or secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.http.log_lines import JsonLines
from api.settings import Settings
from tests.api.conftest import PASSWORD, register


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    logger = logging.getLogger("strongroom")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def test_log_lines_are_json_with_the_request_id_and_no_secret(client: TestClient, api_settings: Settings,
                                                              log_lines: io.StringIO) -> None:
    register(client, "alice")
    tokens = client.post("/login", json={"username": "alice", "password": PASSWORD},
                         headers={"X-Request-ID": "logged-request-01"}).json()
    client.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    client.post("/login", json={"username": "alice", "password": "a wrong password"})

    text = log_lines.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line.get("client_request_id") == "logged-request-01" and line.get("path") == "/login"
               and len(line.get("request_id", "")) == 32 for line in lines)
    forbidden = [PASSWORD, "a wrong password", tokens["access_token"], tokens["refresh_token"]]
    forbidden += [s.get_secret_value() for s in (api_settings.jwt_secret, api_settings.pepper,
                                                   api_settings.master_key) if s]
    assert not [secret for secret in forbidden if secret in text]
