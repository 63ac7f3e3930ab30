"""An access token dies with its session at once: after logout, and when a reused refresh token revokes it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD, LiveApi, bearer, login, register


def test_after_logout_the_sessions_access_token_is_refused_at_once(client: TestClient) -> None:
    register(client, "alice")
    tokens = login(client, "alice")
    assert client.get("/me", headers=bearer(tokens)).status_code == 200

    assert client.post("/logout", json={"refresh_token": tokens["refresh_token"]},
                       headers=bearer(tokens)).status_code == 204

    refused = client.get("/me", headers=bearer(tokens))
    assert refused.status_code == 401 and refused.json()["sqlstate"] == "SRA07"
    assert refused.headers["www-authenticate"].startswith("Bearer")


def test_a_reused_refresh_token_kills_the_access_tokens_of_its_session(client: TestClient) -> None:
    register(client, "alice")
    first = login(client, "alice")
    second = client.post("/token/refresh", json={"refresh_token": first["refresh_token"]}).json()
    assert client.get("/me", headers=bearer(second)).status_code == 200

    # The first refresh token again: someone copied it. Its family is revoked, with every access token of it.
    assert client.post("/token/refresh", json={"refresh_token": first["refresh_token"]}).status_code == 401
    for tokens in (first, second):
        refused = client.get("/me", headers=bearer(tokens))
        assert refused.status_code == 401 and refused.json()["sqlstate"] == "SRA07"


def test_another_session_of_the_same_user_keeps_working(client: TestClient) -> None:
    register(client, "alice")
    laptop, phone = login(client, "alice"), login(client, "alice")
    client.post("/logout", json={"refresh_token": laptop["refresh_token"]}, headers=bearer(laptop))
    assert client.get("/me", headers=bearer(phone)).status_code == 200
    assert client.get("/me", headers=bearer(laptop)).status_code == 401


def test_against_a_real_uvicorn_logout_and_a_forged_request_id_hold(live_api: Callable[..., LiveApi]) -> None:
    api = live_api()
    with httpx.Client(base_url=api.base, timeout=30) as http:
        assert http.post("/register", json={"username": "alice", "password": PASSWORD}).status_code == 201
        tokens = http.post("/login", json={"username": "alice", "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = http.get("/me", headers={**auth, "X-Request-Id": "someone-elses-id-1"})
        assert me.status_code == 200 and me.headers["x-request-id"] != "someone-elses-id-1"
        assert http.post("/logout", json={"refresh_token": tokens["refresh_token"]}, headers=auth).status_code == 204
        assert http.get("/me", headers=auth).json()["sqlstate"] == "SRA07"
