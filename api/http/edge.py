"""What every HTTP request passes through first: request id, body limit, security headers, access log.

A plain ASGI middleware (no per-request task or body buffering): it costs a few dictionary operations.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException

from api.http.errors import problem_body
from api.http.log_lines import ACCESS, log_request
from api.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNRECORDED = frozenset({"/health", "/ready", "/docs", "/docs/oauth2-redirect", "/docs/assets/{name}", "/openapi.json"})
IP = re.compile(r"[0-9a-fA-F:.]{2,45}")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")  # fullmatch: "$" would let a final newline in
HTTP1 = frozenset({"1.0", "1.1"})
access_log = logging.getLogger(ACCESS)
# Request ids need to be unique, not secret: a generator seeded once from the OS, instead of uuid4()'s
# system call per request (about 45 µs on a loaded machine).
_ids = random.Random(int.from_bytes(os.urandom(16)))  # noqa: S311

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def docs_csp(inline_script: str) -> str:
    """The policy of /docs: every asset from this server ('self', nothing from elsewhere), our one inline
    script by hash. Swagger UI sets style attributes from script, hence 'unsafe-inline' for styles only."""
    digest = base64.b64encode(hashlib.sha256(inline_script.encode()).digest()).decode()
    return (f"default-src 'none'; script-src 'self' 'sha256-{digest}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class Edge:
    """Request id, body size limit, security headers and one JSON access-log line per request."""

    def __init__(self, app: ASGIApp, settings: Settings, docs_policy: dict[str, str],
                 calls: deque[dict[str, Any]]) -> None:
        self.app = app
        self.calls = calls
        self.limit = settings.max_body_bytes
        self.discard = settings.max_discard_bytes
        self.hsts = f"max-age={settings.hsts_seconds}; includeSubDomains" if settings.hsts_seconds else None
        base = [
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        # Every response's headers but the request id, made once: per path with a policy of its own
        # (/docs), the API's policy for every other path; over HTTPS, with HSTS.
        self.api_headers = [*base, (b"content-security-policy", API_CSP.encode())]
        self.path_headers = {path: [*base, (b"content-security-policy", policy.encode())]
                             for path, policy in docs_policy.items()}
        hsts = [(b"strict-transport-security", self.hsts.encode())] if self.hsts else []
        self.https_api_headers = [*self.api_headers, *hsts]
        self.https_path_headers = {path: [*headers, *hsts] for path, headers in self.path_headers.items()}
        self.names = frozenset(name for name, _ in [*self.https_api_headers, (b"x-request-id", b"")])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The request id is always ours: a client's X-Request-Id could name another user's request. Theirs
        # is kept beside it (client_request_id, in the audit rows) when it has a sane shape.
        client_request_id: str | None = None
        declared = -1
        framed = False  # the request says it has a body (Content-Length or Transfer-Encoding)
        for name, value in scope["headers"]:
            if name == b"content-length":
                framed = True
                declared = int(value) if value.isdigit() else -1
            elif name == b"transfer-encoding":
                framed = True
            elif name == b"x-request-id":
                candidate = value.decode("latin-1")
                if REQUEST_ID.fullmatch(candidate):
                    client_request_id = candidate
        request_id = f"{_ids.getrandbits(128):032x}"
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_request_id"] = client_request_id
        path: str = scope["path"]
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                theirs = message.get("headers") or ()
                if self.hsts and scope.get("scheme") == "https":
                    ours = self.https_path_headers.get(path, self.https_api_headers)
                else:
                    ours = self.path_headers.get(path, self.api_headers)
                ours = [*ours, (b"x-request-id", request_id.encode())]
                # Checked name by name, no set made: only the /docs assets set one of ours (cache-control).
                for name, _ in theirs:
                    if name.lower() in self.names:  # the app's own stays, ours is not added beside it
                        present = {name.lower() for name, _ in theirs}
                        ours = [h for h in ours if h[0] not in present]
                        break
                message["headers"] = [*theirs, *ours]
            await send(message)

        try:
            if declared > self.limit:
                await self._discard(receive)
                await self._problem(scope, send_with_headers, request_id, 413, "request_body_too_large",
                                    "Request body too large", f"The request body is larger than {self.limit} bytes.")
            elif framed or scope.get("http_version") not in HTTP1:
                await self.app(scope, self._limited(receive), send_with_headers)
            else:
                # HTTP/1.x without Content-Length or Transfer-Encoding has no body (RFC 9112 6.3): the server
                # parses whatever follows the headers as the next request, so there is nothing to count.
                await self.app(scope, receive, send_with_headers)
        except Exception as error:
            # Only what no handler turned into a problem reaches here: answer 500, log the type only.
            access_log.error("unhandled error", extra={"request_id": request_id, "error": type(error).__name__})
            if status == 0:
                await self._problem(scope, send_with_headers, request_id, 500, "internal", "Internal error",
                                    "Something went wrong on our side.")
        finally:
            ms = round((time.perf_counter() - started) * 1000, 2)
            client = (scope.get("client") or ("", 0))[0]
            log_request(request_id, client_request_id, scope["method"], path, status, ms, client)
            route = getattr(scope.get("route"), "path", None)
            if route and route not in UNRECORDED:
                # Flushed in batches to audit.record_api_calls by the app's housekeeping task.
                self.calls.append({"method": scope["method"], "route": route, "status": status, "duration_ms": ms,
                                   "user_id": state.get("user_id"), "request_id": request_id,
                                   "client_request_id": client_request_id,
                                   "client_addr": client if IP.fullmatch(client) else None,
                                   "at": datetime.now(UTC).isoformat()})

    def _limited(self, receive: Receive) -> Receive:
        """`receive`, refusing the body once it passes the limit (a chunked body, or one longer than declared)."""
        seen = 0
        limit = self.limit

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if message.get("more_body", False):
                        await self._discard(receive)
                    raise HTTPException(413, f"The request body is larger than {limit} bytes.")
            return message

        return limited_receive

    async def _discard(self, receive: Receive) -> None:
        """Read and drop the rest of a refused body, up to `max_discard_bytes`, before answering.

        A server that closes while the client is still sending makes its kernel reset the connection, and a
        client that writes the whole body before reading (http.client, requests, httpx) then sees the reset,
        never the 413. Beyond the bound the connection is closed anyway: the answer is not worth more reading.
        """
        drained = 0
        while drained <= self.discard:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _problem(self, scope: Scope, send: Send, request_id: str, status: int, name: str, title: str,
                       detail: str) -> None:
        body = problem_body(status, name, title, detail, scope["path"], request_id)
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
