"""A small in-memory server speaking the API's routes, for the GUI behaviours that need a server to misbehave.

It is not the API: it holds no rule of the system and proves nothing about the database. It exists so the
tests can make a server hold a request open, lose an answer, refuse a token or go away, and watch what the
window does meanwhile. The GUI's tests against the real API and database use the real server.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response

from api.http.errors import PG_STATUS


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def problem(status: int, detail: str, code: str = "refused", **headers: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": "refused", "status": status, "detail": detail,
                         "code": code},
                        status_code=status, headers=headers, media_type="application/problem+json")


class StandIn:
    """The server's state, and the switches the tests flip."""

    def __init__(self, role: str = "user", expires_in: int = 900) -> None:
        self.role = role
        self.expires_in = expires_in
        self.ids = itertools.count(1)
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.orders: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.order_posts: list[str | None] = []
        self.logs: list[dict[str, Any]] = []
        self.refreshes = 0
        self.disk_full = False
        """While true, POST /orders answers as the API does when PostgreSQL's disk is full (53100)."""
        self.hold_orders = threading.Event()
        """While set, POST /orders waits for `release` before answering."""
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.app = self._build()

    def issue(self) -> dict[str, Any]:
        n = next(self.ids)
        self.access.add(f"a{n}")
        self.refresh.add(f"r{n}")
        return {"access_token": f"a{n}", "refresh_token": f"r{n}", "token_type": "bearer",
                "expires_in": self.expires_in}

    def revoke(self) -> None:
        self.access.clear()
        self.refresh.clear()

    def _build(self) -> FastAPI:
        app = FastAPI()
        state = self

        def denied(authorization: str | None) -> JSONResponse | None:
            if (authorization or "").removeprefix("Bearer ") in state.access:
                return None
            return problem(401, "token refused", **{"WWW-Authenticate": "Bearer"})

        @app.post("/login")
        def login(body: dict[str, str]) -> Any:
            if body.get("password") != "correct horse":
                return problem(401, "The username or password is wrong.", "bad_credentials")
            return state.issue()

        @app.post("/token/refresh")
        def refresh(body: dict[str, str]) -> Any:
            state.refreshes += 1
            if body.get("refresh_token") not in state.refresh:
                return problem(401, "refresh refused")
            state.refresh.discard(body["refresh_token"])
            return state.issue()

        @app.get("/me")
        def me(authorization: str | None = Header(default=None)) -> Any:
            return denied(authorization) or {"user_id": 1, "username": "ana", "role": state.role}

        @app.post("/logs", status_code=204, response_model=None)
        def post_log(body: dict[str, Any], authorization: str | None = Header(default=None)) -> Any:
            if refused := denied(authorization):
                return refused
            state.logs.append({"id": len(state.logs) + 1, "at": _now(), **body})
            return Response(status_code=204)

        @app.get("/logs")
        def logs(authorization: str | None = Header(default=None)) -> Any:
            return denied(authorization) or {"items": list(reversed(state.logs)), "next": None}

        @app.get("/order-statuses")
        def order_statuses(authorization: str | None = Header(default=None)) -> Any:
            return denied(authorization) or {"items": [{"status": "pending", "description": "", "may_create": True,
                                                        "may_set": False}], "next": None}

        @app.post("/orders", status_code=201)
        def create_order(request: Request, body: dict[str, Any], authorization: str | None = Header(default=None),
                         idempotency_key: str | None = Header(default=None)) -> Any:
            if refused := denied(authorization):
                return refused
            state.order_posts.append(idempotency_key)
            if state.disk_full:
                full = PG_STATUS["53100"]
                return problem(full.status, full.detail, full.name)
            if state.hold_orders.is_set():
                state.release.wait(60)
            with state.lock:
                if idempotency_key in state.by_key:
                    return state.by_key[idempotency_key]
                order = {"id": len(state.orders) + 1, "description": body["description"], "status": "pending",
                         "sensitive": body.get("sensitive", False), "created_at": _now()}
                state.orders.append(order)
                if idempotency_key:
                    state.by_key[idempotency_key] = order
                return order

        @app.get("/orders")
        def list_orders(authorization: str | None = Header(default=None), status: str | None = None,
                        limit: int = 50, cursor: int | None = None) -> Any:
            # the API's keyset pages: newest first, `next` is the last id of a full page
            if refused := denied(authorization):
                return refused
            rows = [o for o in reversed(state.orders) if status in (None, o["status"])
                    and (cursor is None or o["id"] < cursor)]
            page = rows[:limit]
            return {"items": page, "next": page[-1]["id"] if len(page) == limit else None}

        return app
