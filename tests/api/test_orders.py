"""Orders over HTTP: create (idempotent), list with status filter and keyset pages, get, status, history."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient


def create(client: TestClient, auth: dict[str, str], description: str = "ten reams of paper", **extra: object) -> dict:
    response = client.post("/orders", json={"description": description, **extra}, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_an_order_is_created_pending_and_can_be_read_back(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    order = create(client, alice, "paper", sensitive=True)

    assert order["status"] == "pending" and order["sensitive"] is True
    assert client.get(f"/orders/{order['id']}", headers=alice).json()["description"] == "paper"


def test_a_sensitive_description_is_stored_only_encrypted(client: TestClient, user: Callable,
                                                         db: psycopg.Connection) -> None:
    order = create(client, user("alice"), "the launch codes", sensitive=True)
    row = db.execute("select * from public.orders where id = %s", [order["id"]]).fetchone()
    assert "the launch codes" not in str(row)


def test_orders_are_listed_newest_first_in_keyset_pages(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    ids = [create(client, alice, f"order {i}")["id"] for i in range(5)]

    first = client.get("/orders", params={"limit": 2}, headers=alice).json()
    second = client.get("/orders", params={"limit": 2, "cursor": first["next"]}, headers=alice).json()
    third = client.get("/orders", params={"limit": 2, "cursor": second["next"]}, headers=alice).json()

    seen = [o["id"] for page in (first, second, third) for o in page["items"]]
    assert seen == sorted(ids, reverse=True)
    assert third["next"] is None


def test_orders_can_be_filtered_by_status(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    kept, cancelled = create(client, alice), create(client, alice)
    client.patch(f"/orders/{cancelled['id']}", json={"status": "cancelled"}, headers=alice)

    listed = client.get("/orders", params={"status": "cancelled"}, headers=alice).json()["items"]

    assert [o["id"] for o in listed] == [cancelled["id"]] and kept["id"] not in [o["id"] for o in listed]


def test_a_user_may_cancel_but_not_ship_their_order(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    order = create(client, alice)

    shipped = client.patch(f"/orders/{order['id']}", json={"status": "shipped"}, headers=alice)
    cancelled = client.patch(f"/orders/{order['id']}", json={"status": "cancelled"}, headers=alice)

    assert shipped.status_code in (403, 409) and shipped.json()["sqlstate"].startswith(("SRC", "SRF"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


@pytest.mark.parametrize(("body", "status"), [
    ({"description": "x", "owner": 2}, 422),                   # unknown field
    ({"description": "nul \u0000 byte"}, 422),                   # NUL byte
    ({"description": 5}, 422),                                  # wrong type
    ({"description": "x", "sensitive": 1}, 422),                # number for a boolean
    ({"description": "x" * 10_001}, 422),                       # past its length
    ({}, 422),                                                  # missing field
])
def test_bad_order_input_is_a_4xx(client: TestClient, user: Callable, body: dict, status: int) -> None:
    assert client.post("/orders", json=body, headers=user("alice")).status_code == status


@pytest.mark.parametrize("path", ["/orders/0", "/orders/2147483648", "/orders/-1", "/orders/abc", "/orders/1.5",
                                  "/orders/true"])
def test_an_id_outside_postgresql_integers_is_422(client: TestClient, user: Callable, path: str) -> None:
    assert client.get(path, headers=user("alice")).status_code == 422


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"cursor": -1}, {"cursor": 2**31},
                                    {"limit": "true"}])
def test_bad_pagination_is_422(client: TestClient, user: Callable, params: dict) -> None:
    assert client.get("/orders", params=params, headers=user("alice")).status_code == 422


def test_an_idempotent_retry_returns_the_first_answer_and_creates_nothing(client: TestClient, user: Callable,
                                                                          db: psycopg.Connection) -> None:
    alice = {**user("alice"), "Idempotency-Key": "order-7f3a"}
    first = client.post("/orders", json={"description": "once"}, headers=alice)
    again = client.post("/orders", json={"description": "once"}, headers=alice)

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert db.execute("select count(*) from public.orders").fetchone() == (1,)


def test_the_same_idempotency_key_with_another_body_is_422(client: TestClient, user: Callable) -> None:
    alice = {**user("alice"), "Idempotency-Key": "order-7f3a"}
    client.post("/orders", json={"description": "once"}, headers=alice)
    response = client.post("/orders", json={"description": "something else"}, headers=alice)
    assert response.status_code == 422 and response.json()["sqlstate"] == "SRP40"


def test_a_malformed_idempotency_key_is_422(client: TestClient, user: Callable) -> None:
    response = client.post("/orders", json={"description": "x"}, headers={**user("alice"), "Idempotency-Key": "a b"})
    assert response.status_code == 422


def test_concurrent_duplicates_with_one_idempotency_key_create_exactly_one_order(
        client: TestClient, user: Callable, db: psycopg.Connection) -> None:
    alice = {**user("alice"), "Idempotency-Key": "burst-1"}
    statuses: list[int] = []
    start = threading.Barrier(8)

    def post() -> None:
        start.wait()
        statuses.append(client.post("/orders", json={"description": "burst"}, headers=alice).status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert db.execute("select count(*) from public.orders").fetchone() == (1,)
    assert 201 in statuses and set(statuses) <= {201, 409}


def test_the_last_page_says_there_is_no_next(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    create(client, alice)
    assert client.get("/orders", params={"limit": 1}, headers=alice).json()["next"] is None


def test_an_admin_creates_an_order_already_processing_in_one_transaction(client: TestClient, user: Callable,
                                                                        admin: dict[str, str],
                                                                        db: psycopg.Connection) -> None:
    order = create(client, admin, "rush job", status="processing")

    history = client.get(f"/orders/{order['id']}/history", headers=admin).json()["items"]

    assert order["status"] == "processing"
    assert [(e["action"], e["details"]) for e in history] == [("created", {"status": "processing"})]
    assert history[0]["actor_name"] == "root-admin" and history[0]["actor_role"] == "admin"


@pytest.mark.parametrize("status", ["processing", "shipped", "cancelled"])
def test_a_user_may_create_an_order_only_pending(client: TestClient, user: Callable, db: psycopg.Connection,
                                                 status: str) -> None:
    response = client.post("/orders", json={"description": "x", "status": status}, headers=user("alice"))
    assert response.status_code == 403 and response.json()["sqlstate"] == "SRF52"
    assert db.execute("select count(*) from public.orders").fetchone() == (0,)


@pytest.mark.parametrize(("method", "path"), [("POST", "/orders"), ("PATCH", "/orders/{id}")])
@pytest.mark.parametrize("status", ["done", "Cancelled"])
def test_an_unknown_status_is_422_listing_the_statuses(client: TestClient, user: Callable, method: str, path: str,
                                                       status: str) -> None:
    alice = user("alice")
    order = create(client, alice)
    response = client.request(method, path.format(id=order["id"]), json={"description": "x", "status": status}
                              if method == "POST" else {"status": status}, headers=alice)
    assert response.status_code == 422
    assert all(s in response.text for s in ("pending", "processing", "shipped", "cancelled"))


def test_the_order_statuses_say_what_each_role_may_do(client: TestClient, user: Callable,
                                                      admin: dict[str, str]) -> None:
    def rights(auth: dict[str, str]) -> dict[str, tuple[bool, bool]]:
        page = client.get("/order-statuses", headers=auth).json()
        return {s["status"]: (s["may_create"], s["may_set"]) for s in page["items"]}

    assert rights(user("alice")) == {"pending": (True, False), "processing": (False, False),
                                     "shipped": (False, False), "cancelled": (False, True)}
    assert rights(admin) == {"pending": (True, False), "processing": (True, True),
                             "shipped": (False, True), "cancelled": (False, True)}
