"""Register, login, refresh, logout, password change and /me over HTTP, with their failure statuses."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD, bearer, login, register


def test_register_creates_a_user_account(client: TestClient) -> None:
    response = client.post("/register", json={"username": "alice", "password": PASSWORD, "email": "a@example.org"})

    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "alice" and body["role"] == "user" and "password" not in response.text


def test_registering_a_taken_username_is_409(client: TestClient) -> None:
    register(client, "alice")
    response = client.post("/register", json={"username": "ALICE", "password": PASSWORD})
    assert response.status_code == 409 and response.json()["sqlstate"] == "SRC10"


def test_a_weak_password_is_refused_by_the_database_policy_with_422(client: TestClient) -> None:
    response = client.post("/register", json={"username": "alice", "password": "short"})
    assert response.status_code == 422 and response.json()["sqlstate"] == "SRP12"


def test_login_returns_an_access_token_a_refresh_token_and_expires_in(client: TestClient) -> None:
    register(client, "alice")

    tokens = login(client, "alice")

    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60
    assert tokens["refresh_token"] and tokens["access_token"] != tokens["refresh_token"]
    assert client.get("/me", headers=bearer(tokens)).json()["username"] == "alice"


def test_login_accepts_the_oauth2_password_form_swagger_posts(client: TestClient) -> None:
    register(client, "alice")
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["access_token"]


def test_a_wrong_password_is_401_and_says_nothing_about_the_user(client: TestClient) -> None:
    register(client, "alice")
    wrong = client.post("/login", json={"username": "alice", "password": "not the password"})
    unknown = client.post("/login", json={"username": "nobody", "password": "not the password"})

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_a_locked_account_is_429_with_retry_after(client: TestClient, db: psycopg.Connection) -> None:
    register(client, "alice")
    db.execute("select private.set_auth_settings(p_lockout_threshold => 2)")
    for _ in range(2):
        client.post("/login", json={"username": "alice", "password": "not the password"})

    response = client.post("/login", json={"username": "alice", "password": PASSWORD})

    assert response.status_code == 429 and response.json()["code"] == "account_locked"
    assert int(response.headers["retry-after"]) > 0


def test_login_is_throttled_per_address_before_any_password_check(make_client: Callable[..., TestClient],
                                                                 db: psycopg.Connection) -> None:
    client = make_client(login_rate_per_minute=3)
    statuses = [client.post("/login", json={"username": f"user{i}", "password": "x" * 12}).status_code
                for i in range(4)]

    assert statuses == [401, 401, 401, 429]
    # The refused attempt never reached the database: three failed-login events, not four.
    failures = db.execute("select count(*) from public.logs l where to_jsonb(l)->>'action' = 'login_failed'"
                          " or l.message like 'login_failed%'").fetchone()
    assert failures is not None and failures[0] == 3


def test_a_disabled_account_cannot_log_in_and_its_tokens_stop_working(client: TestClient,
                                                                     db: psycopg.Connection) -> None:
    register(client, "alice")
    tokens = login(client, "alice")
    db.execute("select private.disable_user(id) from public.users where username = 'alice'")

    assert client.get("/me", headers=bearer(tokens)).status_code == 401
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    assert client.post("/token/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_a_refresh_token_is_single_use_and_gives_a_new_pair(client: TestClient) -> None:
    register(client, "alice")
    first = login(client, "alice")

    response = client.post("/token/refresh", json={"refresh_token": first["refresh_token"]})

    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/me", headers=bearer(second)).status_code == 200


def test_reusing_a_used_refresh_token_revokes_its_whole_family(client: TestClient) -> None:
    register(client, "alice")
    first = login(client, "alice")
    second = client.post("/token/refresh", json={"refresh_token": first["refresh_token"]}).json()

    reuse = client.post("/token/refresh", json={"refresh_token": first["refresh_token"]})
    after = client.post("/token/refresh", json={"refresh_token": second["refresh_token"]})

    assert reuse.status_code == 401 and after.status_code == 401


def test_an_access_token_is_not_a_refresh_token(client: TestClient) -> None:
    register(client, "alice")
    tokens = login(client, "alice")
    response = client.post("/token/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401


def test_logout_ends_the_session_of_its_refresh_token(client: TestClient) -> None:
    register(client, "alice")
    tokens = login(client, "alice")

    response = client.post("/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens))

    assert response.status_code == 204
    assert client.post("/token/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_logout_without_a_refresh_token_is_still_a_logged_event(client: TestClient, db: psycopg.Connection) -> None:
    register(client, "alice")
    tokens = login(client, "alice")

    response = client.post("/logout", json={}, headers=bearer(tokens))

    assert response.status_code == 204
    assert db.execute("select details->>'session_revoked' from logs where action = 'logout' and request_id = %s",
                      [response.headers["x-request-id"]]).fetchall() == [("false",)]


def test_logout_everywhere_revokes_every_token(client: TestClient) -> None:
    register(client, "alice")
    here, there = login(client, "alice"), login(client, "alice")

    assert client.post("/logout/all", headers=bearer(here)).status_code == 204

    assert client.get("/me", headers=bearer(here)).status_code == 401
    assert client.get("/me", headers=bearer(there)).status_code == 401
    assert client.post("/token/refresh", json={"refresh_token": there["refresh_token"]}).status_code == 401


def test_a_password_change_revokes_old_tokens_and_returns_new_ones(client: TestClient) -> None:
    register(client, "alice")
    old = login(client, "alice")
    new_password = "another long passphrase"

    response = client.put("/me/password", json={"current_password": PASSWORD, "new_password": new_password},
                          headers=bearer(old))

    assert response.status_code == 200
    assert client.get("/me", headers=bearer(old)).status_code == 401
    assert client.get("/me", headers=bearer(response.json())).status_code == 200
    assert client.post("/token/refresh", json={"refresh_token": response.json()["refresh_token"]}).status_code == 200
    assert login(client, "alice", new_password)["access_token"]


def test_a_password_change_with_the_wrong_current_password_is_401(client: TestClient) -> None:
    register(client, "alice")
    tokens = login(client, "alice")
    response = client.put("/me/password", json={"current_password": "wrong password!", "new_password": "x" * 20},
                          headers=bearer(tokens))
    assert response.status_code == 401
    assert client.get("/me", headers=bearer(tokens)).status_code == 200


def test_me_shows_the_account_without_its_hash(client: TestClient) -> None:
    register(client, "alice")
    response = client.get("/me", headers=bearer(login(client, "alice")))
    assert response.status_code == 200 and response.json()["role"] == "user"
    assert "$2" not in response.text and "hash" not in response.text
