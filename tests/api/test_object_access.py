"""Object-level authorization: on every route that names an object, user B gets 404 for user A's object,
and A's object is unchanged. The table is checked against the OpenAPI document, so a new route with an id
fails here until it is added."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

# (method, path template, body); {order}, {entry}, {item}, {site} are user A's objects.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/orders/{order}", None),
    ("PATCH", "/orders/{order}", {"status": "cancelled"}),
    ("GET", "/orders/{order}/history", None),
    ("GET", "/entries/{entry}", None),
    ("PUT", "/entries/{entry}", {"title": "stolen"}),
    ("DELETE", "/entries/{entry}", None),
    ("DELETE", "/password-items/{item}", None),
    ("GET", "/passwords/{site}", None),
]
# Routes with an id that are not about a user's own object (administration: 403 for users, tested apart).
NOT_OWNED = {"/aes/keys/{key_id}/retire", "/users/{user_id}/disable", "/users/{user_id}/enable",
             "/users/{user_id}/unlock", "/users/{user_id}/role"}


@pytest.fixture
def alices_objects(client: TestClient, user: Callable) -> tuple[dict[str, str], dict[str, Any]]:
    alice = user("alice")
    order = client.post("/orders", json={"description": "alice's order"}, headers=alice).json()
    entry = client.post("/entries", json={"title": "alice's note", "content": "private"}, headers=alice).json()
    item = client.post("/passwords", json={"website": "alice.example", "username": "alice", "password": "pw-1234"},
                       headers=alice).json()
    return alice, {"order": order["id"], "entry": entry["id"], "item": item["id"], "site": "alice.example"}


def snapshot(client: TestClient, alice: dict[str, str], ids: dict[str, Any]) -> list[Any]:
    return [client.get(f"/orders/{ids['order']}", headers=alice).json(),
            client.get(f"/entries/{ids['entry']}", headers=alice).json(),
            client.get(f"/passwords/{ids['site']}", headers=alice).json()]


# The object each route names, as the refusal's log row names it (None: a look-up by site, not by id).
LOGGED_AS = {"{order}": ("orders", "order"), "{entry}": ("entries", "entry"), "{item}": ("vault", "item"),
             "{site}": None}


@pytest.mark.parametrize(("method", "template", "body"), ROUTES)
def test_user_b_gets_404_on_user_a_object_and_it_is_unchanged(client: TestClient, user: Callable, alices_objects,
                                                              db: psycopg.Connection, method: str, template: str,
                                                              body: Any) -> None:
    alice, ids = alices_objects
    bob = user("bob")
    before = snapshot(client, alice, ids)

    response = client.request(method, template.format(**ids), json=body, headers=bob)

    assert response.status_code == 404
    assert response.json()["detail"]
    assert not any(secret in response.text for secret in ("alice's order", "alice's note", "private", "pw-1234"))
    assert snapshot(client, alice, ids) == before
    logged = next(v for k, v in LOGGED_AS.items() if k in template)
    if logged is not None:
        table, name = logged
        rows = db.execute("select u.username, l.table_name, l.row_id from logs l join users u on u.id = l.actor_id"
                          " where l.action = 'access_refused' and l.request_id = %s",
                          [response.headers["x-request-id"]]).fetchall()
        assert rows == [("bob", table, ids[name])]


def test_every_route_with_an_object_id_is_in_the_table(client: TestClient) -> None:
    covered = {(m, t.replace("{order}", "{order_id}").replace("{entry}", "{entry_id}")
                .replace("{item}", "{item_id}").replace("{site}", "{website}")) for m, t, _ in ROUTES}
    paths = client.get("/openapi.json").json()["paths"]
    with_ids = {(method.upper(), path) for path, ops in paths.items() if "{" in path and path not in NOT_OWNED
                for method in ops}
    assert with_ids == covered
