"""The password vault over HTTP: save (idempotent), list sites, look up by site, delete, generate."""

from __future__ import annotations

import string
from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient


def save(client: TestClient, auth: dict[str, str], website: str = "example.org", password: str = "s3cret!") -> dict:
    response = client.post("/passwords", json={"website": website, "username": "alice@example.org",
                                               "password": password}, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_saved_login_is_found_by_site_and_stored_encrypted(client: TestClient, user: Callable,
                                                            db: psycopg.Connection) -> None:
    alice = user("alice")
    item = save(client, alice, "example.org", "correct-horse-42")

    found = client.get("/passwords/Example.org", headers=alice)

    assert "secret" not in item
    assert found.status_code == 200 and found.json()[0]["secret"] == "correct-horse-42"
    assert "correct-horse-42" not in str(db.execute("select * from public.vault").fetchall())


def test_the_site_list_has_no_secrets(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    save(client, alice, "a.example", "pw-one-111")
    save(client, alice, "b.example", "pw-two-222")

    listed = client.get("/passwords", headers=alice)

    assert sorted(i["site"] for i in listed.json()) == ["a.example", "b.example"]
    assert "pw-one" not in listed.text and "pw-two" not in listed.text


def test_an_unknown_site_is_404(client: TestClient, user: Callable) -> None:
    assert client.get("/passwords/nowhere.example", headers=user("alice")).status_code == 404


def test_a_vault_item_can_be_deleted(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    item = save(client, alice)
    assert client.delete(f"/passwords/{item['id']}", headers=alice).status_code == 204
    assert client.get("/passwords/example.org", headers=alice).status_code == 404


def test_generated_passwords_have_the_length_and_classes_asked_for(client: TestClient, user: Callable) -> None:
    response = client.get("/passwords/generate", params={"length": 32, "symbols": False}, headers=user("alice"))
    password = response.json()["password"]
    assert len(password) == 32 and not set(password) - set(string.ascii_letters + string.digits)


@pytest.mark.parametrize("params", [{"length": 7}, {"length": 129}, {"length": "x"}, {"lower": "maybe"}])
def test_bad_generator_parameters_are_422(client: TestClient, user: Callable, params: dict) -> None:
    assert client.get("/passwords/generate", params=params, headers=user("alice")).status_code == 422


def test_no_character_class_is_refused_by_the_database(client: TestClient, user: Callable) -> None:
    params = {"lower": False, "upper": False, "digits": False, "symbols": False}
    response = client.get("/passwords/generate", params=params, headers=user("alice"))
    assert response.status_code == 422 and response.json()["sqlstate"].startswith("SRP")


def test_an_idempotent_save_stores_no_secret_with_its_key(client: TestClient, user: Callable,
                                                          db: psycopg.Connection) -> None:
    alice = {**user("alice"), "Idempotency-Key": "vault-1"}
    body = {"website": "example.org", "username": "alice", "password": "very-secret-999"}
    first, again = (client.post("/passwords", json=body, headers=alice) for _ in range(2))
    assert first.json() == again.json()
    assert "very-secret-999" not in str(db.execute("select response from private.idempotency_keys").fetchall())
