"""The gate in front of every call that can run crypt(), and lockout by device, over HTTP against a real
uvicorn (api/http/throttle.py, sql/20_auth.sql).

Every address in 127.0.0.0/8 is this machine's, so each client below binds its own source address and the
server sees several clients.
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from api.client import ApiClient, ApiError
from tests.api.conftest import PASSWORD, LiveApi

WRONG = "not the right password"
NEW_PASSWORD = "another long passphrase"


@pytest.fixture
def clients(request: pytest.FixtureRequest) -> Iterator[Callable[[LiveApi, str], httpx.Client]]:
    opened: list[httpx.Client] = []

    def _client(api: LiveApi, source: str) -> httpx.Client:
        client = httpx.Client(base_url=api.base, timeout=30,
                              transport=httpx.HTTPTransport(local_address=source))
        opened.append(client)
        return client

    yield _client
    for client in opened:
        client.close()


def login(client: httpx.Client, username: str, password: str = PASSWORD, device: str | None = None) -> httpx.Response:
    body = {"username": username, "password": password} | ({"device_token": device} if device else {})
    return client.post("/login", json=body)


def register(client: httpx.Client, username: str, email: str | None = None) -> httpx.Response:
    return client.post("/register", json={"username": username, "password": PASSWORD, "email": email})


def test_a_request_refused_for_its_address_is_not_charged_to_the_username(
        live_api: Callable[..., LiveApi], clients: Callable[[LiveApi, str], httpx.Client]) -> None:
    api = live_api(login_rate_per_minute="3")
    victim, attacker = clients(api, "127.0.0.3"), clients(api, "127.0.0.2")
    assert register(victim, "alice").status_code == 201
    assert [login(attacker, f"user{i}", WRONG).status_code for i in range(3)] == [401, 401, 401]

    refused = [login(attacker, "alice", WRONG).status_code for _ in range(10)]

    assert refused == [429] * 10
    assert login(victim, "alice").status_code == 200


def test_strangers_failures_do_not_spend_the_budget_of_a_device_that_logged_in_before(
        live_api: Callable[..., LiveApi], clients: Callable[[LiveApi, str], httpx.Client]) -> None:
    api = live_api(login_rate_per_minute="3")
    laptop = clients(api, "127.0.0.3")
    assert register(laptop, "alice").status_code == 201
    device = login(laptop, "alice").json()["device_token"]
    for n in range(4, 7):
        assert login(clients(api, f"127.0.0.{n}"), "alice", WRONG).status_code == 401

    elsewhere = clients(api, "127.0.0.7")
    assert login(elsewhere, "alice").status_code == 429  # the shared budget: spent by the strangers
    assert login(laptop, "alice", device=device).status_code == 200


def test_strangers_locking_the_account_do_not_lock_out_the_desktop_client(
        live_api: Callable[..., LiveApi], clients: Callable[[LiveApi, str], httpx.Client], db: psycopg.Connection,
        tmp_path: Path) -> None:
    api = live_api()
    db.execute("select private.set_auth_settings(p_lockout_threshold => 3)")
    devices = tmp_path / "config" / "devices.json"
    first = ApiClient(api.base, device_file=devices)
    first.register("alice", PASSWORD)
    first.login("alice", PASSWORD)
    first.logout()
    first.close()
    assert stat.S_IMODE(devices.stat().st_mode) == 0o600
    stranger = clients(api, "127.0.0.9")
    assert [login(stranger, "alice", WRONG).status_code for _ in range(4)] == [401, 401, 429, 429]

    with pytest.raises(ApiError) as refused:
        ApiClient(api.base).login("alice", PASSWORD)
    assert refused.value.status == 429
    restarted = ApiClient(api.base, device_file=devices)  # the desktop app, started again on the same computer
    try:
        restarted.login("alice", PASSWORD)
        assert restarted.me()["username"] == "alice"
        restarted.change_password(PASSWORD, NEW_PASSWORD)  # counted on the device too: not locked
        assert restarted.me()["username"] == "alice"
    finally:
        restarted.close()


def test_the_last_admin_locked_out_by_strangers_is_recovered_by_admin_unlock(
        live_api: Callable[..., LiveApi], clients: Callable[[LiveApi, str], httpx.Client],
        db: psycopg.Connection) -> None:
    api = live_api()
    db.execute("select private.set_auth_settings(p_lockout_threshold => 1000, p_lockout_hard_limit => 3)")
    client = clients(api, "127.0.0.2")
    assert register(client, "root").status_code == 201
    db.execute("update public.users set role = 'admin' where username = 'root'")
    assert [login(client, "root", WRONG).status_code for _ in range(3)] == [401, 401, 429]
    locked = login(client, "root")
    assert locked.status_code == 429 and "administrator" in locked.json()["detail"]
    assert db.execute("select scope, until_unlocked from audit.account_locks()").fetchall() == [("account", True)]

    db.execute("select private.unlock_user(id) from public.users where username = 'root'")  # strongroom admin unlock

    assert login(client, "root").status_code == 200


def test_probing_emails_through_register_spends_the_login_budget(
        live_api: Callable[..., LiveApi], clients: Callable[[LiveApi, str], httpx.Client]) -> None:
    api = live_api(login_rate_per_minute="3")
    owner, prober = clients(api, "127.0.0.3"), clients(api, "127.0.0.2")
    assert register(owner, "alice", "alice@example.org").status_code == 201
    probes = [register(prober, f"probe{i}", "alice@example.org").status_code for i in range(2)]
    assert probes == [409, 409]
    assert login(prober, "anyone", WRONG).status_code == 401
    assert register(prober, "probe9", "alice@example.org").status_code == 429


def test_a_locked_caller_changing_their_password_is_refused(
        live_api: Callable[..., LiveApi], clients: Callable[[LiveApi, str], httpx.Client],
        db: psycopg.Connection) -> None:
    api = live_api()
    client = clients(api, "127.0.0.2")
    register(client, "alice")
    token = login(client, "alice").json()["access_token"]
    db.execute("select private.set_auth_settings(p_lockout_threshold => 1)")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"current_password": WRONG, "new_password": NEW_PASSWORD}
    assert client.put("/me/password", json=body, headers=headers).status_code == 429
    body["current_password"] = PASSWORD
    answer = client.put("/me/password", json=body, headers=headers)
    assert answer.status_code == 429 and answer.json()["code"] == "account_locked"


def test_a_flood_of_password_changes_leaves_other_users_answered(
        live_api: Callable[..., LiveApi], clients: Callable[[LiveApi, str], httpx.Client],
        db: psycopg.Connection) -> None:
    # A small pool and the production cost, so that hashing alone could hold every connection.
    api = live_api(pool_min_size="4", pool_max_size="4", pool_timeout_seconds="1")
    db.execute("select private.set_auth_settings(p_bcrypt_cost => 12, p_lockout_threshold => 1000,"
               " p_lockout_hard_limit => 1000)")
    setup = clients(api, "127.0.0.2")
    for name in ("mallory", "bob"):
        assert register(setup, name).status_code == 201
    mallory = {"Authorization": f"Bearer {login(setup, 'mallory').json()['access_token']}"}
    bob = {"Authorization": f"Bearer {login(setup, 'bob').json()['access_token']}"}
    flooding = threading.Event()
    flood_statuses: list[int] = []

    def flood() -> None:
        with httpx.Client(base_url=api.base, timeout=30) as client:
            for _ in range(4):
                flooding.set()
                answer = client.put("/me/password", headers=mallory,
                                    json={"current_password": WRONG, "new_password": NEW_PASSWORD})
                flood_statuses.append(answer.status_code)

    threads = [threading.Thread(target=flood) for _ in range(10)]
    for thread in threads:
        thread.start()
    flooding.wait(10)
    bob_client = clients(api, "127.0.0.3")
    bob_statuses = [bob_client.get("/me", headers=bob).status_code for _ in range(10)]
    for thread in threads:
        thread.join(120)

    assert bob_statuses == [200] * 10
    assert set(flood_statuses) <= {401, 503} and 401 in flood_statuses


def test_each_worker_allows_its_share_of_the_login_rate(
        live_api: Callable[..., LiveApi], clients: Callable[[LiveApi, str], httpx.Client]) -> None:
    # What `strongroom serve --workers 2` tells each worker: one process here, holding half the budget.
    api = live_api(login_rate_per_minute="4", api_workers="2")
    client = clients(api, "127.0.0.2")
    assert [login(client, f"user{i}", WRONG).status_code for i in range(3)] == [401, 401, 429]


def test_a_device_token_is_neither_an_access_nor_a_refresh_token(
        live_api: Callable[..., LiveApi], clients: Callable[[LiveApi, str], httpx.Client]) -> None:
    api = live_api()
    client = clients(api, "127.0.0.2")
    register(client, "alice")
    device = login(client, "alice").json()["device_token"]

    assert client.get("/me", headers={"Authorization": f"Bearer {device}"}).status_code == 401
    assert client.post("/token/refresh", json={"refresh_token": device}).status_code == 401
    assert login(client, "alice", device=device).json()["device_token"] == device  # a known device keeps its token
