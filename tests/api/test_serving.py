"""`strongroom serve`'s HTTP protocol (api/http/serving.py) on a raw socket, over plain HTTP and over TLS: a
response's head and body leave in one write, and keep-alive, pipelining and `Connection: close` still give
every response whole, in order."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api import tls
from api.http.serving import _JoinedWrites
from api.settings import Settings
from api.testing.plugin import free_port


@dataclass
class Served:
    url: str
    port: int
    context: ssl.SSLContext | None  # verifying the server's certificate; None over plain HTTP

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return self.context.wrap_socket(sock, server_hostname="127.0.0.1") if self.context else sock


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    cert, key, _ = tls.write_pair(tmp_path_factory.mktemp("tls"), ["strongroom.lan"])
    return cert, key


@pytest.fixture(params=["http", "https"])
def served(request, api_settings: Settings, api_secrets: dict[str, str], pair) -> Iterator[Served]:
    """`strongroom serve` with one worker on a free port, over plain HTTP or over TLS with a fresh pair."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update(api_secrets, DATABASE_URL=str(api_settings.database_url),
               STRONGROOM_API_DATABASE_URL=str(api_settings.api_database_url),
               STRONGROOM_HOME=str(api_settings.home))
    https = request.param == "https"
    flags = ["--tls-cert", str(pair[0]), "--tls-key", str(pair[1])] if https else []
    context = ssl.create_default_context(cafile=str(pair[0])) if https else None
    served = Served(f"{request.param}://127.0.0.1:{port}", port, context)
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--workers", "1", *flags], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{served.url}/health", timeout=2, verify=context or True)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("serve did not start") from None
                time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        process.wait(30)


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
