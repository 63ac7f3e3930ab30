"""Helpers shared by the keys, entries, orders and vault tests: callers, keys and expected errors.

Until the accounts area's `api.begin_request` is used here, a caller is set the way it would set it:
`set local role` plus the transaction-local claims. The master key is always passed as a bound
parameter into the transaction-local setting `strongroom.master_key`, as the API does.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg.rows import dict_row

from api import reencryption

# The master key the template was migrated with (api/testing/plugin.py), or else one for this session only:
# random, never written anywhere. ensure_key() creates the first data key under it.
# Shaped like the real ones: base64 of 32 random bytes.
MASTER_KEY = os.environ.get("STRONGROOM_TEST_MASTER_KEY") or base64.b64encode(secrets.token_bytes(32)).decode()
OTHER_MASTER_KEY = base64.b64encode(secrets.token_bytes(32)).decode()


@contextmanager
def caller(
    conn: psycopg.Connection, user_id: int | None, role: str = "user", master_key: str | None = MASTER_KEY
) -> Iterator[psycopg.Connection]:
    """One transaction as a Strongroom caller (user or admin), with the master key set."""
    with conn.transaction():
        conn.execute(f"set local role strongroom_{role}")
        conn.execute(
            "select set_config('strongroom.user_id', %s, true), set_config('strongroom.role', %s, true)",
            ["" if user_id is None else str(user_id), role],
        )
        if master_key is not None:
            conn.execute("select set_config('strongroom.master_key', %s, true)", [master_key])
        yield conn


@contextmanager
def raises_sqlstate(sqlstate: str) -> Iterator[pytest.ExceptionInfo[psycopg.Error]]:
    """Expect a database error with exactly this SQLSTATE."""
    with pytest.raises(psycopg.Error) as info:
        yield info
    assert info.value.sqlstate == sqlstate, f"{info.value.sqlstate}: {info.value}"


def make_user(db: psycopg.Connection, name: str) -> int:
    """A user row, made directly as the superuser (the accounts area owns registration)."""
    row = db.execute(
        "insert into users (username, hashed_password) values (%s, 'not-a-real-hash') returning id", [name]
    ).fetchone()
    assert row is not None
    return int(row[0])


def ensure_key(db: psycopg.Connection, master_key: str = MASTER_KEY) -> int:
    """The active data key, created under master_key if the database has none."""
    with db.transaction():
        db.execute("select set_config('strongroom.master_key', %s, true)", [master_key])
        row = db.execute("select private.ensure_active_key()").fetchone()
    assert row is not None
    return int(row[0])


def one(conn: psycopg.Connection, sql: str, params: list[object] | None = None) -> tuple:
    row = conn.execute(sql, params or []).fetchone()
    assert row is not None
    return row


def rotate(db: psycopg.Connection, master_key: str = MASTER_KEY) -> int:
    with caller(db, None, "admin", master_key):
        return int(one(db, "select new_key_id from api.rotate_key()")[0])


def reencrypt(db_dsn: str, batch_size: int = 100, master_key: str = MASTER_KEY, count_every: float = 0) -> None:
    """Re-encrypt everything the way the CLI does (api/reencryption.py): one batch per transaction.

    Rows left are counted after every batch unless count_every (seconds) says otherwise.
    """
    with reencryption.sql_batches(db_dsn, master_key, "strongroom_admin") as batch:
        reencryption.run(batch, batch_size, count_every)


def key_status(db: psycopg.Connection) -> dict[int, dict[str, object]]:
    with caller(db, None, "admin", None), db.cursor(row_factory=dict_row) as cur:
        return {r["id"]: r for r in cur.execute("select * from api.key_status()")}
