"""`strongroom serve`'s HTTP protocol (api/http/serving.py) on a raw socket, over plain HTTP and over TLS: a
response's head and body leave in one write, and keep-alive, pipelining and `Connection: close` still give
every response whole, in order."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api import tls
from api.http.serving import _JoinedWrites


@dataclass
class Served:
    url: str
    context: ssl.SSLContext | None  # verifying the server's certificate; None over plain HTTP

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", int(self.url.rsplit(":", 1)[1])), timeout=10)
        return self.context.wrap_socket(sock, server_hostname="127.0.0.1") if self.context else sock


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    cert, key, _ = tls.write_pair(tmp_path_factory.mktemp("tls"), ["strongroom.lan"])
    return cert, key


@pytest.fixture(params=["http", "https"])
def served(request, serve_api: Callable[..., str], pair) -> Served:
    """`strongroom serve` with one worker, over plain HTTP or over TLS with a fresh pair."""
    https = request.param == "https"
    return Served(serve_api(pair if https else None),
                  ssl.create_default_context(cafile=str(pair[0])) if https else None)


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes]:
    """One response's head and body (by its content-length) from the socket, leaving what follows in buffer."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed inside a head: {bytes(buffer)!r}"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lengths = [line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    assert len(lengths) == 1, head
    length = int(lengths[0])
    buffer[:] = rest
    while len(buffer) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed inside a body"
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return head, body


class Recording:
    """The real transport's side: what reached it, and in how many writes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


def test_the_writes_of_one_turn_reach_the_socket_as_one_write_and_close_sends_them_first():
    async def scenario() -> tuple[list[bytes], list[bytes], list[bytes], bool]:
        real = Recording()
        joined = _JoinedWrites(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        joined.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        joined.write(b"{}")
        before = list(real.writes)
        assert joined.get_write_buffer_size() == 40
        await asyncio.sleep(0)  # the end of the turn
        one_turn = list(real.writes)
        joined.write(b"last")
        joined.close()
        return before, one_turn, real.writes, real.closed

    before, one_turn, at_close, closed = asyncio.run(scenario())

    assert before == []
    assert one_turn == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    assert at_close[1:] == [b"last"] and closed


def test_pipelined_requests_get_whole_responses_in_order_and_close_ends_the_connection(served: Served):
    with served.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: strongroom\r\n\r\n"
                     b"GET /openapi.json HTTP/1.1\r\nHost: strongroom\r\n\r\n"
                     b"GET /nowhere HTTP/1.1\r\nHost: strongroom\r\nConnection: close\r\n\r\n")
        buffer = bytearray()
        answers = [read_response(sock, buffer) for _ in range(3)]
        while chunk := sock.recv(65536):  # the server closes after the third
            buffer += chunk

    assert buffer == b""
    (health, health_body), (spec, spec_body), (missing, missing_body) = answers
    assert health.startswith(b"HTTP/1.1 200 ") and b'"status"' in health_body
    assert spec.startswith(b"HTTP/1.1 200 ")
    assert spec_body == httpx.get(f"{served.url}/openapi.json", verify=served.context or True).content
    assert missing.startswith(b"HTTP/1.1 404 ") and b"connection: close" in missing.lower()
    assert b"not_found" in missing_body
