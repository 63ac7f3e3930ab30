"""Administration over HTTP: data keys and user accounts. A good token without the role gets 403."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import reencryption
from tests.api.conftest import PASSWORD, bearer, login

ADMIN_ROUTES = [
    ("GET", "/aes/keys", None),
    ("POST", "/aes/rotate", None),
    ("POST", "/aes/reencrypt", {}),
    ("POST", "/aes/keys/1/retire", None),
    ("GET", "/users", None),
    ("POST", "/users/1/disable", None),
    ("POST", "/users/1/enable", None),
    ("POST", "/users/1/unlock", None),
    ("PUT", "/users/1/role", {"role": "admin"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_a_user_token_on_an_admin_route_is_403(client: TestClient, user: Callable, method: str, path: str,
                                               body: dict | None) -> None:
    response = client.request(method, path, json=body, headers=user("alice"))
    assert response.status_code == 403 and response.headers["content-type"] == "application/problem+json"


def test_rotation_makes_a_new_active_key_and_old_notes_still_decrypt(client: TestClient, user: Callable,
                                                                    admin: dict[str, str]) -> None:
    alice = user("alice")
    note = client.post("/entries", json={"title": "t", "content": "before rotation"}, headers=alice).json()

    rotated = client.post("/aes/rotate", headers=admin)
    keys = client.get("/aes/keys", headers=admin).json()["items"]

    assert rotated.status_code == 200 and rotated.json()["new_key_id"] != rotated.json()["old_key_id"]
    assert [k["id"] for k in keys if k["state"] == "active"] == [rotated.json()["new_key_id"]]
    assert all("key_value" not in k and "material" not in k for k in keys)
    assert client.get(f"/entries/{note['id']}", headers=alice).json()["content"] == "before rotation"


def test_reencryption_moves_every_row_then_the_old_key_can_be_retired(client: TestClient, user: Callable,
                                                                     admin: dict[str, str]) -> None:
    alice = user("alice")
    notes = [client.post("/entries", json={"title": f"t{i}", "content": f"c{i}"}, headers=alice).json()
             for i in range(3)]
    old = client.post("/aes/rotate", headers=admin).json()["old_key_id"]

    answers: list[dict] = []

    def batch(step: reencryption.Step) -> tuple[int, int | None]:
        response = client.post("/aes/reencrypt", headers=admin,
                               json={"batch_size": step.batch_size, "sweep": step.sweep, "count": step.count})
        assert response.status_code == 200, response.text
        answers.append(response.json())
        return response.json()["moved"], response.json()["rows_left"]

    progress = reencryption.run(batch, batch_size=2, count_every=0)
    retired = client.post(f"/aes/keys/{old}/retire", headers=admin)

    assert (progress.moved, progress.rows_left, progress.total, progress.done) == (3, 0, 3, True)
    assert [(a["moved"], a["rows_left"]) for a in answers] == [(2, 1), (1, 0), (0, 0), (0, 0)]
    assert retired.status_code == 200 and retired.json()["state"] == "retired"
    assert [client.get(f"/entries/{n['id']}", headers=alice).json()["content"] for n in notes] == ["c0", "c1", "c2"]


def test_the_active_key_cannot_be_retired(client: TestClient, admin: dict[str, str]) -> None:
    active = next(k for k in client.get("/aes/keys", headers=admin).json()["items"] if k["state"] == "active")
    response = client.post(f"/aes/keys/{active['id']}/retire", headers=admin)
    assert response.status_code == 409


def test_an_admin_disables_and_enables_a_user(client: TestClient, user: Callable, admin: dict[str, str],
                                             db: psycopg.Connection) -> None:
    alice = user("alice")
    alice_id = client.get("/me", headers=alice).json()["user_id"]

    disabled = client.post(f"/users/{alice_id}/disable", headers=admin)
    refused = client.get("/me", headers=alice)
    enabled = client.post(f"/users/{alice_id}/enable", headers=admin)

    assert disabled.status_code == 200 and disabled.json()["is_active"] is False
    assert refused.status_code == 401
    assert enabled.status_code == 200 and client.get("/me", headers=bearer(login(client, "alice"))).status_code == 200


def test_an_admin_unlocks_a_locked_user(client: TestClient, user: Callable, admin: dict[str, str],
                                       db: psycopg.Connection) -> None:
    user("alice")
    db.execute("select private.set_auth_settings(p_lockout_threshold => 1)")
    client.post("/login", json={"username": "alice", "password": "not the password"})
    alice_id = db.execute("select id from public.users where username = 'alice'").fetchone()[0]
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 429

    assert client.post(f"/users/{alice_id}/unlock", headers=admin).status_code == 200

    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 200


def test_a_role_change_revokes_the_users_tokens(client: TestClient, user: Callable, admin: dict[str, str]) -> None:
    alice = user("alice")
    alice_id = client.get("/me", headers=alice).json()["user_id"]

    changed = client.put(f"/users/{alice_id}/role", json={"role": "auditor"}, headers=admin)

    assert changed.status_code == 200 and changed.json()["role"] == "auditor"
    assert client.get("/me", headers=alice).status_code == 401


def test_an_unknown_role_is_422(client: TestClient, user: Callable, admin: dict[str, str]) -> None:
    alice_id = client.get("/me", headers=user("alice")).json()["user_id"]
    assert client.put(f"/users/{alice_id}/role", json={"role": "root"}, headers=admin).status_code == 422


def test_admins_list_every_account(client: TestClient, user: Callable, admin: dict[str, str]) -> None:
    user("alice")
    names = {u["username"] for u in client.get("/users", headers=admin).json()["items"]}
    assert {"alice", "root-admin"} <= names
