"""Small helpers shared by the accounts tests: register, log in and start requests in plain SQL."""

from __future__ import annotations

import base64
import os
from typing import Any

import psycopg
from psycopg.rows import dict_row

# A pepper made for this test run: the tests need one, the repository holds none.
PEPPER = base64.b64encode(os.urandom(32)).decode()
PASSWORD = "correct horse battery staple"


def register(
    conn: psycopg.Connection, username: str, password: str = PASSWORD, email: str | None = None, pepper: str = PEPPER
) -> int:
    row = conn.execute(
        "select user_id from api.register(%s, %s, %s, %s)", [username, password, pepper, email]
    ).fetchone()
    assert row is not None
    return int(row[0])


def make_user(conn: psycopg.Connection, username: str, role: str = "user", password: str = PASSWORD) -> int:
    """A user with the given role, made the way a DBA would (as the superuser, through private)."""
    row = conn.execute(
        "select private.create_user(%s, %s, %s, null, %s)", [username, password, PEPPER, role]
    ).fetchone()
    assert row is not None
    return int(row[0])


def login(conn: psycopg.Connection, username: str, password: str = PASSWORD, pepper: str = PEPPER) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("select * from api.login(%s, %s, %s)", [username, password, pepper]).fetchone()
    assert row is not None
    return row


def account(conn: psycopg.Connection, user_id: int) -> dict[str, Any]:
    """The user's row as the superuser sees it (row-level security does not apply to superusers)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("select * from public.users where id = %s", [user_id]).fetchone()
    assert row is not None
    return row


def begin_request(
    conn: psycopg.Connection,
    user_id: int,
    role: str = "user",
    token_version: int | None = None,
    request_id: str = "req-test",
    client_addr: str | None = "192.0.2.10",
) -> None:
    """Start a request in the connection's current transaction, as the API does."""
    if token_version is None:
        token_version = 1
    conn.execute(
        "select api.begin_request(%s, %s, %s, %s, %s)", [user_id, role, token_version, request_id, client_addr]
    )


def set_auth_settings(conn: psycopg.Connection, **settings: Any) -> None:
    args = ", ".join(f"p_{name} => %s" for name in settings)
    conn.execute(f"select private.set_auth_settings({args})", list(settings.values()))
