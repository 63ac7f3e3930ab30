"""Idempotency keys and refresh-token sessions, proven in SQL (sql/60_api_sessions.sql)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import psycopg
import pytest
from psycopg import errors

H1 = hashlib.sha256(b"first").digest()
H2 = hashlib.sha256(b"second").digest()


def make_user(db: psycopg.Connection, name: str) -> int:
    row = db.execute("insert into public.users (username, hashed_password) values (%s, 'x') returning id",
                     [name]).fetchone()
    assert row is not None
    return int(row[0])


def as_caller(conn: psycopg.Connection, user_id: int) -> None:
    """What api.begin_request leaves behind: the caller's id and role, transaction-local."""
    conn.execute("select set_config('strongroom.user_id', %s, true)", [str(user_id)])
    conn.execute("set local role strongroom_user")


def claim(conn: psycopg.Connection, key: str, request_hash: bytes) -> tuple[str, int | None, object]:
    row = conn.execute("select * from api.claim_idempotency_key(%s, %s, '1 hour')", [key, request_hash]).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


@pytest.fixture
def api_conn(connect: Callable[..., psycopg.Connection]) -> psycopg.Connection:
    return connect(user="strongroom_authenticator")


def test_a_claimed_key_replays_the_first_answer(db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice = make_user(db, "alice")
    with api_conn.transaction():
        as_caller(api_conn, alice)
        assert claim(api_conn, "k-1", H1)[0] == "new"
        api_conn.execute("select api.save_idempotent_response('k-1', 201, '{\"id\": 7}')")
    with api_conn.transaction():
        as_caller(api_conn, alice)
        assert claim(api_conn, "k-1", H1) == ("replay", 201, {"id": 7})


def test_the_same_key_with_another_request_is_refused(db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice = make_user(db, "alice")
    with api_conn.transaction():
        as_caller(api_conn, alice)
        claim(api_conn, "k-1", H1)
        api_conn.execute("select api.save_idempotent_response('k-1', 201, '{}')")
    with pytest.raises(psycopg.Error) as refused, api_conn.transaction():
        as_caller(api_conn, alice)
        claim(api_conn, "k-1", H2)
    assert refused.value.sqlstate == "SRP40"


def test_a_key_still_in_flight_is_refused_at_once(db: psycopg.Connection,
                                                   connect: Callable[..., psycopg.Connection]) -> None:
    alice = make_user(db, "alice")
    first = connect(user="strongroom_authenticator")
    second = connect(user="strongroom_authenticator")
    with first.transaction():
        as_caller(first, alice)
        assert claim(first, "k-1", H1)[0] == "new"
        with pytest.raises(psycopg.Error) as busy, second.transaction():
            as_caller(second, alice)
            claim(second, "k-1", H1)
        assert busy.value.sqlstate == "SRC40"


def test_a_key_whose_transaction_rolled_back_can_be_claimed_again(db: psycopg.Connection,
                                                                 api_conn: psycopg.Connection) -> None:
    alice = make_user(db, "alice")
    with pytest.raises(RuntimeError), api_conn.transaction():
        as_caller(api_conn, alice)
        claim(api_conn, "k-1", H1)
        raise RuntimeError("the write failed")
    with api_conn.transaction():
        as_caller(api_conn, alice)
        assert claim(api_conn, "k-1", H2)[0] == "new"


def test_keys_belong_to_one_user(db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice, bob = make_user(db, "alice"), make_user(db, "bob")
    with api_conn.transaction():
        as_caller(api_conn, alice)
        claim(api_conn, "shared", H1)
        api_conn.execute("select api.save_idempotent_response('shared', 201, '{\"owner\": \"alice\"}')")
    with api_conn.transaction():
        as_caller(api_conn, bob)
        assert claim(api_conn, "shared", H2) == ("new", None, None)


def test_an_expired_key_is_claimed_anew_and_purged(db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice = make_user(db, "alice")
    db.execute("insert into private.idempotency_keys (user_id, key, request_hash, status, response, created_at,"
               " expires_at) values (%s, 'old', %s, 201, '{}', now() - interval '2 days', now() - interval '1 day'),"
               " (%s, 'older', %s, 201, '{}', now() - interval '2 days', now() - interval '1 day')",
               [alice, H1, alice, H1])
    with api_conn.transaction():
        as_caller(api_conn, alice)
        assert claim(api_conn, "old", H2)[0] == "new"
    with api_conn.transaction():
        assert api_conn.execute("select api.purge_expired_sessions()").fetchone() == (1,)
    keys = db.execute("select key from private.idempotency_keys order by key").fetchall()
    assert keys == [("old",)]


def test_a_malformed_key_is_refused(db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice = make_user(db, "alice")
    with pytest.raises(psycopg.Error) as refused, api_conn.transaction():
        as_caller(api_conn, alice)
        claim(api_conn, "has space", H1)
    assert refused.value.sqlstate == "SRP41"


def test_no_key_can_be_claimed_without_a_caller(api_conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.Error) as refused, api_conn.transaction():
        api_conn.execute("set local role strongroom_user")
        claim(api_conn, "k-1", H1)
    assert refused.value.sqlstate == "SRA01"


def test_callers_cannot_read_keys_or_tokens_directly(api_conn: psycopg.Connection) -> None:
    for table in ("private.idempotency_keys", "private.refresh_tokens"):
        with pytest.raises(errors.InsufficientPrivilege), api_conn.transaction():
            api_conn.execute("set local role strongroom_user")
            api_conn.execute(f"select * from {table}")
