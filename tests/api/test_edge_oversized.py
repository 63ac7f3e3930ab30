"""Oversized bodies against a real uvicorn: every common client reads the 413 problem document.

Answering 413 and closing while the client is still sending makes the server's kernel reset the
connection, and clients that write the whole body before reading (http.client, requests, httpx) then see
a reset instead of the answer. The edge reads and discards the rest of the body (up to a bound) first.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.conftest import LiveApi

FIVE_MB = 5 * 1024 * 1024


def _problem(status: int, body: bytes) -> dict[str, object]:
    assert status == 413
    document = json.loads(body)
    assert document["code"] == "request_body_too_large" and document["request_id"]
    return dict(document)


@pytest.fixture
def api(live_api: Callable[..., LiveApi]) -> LiveApi:
    return live_api()


def test_http_client_posting_5_mb_reads_the_413_problem(api: LiveApi) -> None:
    address = urlsplit(api.base)
    conn = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        conn.request("POST", "/register", body=b"x" * FIVE_MB, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        _problem(response.status, response.read())
    finally:
        conn.close()


def test_httpx_posting_5_mb_reads_the_413_problem(api: LiveApi) -> None:
    response = httpx.post(f"{api.base}/register", content=b"x" * FIVE_MB,
                          headers={"Content-Type": "application/json"}, timeout=30)
    _problem(response.status_code, response.content)


def test_httpx_posting_5_mb_chunked_reads_the_413_problem(api: LiveApi) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(FIVE_MB // 65536):
            yield b"x" * 65536

    response = httpx.post(f"{api.base}/register", content=chunks(),
                          headers={"Content-Type": "application/json"}, timeout=30)
    _problem(response.status_code, response.content)
