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
    rows = db.execute("select count(*) from public.order_logs where request_id = 'req-0042-trace'").fetchone()
    assert response.headers["x-request-id"] == "req-0042-trace" and rows == (1,)
