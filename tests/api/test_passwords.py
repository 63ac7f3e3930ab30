"""The password vault over HTTP: save (idempotent), list sites, look up by site, delete, generate.

One name per field in and out (website, username, password), every saved site can be looked up (a URL, a
site called "generate"), and item ids and the generator have paths of their own."""

from __future__ import annotations

import string
from collections.abc import Callable
from urllib.parse import quote

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

    assert "password" not in item and "secret" not in item
    assert found.status_code == 200 and found.json()["items"][0]["password"] == "correct-horse-42"
    assert "correct-horse-42" not in str(db.execute("select * from public.vault").fetchall())


def test_the_site_list_has_no_secrets(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    save(client, alice, "a.example", "pw-one-111")
    save(client, alice, "b.example", "pw-two-222")

    listed = client.get("/passwords", headers=alice)

    assert sorted(i["website"] for i in listed.json()["items"]) == ["a.example", "b.example"]
    assert listed.json()["next"] is None
    assert "pw-one" not in listed.text and "pw-two" not in listed.text


def test_the_site_list_pages_newest_first_by_cursor(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    ids = [save(client, alice, f"site{n}.example")["id"] for n in range(5)]

    first = client.get("/passwords", params={"limit": 2}, headers=alice).json()
    second = client.get("/passwords", params={"limit": 2, "cursor": first["next"]}, headers=alice).json()
    last = client.get("/passwords", params={"limit": 2, "cursor": second["next"]}, headers=alice).json()

    assert [i["id"] for i in first["items"] + second["items"] + last["items"]] == ids[::-1]
    assert last["next"] is None
    assert [i["website"] for i in first["items"]] == ["site4.example", "site3.example"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"cursor": -1}])
def test_a_bad_page_request_is_422(client: TestClient, user: Callable, params: dict[str, int]) -> None:
    assert client.get("/passwords", params=params, headers=user("alice")).status_code == 422


def test_a_look_up_by_site_is_not_paged(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    for n in range(3):
        client.post("/passwords", json={"website": "one.example", "username": f"me{n}", "password": "pw"},
                    headers=alice)
    found = client.get("/passwords", params={"website": "one.example", "limit": 1}, headers=alice).json()
    assert len(found["items"]) == 3 and found["next"] is None


def test_an_unknown_site_is_404(client: TestClient, user: Callable) -> None:
    assert client.get("/passwords/nowhere.example", headers=user("alice")).status_code == 404


def test_a_vault_item_can_be_deleted(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    item = save(client, alice)
    assert client.delete(f"/password-items/{item['id']}", headers=alice).status_code == 204
    assert client.get("/passwords/example.org", headers=alice).status_code == 404


def test_generated_passwords_have_the_length_and_classes_asked_for(client: TestClient, user: Callable) -> None:
    response = client.get("/password-generator", params={"length": 32, "symbols": False}, headers=user("alice"))
    password = response.json()["password"]
    assert len(password) == 32 and not set(password) - set(string.ascii_letters + string.digits)


@pytest.mark.parametrize("params", [{"length": 7}, {"length": 129}, {"length": "x"}, {"lower": "maybe"}])
def test_bad_generator_parameters_are_422(client: TestClient, user: Callable, params: dict) -> None:
    assert client.get("/password-generator", params=params, headers=user("alice")).status_code == 422


def test_no_character_class_is_refused_by_the_database(client: TestClient, user: Callable) -> None:
    params = {"lower": False, "upper": False, "digits": False, "symbols": False}
    response = client.get("/password-generator", params=params, headers=user("alice"))
    assert response.status_code == 422 and response.json()["sqlstate"] == "SRP52"


def test_an_idempotent_save_stores_no_secret_with_its_key(client: TestClient, user: Callable,
                                                          db: psycopg.Connection) -> None:
    alice = {**user("alice"), "Idempotency-Key": "vault-1"}
    body = {"website": "example.org", "username": "alice", "password": "very-secret-999"}
    first, again = (client.post("/passwords", json=body, headers=alice) for _ in range(2))
    assert first.json() == again.json()
    assert "very-secret-999" not in str(db.execute("select response from private.idempotency_keys").fetchall())


@pytest.mark.parametrize("website", ["generate", "https://intranet.example.com/login", "a b/c?d#e&f=1", "items/7"])
def test_every_site_that_can_be_saved_can_be_looked_up(client: TestClient, user: Callable, website: str) -> None:
    alice = user("alice")
    save(client, alice, website, "pw-for-this-site")

    by_query = client.get("/passwords", params={"website": website}, headers=alice)
    by_path = client.get(f"/passwords/{quote(website, safe='')}", headers=alice)

    for found in (by_query, by_path):
        assert found.status_code == 200, found.text
        assert [(i["website"], i["password"]) for i in found.json()["items"]] == [(website, "pw-for-this-site")]


def test_the_seed_email_is_taken_as_the_login_and_answered_under_one_name(client: TestClient,
                                                                         user: Callable) -> None:
    alice = user("alice")
    saved = client.post("/passwords", json={"website": "mail.example", "email": "alice@mail.example",
                                            "password": "pw-mail-1"}, headers=alice)

    found = client.get("/passwords", params={"website": "mail.example"}, headers=alice).json()["items"][0]

    assert saved.status_code == 201, saved.text
    assert {"website", "username"} <= set(saved.json()) and not {"site", "login", "email"} & set(saved.json())
    assert (found["website"], found["username"], found["password"]) == ("mail.example", "alice@mail.example",
                                                                        "pw-mail-1")


def test_the_site_list_says_when_each_item_was_saved(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    save(client, alice, "a.example")
    assert all(i["created_at"] is not None for i in client.get("/passwords", headers=alice).json()["items"])


def test_the_generator_is_not_a_site_lookup(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    assert client.get("/passwords/generate", headers=alice).status_code == 404
    assert len(client.get("/password-generator", headers=alice).json()["password"]) == 20
