"""Faults against a real uvicorn: PostgreSQL restarting under a stream of writes, and an exhausted pool."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import psycopg
import pytest

from api.testing.plugin import PgInfo
from tests.api.conftest import PASSWORD, LiveApi

pytestmark = pytest.mark.slow


def token(base: str, name: str) -> dict[str, str]:
    assert httpx.post(f"{base}/register", json={"username": name, "password": PASSWORD}).status_code == 201
    tokens = httpx.post(f"{base}/login", json={"username": name, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_a_postgresql_restart_loses_no_acknowledged_order_and_the_api_recovers(
        pg: PgInfo, live_api: Callable[..., LiveApi], connect: Callable[..., psycopg.Connection]) -> None:
    if pg.embedded is None:
        pytest.fail("this test restarts the embedded server; run it without DATABASE_URL")
    api = live_api(pool_timeout_seconds="2")
    auth = token(api.base, "alice")
    acknowledged: list[int] = []
    failures: list[httpx.Response] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=api.base, headers=auth, timeout=30) as http:
            n = 0
            while not stop.is_set():
                n += 1
                response = http.post("/orders", json={"description": f"order {n}"})
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])
                else:
                    failures.append(response)

    writer = threading.Thread(target=stream)
    writer.start()
    while len(acknowledged) < 20:
        threading.Event().wait(0.05)
    pg.embedded.stop()
    pg.embedded.start()
    stop.set()
    writer.join()

    # Every request that arrives once the database is back succeeds: no restart of the API needed.
    with httpx.Client(base_url=api.base, headers=auth, timeout=30) as http:
        after = [http.post("/orders", json={"description": f"after {i}"}) for i in range(10)]
    assert [r.status_code for r in after] == [201] * 10
    acknowledged += [r.json()["id"] for r in after]

    # Whatever failed, failed cleanly: a 503 problem document, never a 500 or a hang.
    assert all(r.status_code == 503 and r.headers["content-type"] == "application/problem+json" for r in failures)
    assert all("retry-after" in r.headers for r in failures)
    stored = {row[0] for row in connect().execute("select id from public.orders").fetchall()}
    assert set(acknowledged) <= stored


def test_an_exhausted_pool_answers_503_with_retry_after_instead_of_waiting(
        live_api: Callable[..., LiveApi], connect: Callable[..., psycopg.Connection]) -> None:
    api = live_api(pool_min_size="1", pool_max_size="1", pool_timeout_seconds="0.5", statement_timeout_ms="20000")
    auth = token(api.base, "alice")
    blocker = connect()
    blocker.execute("lock table public.orders in access exclusive mode")  # holds until rollback
    held = threading.Event()
    first: list[httpx.Response] = []

    def occupy_the_only_connection() -> None:
        held.set()
        first.append(httpx.post(f"{api.base}/orders", json={"description": "waits"}, headers=auth, timeout=60))

    occupant = threading.Thread(target=occupy_the_only_connection)
    occupant.start()
    held.wait()
    # Until the pool's only connection is taken, /me still gets it; the first 503 shows it is taken.
    response = httpx.get(f"{api.base}/me", headers=auth, timeout=60)
    while response.status_code == 200:
        response = httpx.get(f"{api.base}/me", headers=auth, timeout=60)
    still_waiting = occupant.is_alive()
    blocker.rollback()
    occupant.join()

    assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1
    assert response.json()["code"] == "unavailable"
    assert still_waiting  # the 503 came while the connection was still busy: it did not wait for it
    assert first[0].status_code == 201


def test_a_stopping_server_finishes_the_requests_in_flight(live_api: Callable[..., LiveApi],
                                                          connect: Callable[..., psycopg.Connection]) -> None:
    api = live_api(statement_timeout_ms="20000")
    auth = token(api.base, "alice")
    blocker = connect()
    blocker.execute("lock table public.orders in access exclusive mode")
    answers: list[httpx.Response] = []
    in_flight = threading.Thread(target=lambda: answers.append(
        httpx.post(f"{api.base}/orders", json={"description": "in flight"}, headers=auth, timeout=60)))
    in_flight.start()
    waiting = connect(autocommit=True)
    while waiting.execute("select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                          " and query like '%create_order%'").fetchone() == (0,):
        threading.Event().wait(0.05)

    api.process.terminate()  # SIGTERM while the request waits for the lock
    blocker.rollback()
    in_flight.join()
    api.process.wait(30)

    assert answers[0].status_code == 201
    assert connect().execute("select count(*) from public.orders").fetchone() == (1,)


@pytest.mark.parametrize("outage_seconds", [0.5, 16.0], ids=["short outage", "outage past the pool's give-up time"])
def test_the_api_serves_again_soon_after_postgresql_accepts_connections(
        pg: PgInfo, live_api: Callable[..., LiveApi], outage_seconds: float) -> None:
    if pg.embedded is None:
        pytest.fail("this test stops the embedded server; run it without DATABASE_URL")
    # The pool gives up on a lost connection after pool_timeout_seconds (2 s): 16 s is well past it, and long
    # enough for an exponential backoff between reconnection attempts to show (1, 2, 4, 8, 16 s).
    api = live_api(pool_timeout_seconds="2")
    auth = token(api.base, "alice")
    with httpx.Client(base_url=api.base, headers=auth, timeout=30) as http:
        assert http.post("/orders", json={"description": "before"}).status_code == 201
        pg.embedded.stop()
        down = [http.post("/orders", json={"description": "while down"}).status_code]
        threading.Event().wait(outage_seconds)
        down.append(http.post("/orders", json={"description": "while down"}).status_code)
        pg.embedded.start()  # returns once PostgreSQL accepts connections
        accepting = time.monotonic()
        first = None
        while first is None and time.monotonic() - accepting < 60:
            if http.post("/orders", json={"description": "after"}).status_code == 201:
                first = time.monotonic() - accepting
            else:
                threading.Event().wait(0.02)
    print(f"\nfirst acknowledged write {first:.2f} s after PostgreSQL accepted connections "
          f"(outage {outage_seconds} s)" if first is not None else "\nno acknowledged write within 60 s")
    assert down == [503, 503]
    assert first is not None, "the API did not serve again without a restart"
