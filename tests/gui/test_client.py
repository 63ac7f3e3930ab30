"""The HTTP client alone, against a real uvicorn serving a small app written here.

The small app plays the API's part only where the client's own logic is at stake: tokens that expire or get
refused, a request held open past the client's timeout, an answer lost in transit. The desktop client's
tests against the real API and database live in the other test modules.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from api.client import ApiClient, ApiError, SessionExpired, Unreachable
from tests.gui.harness import LiveServer, free_port


class Stage:
    """What the small server knows and what it saw."""

    def __init__(self) -> None:
        self.valid_access: set[str] = set()
        self.valid_refresh: set[str] = set()
        self.counter = 0
        self.expires_in = 900
        self.refresh_calls = 0
        self.order_attempts: list[str | None] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.hold_first_order = threading.Event()
        self.release = threading.Event()
        self.patch_attempts = 0

    def issue(self) -> dict[str, Any]:
        self.counter += 1
        access, refresh = f"access-{self.counter}", f"refresh-{self.counter}"
        self.valid_access.add(access)
        self.valid_refresh.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
                "expires_in": self.expires_in}


def problem(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": "refused", "status": status, "detail": detail,
                         "request_id": "req-1"}, status_code=status, headers=headers,
                        media_type="application/problem+json")


def build_app(stage: Stage) -> FastAPI:
    app = FastAPI()

    def authorized(authorization: str | None) -> bool:
        return authorization is not None and authorization.removeprefix("Bearer ") in stage.valid_access

    @app.post("/login")
    def login(body: dict[str, str]) -> Any:
        if body.get("password") == "locked":
            return problem(429, "Too many failed logins: locked until 12:30", **{"Retry-After": "120"})
        if body.get("password") != "right":
            return problem(401, "Wrong username or password")
        return stage.issue()

    @app.post("/token/refresh")
    def refresh(body: dict[str, str]) -> Any:
        stage.refresh_calls += 1
        token = body.get("refresh_token", "")
        if token not in stage.valid_refresh:
            return problem(401, "refresh token refused")
        stage.valid_refresh.discard(token)
        return stage.issue()

    @app.get("/me")
    def me(authorization: str | None = Header(default=None)) -> Any:
        if not authorized(authorization):
            return problem(401, "token refused")
        return {"username": "ana", "role": "user", "token": authorization}

    @app.get("/slow")
    def slow(authorization: str | None = Header(default=None)) -> Any:
        stage.release.wait(60)
        return {"answered": True}

    @app.post("/orders", status_code=201)
    def create_order(request: Request, body: dict[str, Any],
                     idempotency_key: str | None = Header(default=None)) -> Any:
        stage.order_attempts.append(idempotency_key)
        if len(stage.order_attempts) == 1 and stage.hold_first_order.is_set():
            stage.release.wait(60)  # the first attempt's answer never reaches the client in time
        assert idempotency_key is not None
        return stage.orders.setdefault(idempotency_key, {"id": len(stage.orders) + 1, "status": "pending", **body})

    @app.patch("/orders/{order_id}")
    def patch_order(order_id: int) -> Any:
        stage.patch_attempts += 1
        stage.release.wait(60)
        return {"id": order_id}

    return app


@pytest.fixture
def stage(serve: Any) -> Any:
    stage = Stage()
    server = serve(build_app(stage))
    stage.url = server.url
    yield stage
    stage.release.set()  # let held requests finish before the server stops


def logged_in(stage: Stage, **options: Any) -> ApiClient:
    client = ApiClient(stage.url, **options)
    client.login("ana", "right")
    return client


def test_a_token_near_its_expiry_is_refreshed_before_the_request(stage: Stage) -> None:
    client = logged_in(stage)
    assert client.session is not None
    client.session.expires_at -= client.session.lifetime  # as if the shift had gone on for its lifetime

    answer = client.me()

    assert stage.refresh_calls == 1
    assert answer["token"] == "Bearer access-2"
    assert client.session is not None and client.session.access_token == "access-2"


def test_a_refused_token_is_refreshed_once_and_the_request_sent_again(stage: Stage) -> None:
    client = logged_in(stage)
    stage.valid_access.clear()  # e.g. the server restarted its clock or the token aged out

    answer = client.me()

    assert answer["username"] == "ana"
    assert stage.refresh_calls == 1


def test_a_refused_refresh_ends_the_session_and_says_log_in_again(stage: Stage) -> None:
    client = logged_in(stage)
    seen: list[object] = []
    client.on_session_change = seen.append
    stage.valid_access.clear()
    stage.valid_refresh.clear()  # the session was revoked

    with pytest.raises(SessionExpired, match="log in again"):
        client.me()

    assert client.session is None
    assert seen == [None]


def test_threads_that_find_the_token_refused_together_refresh_it_once(stage: Stage) -> None:
    client = logged_in(stage)
    stage.valid_access.clear()
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda: answers.append(client.me())) for _ in range(4)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 4
    assert stage.refresh_calls == 1  # a single-use refresh token spent twice would revoke the session


def test_an_order_retried_after_a_timeout_reuses_its_idempotency_key_and_exists_once(stage: Stage) -> None:
    client = logged_in(stage, timeout=0.5, retries=1)
    stage.hold_first_order.set()

    order = client.create_order("ten bolts", "pending", False, idempotency_key="key-1")
    stage.release.set()

    assert stage.order_attempts == ["key-1", "key-1"]
    assert len(stage.orders) == 1
    assert order["description"] == "ten bolts"


def test_a_change_that_is_not_idempotent_is_not_retried_after_a_timeout(stage: Stage) -> None:
    client = logged_in(stage, timeout=0.5, retries=3)

    with pytest.raises(Unreachable, match="did not answer in time"):
        client.set_order_status(1, "shipped")

    assert stage.patch_attempts == 1


def test_a_server_that_is_down_is_reported_as_unreachable_not_as_a_wrong_password() -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}", retries=0)

    with pytest.raises(Unreachable, match="Cannot reach the server"):
        client.login("ana", "right")


def test_a_wrong_password_is_an_api_error_with_the_server_detail(stage: Stage) -> None:
    client = ApiClient(stage.url)

    with pytest.raises(ApiError) as refused:
        client.login("ana", "wrong")

    assert refused.value.status == 401
    assert str(refused.value) == "Wrong username or password"
    assert client.session is None


def test_a_lockout_carries_its_retry_after_into_the_message(stage: Stage) -> None:
    client = ApiClient(stage.url)

    with pytest.raises(ApiError) as refused:
        client.login("ana", "locked")

    assert refused.value.status == 429
    assert refused.value.retry_after == 120
    assert "locked until 12:30" in str(refused.value)


def test_a_server_started_after_a_failed_request_answers_the_next_one(serve: Any) -> None:
    stage = Stage()
    port = free_port()
    client = ApiClient(f"http://127.0.0.1:{port}", retries=0)
    with pytest.raises(Unreachable):
        client.login("ana", "right")

    server: LiveServer = serve(build_app(stage), port=port)
    stage.url = server.url
    client.login("ana", "right")

    assert client.me()["username"] == "ana"
