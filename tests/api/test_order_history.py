"""An order's history over HTTP (its order_logs rows), and the request id that joins them to the answer."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient

from tests.api.test_orders import create


def test_an_admin_moves_an_order_along_and_its_history_shows_each_step(client: TestClient, user: Callable,
                                                                      admin: dict[str, str]) -> None:
    alice = user("alice")
    order = create(client, alice)
    for status in ("processing", "shipped"):
        assert client.patch(f"/orders/{order['id']}", json={"status": status}, headers=admin).status_code == 200

    history = client.get(f"/orders/{order['id']}/history", headers=alice)

    assert history.status_code == 200
    assert [e["action"] for e in history.json()["items"]] == ["created", "status_changed", "status_changed"]


def test_an_order_request_id_joins_the_http_answer_and_the_audit_row(client: TestClient, user: Callable,
                                                                    db: psycopg.Connection) -> None:
    alice = user("alice")
    response = client.post("/orders", json={"description": "traced"},
                           headers={**alice, "X-Request-ID": "req-0042-trace"})
    ours = response.headers["x-request-id"]
    rows = db.execute("select request_id, client_request_id from public.order_logs").fetchall()
    trail = db.execute("select distinct request_id, client_request_id from audit.request_trail(%s)", [ours]).fetchall()
    assert ours != "req-0042-trace"
    assert rows == [(ours, "req-0042-trace")] == trail


def test_a_client_reusing_another_users_request_id_does_not_join_their_trail(client: TestClient, user: Callable,
                                                                             db: psycopg.Connection) -> None:
    alice, bob = user("alice"), user("bob-b")
    first = client.post("/orders", json={"description": "alice's"}, headers={**alice, "X-Request-ID": "req-shared-1"})
    client.post("/orders", json={"description": "bob's"}, headers={**bob, "X-Request-ID": "req-shared-1"})
    actors = db.execute("select distinct actor_id from audit.request_trail(%s)",
                        [first.headers["x-request-id"]]).fetchall()
    assert actors == [(first.json()["user_id"],)]
