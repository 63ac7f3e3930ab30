"""Secure notes over HTTP: create (idempotent), list titles in pages, get decrypted, update, delete."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient


def create(client: TestClient, auth: dict[str, str], title: str = "note", content: str = "secret text") -> dict:
    response = client.post("/entries", json={"title": title, "content": content}, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_note_is_stored_encrypted_and_read_back_decrypted(client: TestClient, user: Callable,
                                                           db: psycopg.Connection) -> None:
    alice = user("alice")
    note = create(client, alice, "diary", "the safe's combination is 12-34-56")

    assert "content" not in note
    assert client.get(f"/entries/{note['id']}", headers=alice).json()["content"] == "the safe's combination is 12-34-56"
    assert "12-34-56" not in str(db.execute("select * from public.entries").fetchall())


def test_notes_are_listed_by_title_in_pages_without_content(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    ids = [create(client, alice, f"note {i}")["id"] for i in range(3)]

    first = client.get("/entries", params={"limit": 2}, headers=alice).json()
    second = client.get("/entries", params={"limit": 2, "cursor": first["next"]}, headers=alice).json()

    assert [e["id"] for e in first["items"] + second["items"]] == sorted(ids, reverse=True)
    assert second["next"] is None and all("content" not in e for e in first["items"])


def test_a_note_can_be_updated_and_deleted(client: TestClient, user: Callable) -> None:
    alice = user("alice")
    note = create(client, alice)

    updated = client.put(f"/entries/{note['id']}", json={"content": "new text"}, headers=alice)
    deleted = client.delete(f"/entries/{note['id']}", headers=alice)

    assert updated.status_code == 200 and updated.json()["content"] == "new text"
    assert updated.json()["title"] == "note"
    assert deleted.status_code == 204
    assert client.get(f"/entries/{note['id']}", headers=alice).status_code == 404


def test_an_idempotent_retry_creates_one_note_and_stores_no_content_with_the_key(
        client: TestClient, user: Callable, db: psycopg.Connection) -> None:
    alice = {**user("alice"), "Idempotency-Key": "note-1"}
    first = client.post("/entries", json={"title": "t", "content": "hush"}, headers=alice)
    again = client.post("/entries", json={"title": "t", "content": "hush"}, headers=alice)

    assert first.json() == again.json() and again.status_code == 201
    assert db.execute("select count(*) from public.entries").fetchone() == (1,)
    assert "hush" not in str(db.execute("select response from private.idempotency_keys").fetchall())


@pytest.mark.parametrize("body", [
    {"title": "t", "content": "c", "user_id": 2},
    {"title": "t\u0000", "content": "c"},
    {"title": "", "content": "c"},
    {"title": "t" * 256, "content": "c"},
    {"title": 1, "content": "c"},
    {"title": "t", "content": None},
])
def test_bad_note_input_is_422(client: TestClient, user: Callable, body: dict) -> None:
    assert client.post("/entries", json=body, headers=user("alice")).status_code == 422
