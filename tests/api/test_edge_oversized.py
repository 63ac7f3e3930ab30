"""Oversized bodies against a real uvicorn: every common client reads the 413 problem document.

Answering 413 and closing while the client is still sending makes the server's kernel reset the
connection, and clients that write the whole body before reading (http.client, requests, httpx) then see
a reset instead of the answer. The edge reads and discards the rest of the body (up to a bound) first.
"""

from __future__ import annotations

import http.client
import json
import socket
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


@pytest.fixture(params=["httptools", "h11"])
def api(live_api: Callable[..., LiveApi], request: pytest.FixtureRequest) -> LiveApi:
    """Both of uvicorn's HTTP/1.1 parsers: the edge leaves a request that declares no body unwatched, which
    is safe only because each of them frames the body as the request declares it."""
    return live_api("--http", request.param)


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


def test_a_body_sent_without_length_or_chunking_never_reaches_the_app(api: LiveApi) -> None:
    """No Content-Length, no Transfer-Encoding: the request has no body (RFC 9112 6.3), whatever follows
    its headers. The edge does not count what the app cannot receive; this is what makes that safe."""
    address = urlsplit(api.base)
    body = json.dumps({"username": "unframed", "password": "a passphrase long enough"}).encode()
    with socket.create_connection((address.hostname or "127.0.0.1", address.port or 80), timeout=30) as sock:
        sock.sendall(b"POST /register HTTP/1.1\r\nHost: strongroom\r\nContent-Type: application/json\r\n\r\n")
        first = http.client.HTTPResponse(sock)
        first.begin()
        document = json.loads(first.read())
        # The app was answered at once, with what a registration without a body gets (not 201).
        assert first.status == 422 and document["code"] == "invalid_request"
        assert first.getheader("x-request-id") == document["request_id"]
        sock.sendall(body + b"\r\n\r\n")  # what a client meant as the body: a malformed next request
        second = http.client.HTTPResponse(sock)
        second.begin()
        assert second.status == 400 and second.getheader("x-request-id") is None  # the app never saw it
