"""Helpers shared by the keys, entries, orders and vault tests: callers, keys and expected errors.

A caller is begun the one way the API begins it: `api.begin_request` (the plugin's `begin_request`), for
a user whose role and token version are read from the database. The master key is always passed as a
bound parameter into the transaction-local setting `strongroom.master_key`, as the API does.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg.rows import dict_row

from api import reencryption
from api.testing.plugin import TEST_MASTER_KEY, begin_request, ensure_data_key

# The master key the template was migrated with (api/testing/plugin.py), or else one for this session only:
# random, never written anywhere. ensure_key() creates the first data key under it.
# Shaped like the real ones: base64 of 32 random bytes.
MASTER_KEY = TEST_MASTER_KEY
OTHER_MASTER_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
KEY_ADMIN = "key-admin"


def _is_superuser(conn: psycopg.Connection) -> bool:
    return conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == (True,)


def _token_version(conn: psycopg.Connection, user_id: int | None, role: str) -> tuple[int, int]:
    """The user (an admin made on first use when None) and their token version, as a superuser reads them;
    version 1 on a connection that cannot read users (the API's login)."""
    if not _is_superuser(conn):
        assert user_id is not None, "a caller without a user needs a superuser connection to make one"
        return user_id, 1
    if user_id is None:
        row = conn.execute("select id from public.users where username = %s", [KEY_ADMIN]).fetchone()
        user_id = int(row[0]) if row else make_user(conn, KEY_ADMIN, "admin")
    row = conn.execute("select role, token_version from public.users where id = %s", [user_id]).fetchone()
    assert row is not None, f"no user {user_id}"
    assert row[0] == role, f"user {user_id} has the role {row[0]}, not {role}: make it with that role"
    return user_id, int(row[1])


@contextmanager
def caller(
    conn: psycopg.Connection, user_id: int | None, role: str = "user", master_key: str | None = MASTER_KEY,
    request_id: str | None = None,
) -> Iterator[psycopg.Connection]:
    """One transaction as a Strongroom caller (user or admin; None: an admin), with the master key set."""
    with conn.transaction():
        user_id, version = _token_version(conn, user_id, role)
        begin_request(conn, user_id, role, version, request_id=request_id)
        if master_key is not None:
            conn.execute("select set_config('strongroom.master_key', %s, true)", [master_key])
        yield conn


@contextmanager
def raises_sqlstate(sqlstate: str) -> Iterator[pytest.ExceptionInfo[psycopg.Error]]:
    """Expect a database error with exactly this SQLSTATE."""
    with pytest.raises(psycopg.Error) as info:
        yield info
    assert info.value.sqlstate == sqlstate, f"{info.value.sqlstate}: {info.value}"


def make_user(db: psycopg.Connection, name: str, role: str = "user") -> int:
    """A user row, made directly as the superuser (the accounts area owns registration)."""
    row = db.execute(
        "insert into users (username, hashed_password, role) values (%s, 'not-a-real-hash', %s) returning id",
        [name, role],
    ).fetchone()
    assert row is not None
    return int(row[0])


def ensure_key(db: psycopg.Connection, master_key: str = MASTER_KEY) -> int:
    """The active data key, created under master_key if the database has none."""
    return ensure_data_key(db, master_key)


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


def rows_read_by_page(db: psycopg.Connection, user: int, table: str, call: str, before: int | None,
                      plans: str) -> tuple[int, int]:
    """(rows returned, rows of `table` read) by one listing call as `user`, under `plans` (plan_cache_mode).

    The paging tests bound the second by the first, which catches a plan that reads more than the page
    without timing anything. Sequential scans are off: on a tiny table the planner would rather read it all.
    A partitioned table's rows are counted in its partitions.
    """
    read = ("select coalesce(sum(seq_tup_read + idx_tup_fetch), 0) from pg_stat_xact_user_tables"
            " where relid = %(t)s::regclass"
            " or relid in (select inhrelid from pg_inherits where inhparent = %(t)s::regclass)")
    with caller(db, user):
        db.execute("select set_config('plan_cache_mode', %s, true)", [plans])
        db.execute("set local enable_seqscan = off")
        already = one(db, read, {"t": table})[0]
        returned = len(db.execute(call, [before]).fetchall())
        return returned, one(db, read, {"t": table})[0] - already
