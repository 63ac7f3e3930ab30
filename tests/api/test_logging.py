"""The API process's own log: JSON lines with the request id, never a password, token or secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.http import log_lines as process_log
from api.http.log_lines import ACCESS, JsonLines
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


@pytest.mark.parametrize(("path", "client_request_id", "client"), [
    ("/orders/7", None, "127.0.0.1"),
    ("/a\nforged line\x1b[31m", "trace-0001-abcd", "::1"),
    ("/é/☃/\ud800", None, 'proxied "name"'),
])
def test_the_access_line_is_what_the_formatter_writes_for_the_record(path: str, client_request_id: str | None,
                                                                     client: str) -> None:
    fields = {"request_id": "0123456789abcdef0123456789abcdef", "client_request_id": client_request_id,
              "method": "GET", "path": path, "status": 404, "ms": 0.25, "client": client}
    formatter = JsonLines()
    created = 1_767_225_600.5
    record = logging.makeLogRecord({"name": ACCESS, "levelname": "INFO", "msg": "request", "created": created,
                                    **fields})

    line = formatter.request_line(created, **fields)  # type: ignore[arg-type]

    assert line == formatter.format(record)
    assert "\n" not in line and line.isascii() and json.loads(line)["path"] == path


def test_the_access_line_reaches_the_process_log_formatted_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    handler = process_log.Batched(stream)
    handler.setFormatter(JsonLines())
    monkeypatch.setattr(process_log, "_handler", handler)
    monkeypatch.setattr(logging.getLogger("strongroom"), "handlers", [handler])

    process_log.log_request("0123456789abcdef0123456789abcdef", None, "POST", "/x\ny", 201, 1.5, "10.0.0.1")
    assert [type(item) for item in handler.pending] == [str]  # formatted on the spot, no record kept
    handler.flush()

    [line] = stream.getvalue().splitlines()
    assert json.loads(line) | {"time": None} == {
        "time": None, "level": "INFO", "logger": ACCESS, "msg": "request",
        "request_id": "0123456789abcdef0123456789abcdef", "client_request_id": None, "method": "POST",
        "path": "/x\ny", "status": 201, "ms": 1.5, "client": "10.0.0.1"}
