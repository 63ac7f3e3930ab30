"""Idempotency keys and refresh-token sessions, proven in SQL (sql/60_api_sessions.sql)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import psycopg
import pytest
from psycopg import errors

from tests.sql.accounts_support import PASSWORD, PEPPER, begin_request, register

H1 = hashlib.sha256(b"first").digest()
H2 = hashlib.sha256(b"second").digest()


def make_user(db: psycopg.Connection, name: str) -> int:
    row = db.execute("insert into public.users (username, hashed_password) values (%s, 'x') returning id",
                     [name]).fetchone()
    assert row is not None
    return int(row[0])


def as_caller(conn: psycopg.Connection, user_id: int) -> None:
    """Inside an open transaction: api.begin_request for the user, as the API does."""
    begin_request(conn, user_id)


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


# Refresh-token sessions ------------------------------------------------------------------------------

T1, T2, T3 = (hashlib.sha256(f"token {i}".encode()).digest() for i in range(1, 4))


def open_session(conn: psycopg.Connection, db: psycopg.Connection, user_id: int, version: int, token_hash: bytes,
                 ttl: str = "1 hour") -> None:
    """What the API's login does: api.login, then api.open_session in the same transaction."""
    name = db.execute("select username from public.users where id = %s", [user_id]).fetchone()
    assert name is not None
    with conn.transaction():
        conn.execute("select status from api.login(%s, %s, %s)", [name[0], PASSWORD, PEPPER])
        conn.execute("select api.open_session(%s, %s, %s, %s::interval)", [user_id, version, token_hash, ttl])


def refresh(conn: psycopg.Connection, old: bytes, new: bytes) -> tuple:
    with conn.transaction():
        row = conn.execute("select * from api.refresh_session(%s, %s, '1 hour')", [old, new]).fetchone()
    assert row is not None
    return tuple(row)


def test_a_refresh_token_is_exchanged_once_for_the_next(db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice = register(db, "alice")
    open_session(api_conn, db, alice, 1, T1)

    assert refresh(api_conn, T1, T2)[:4] == ("ok", alice, "user", 1)
    assert refresh(api_conn, T2, T3)[0] == "ok"


def test_a_reused_refresh_token_revokes_its_family_and_leaves_an_audit_row(
        db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice = register(db, "alice")
    open_session(api_conn, db, alice, 1, T1)
    refresh(api_conn, T1, T2)

    assert refresh(api_conn, T1, T3)[0] == "reused"
    assert refresh(api_conn, T2, T3)[0] == "revoked"
    events = db.execute("select count(*) from public.logs l where l.message like '%refresh_token_reused%'"
                        " or to_jsonb(l)->>'action' = 'refresh_token_reused'").fetchone()
    assert events == (1,)


def test_an_unknown_or_expired_refresh_token_is_refused(db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice = register(db, "alice")
    open_session(api_conn, db, alice, 1, T1, ttl="1 second")
    db.execute("update private.refresh_tokens set issued_at = issued_at - interval '1 hour',"
               " expires_at = now() - interval '1 minute'")

    assert refresh(api_conn, T3, T2)[0] == "invalid"
    assert refresh(api_conn, T1, T2)[0] == "expired"


def test_tokens_issued_before_logout_everywhere_are_refused(db: psycopg.Connection,
                                                           api_conn: psycopg.Connection) -> None:
    alice = register(db, "alice")
    open_session(api_conn, db, alice, 1, T1)
    db.execute("select private.bump_token_version(%s)", [alice])

    assert refresh(api_conn, T1, T2)[0] == "revoked"


def test_no_session_opens_for_a_disabled_account_or_a_stale_version(db: psycopg.Connection,
                                                                    api_conn: psycopg.Connection) -> None:
    alice, bob = register(db, "alice"), register(db, "bob")
    db.execute("select private.disable_user(%s)", [bob])

    for user_id, version in ((alice, 2), (bob, 1)):
        with pytest.raises(psycopg.Error) as refused:
            open_session(api_conn, db, user_id, version, T1)
        assert refused.value.sqlstate == "SRA40"


def test_a_caller_ends_only_their_own_session(db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice, bob = register(db, "alice"), register(db, "bob")
    open_session(api_conn, db, alice, 1, T1)

    with api_conn.transaction():
        begin_request(api_conn, bob)
        assert api_conn.execute("select api.end_session(%s)", [T1]).fetchone() == (False,)
    assert refresh(api_conn, T1, T2)[0] == "ok"
    with api_conn.transaction():
        begin_request(api_conn, alice)
        assert api_conn.execute("select api.end_session(%s)", [T2]).fetchone() == (True,)
    assert refresh(api_conn, T2, T3)[0] == "revoked"


def test_every_logout_is_logged_with_whether_it_revoked_a_session(db: psycopg.Connection,
                                                                 api_conn: psycopg.Connection) -> None:
    alice, bob = register(db, "alice"), register(db, "bob")
    open_session(api_conn, db, alice, 1, T1)
    for user, token in ((bob, T1), (alice, None), (alice, T1)):
        with api_conn.transaction():
            begin_request(api_conn, user)
            api_conn.execute("select api.end_session(%s)", [token])

    rows = db.execute("select u.username, l.details->>'session_revoked' from logs l join users u on u.id = l.actor_id"
                      " where l.action = 'logout' order by l.id").fetchall()
    assert rows == [("bob", "false"), ("alice", "false"), ("alice", "true")]


def test_no_session_opens_without_a_login_of_that_user_in_the_transaction(db: psycopg.Connection,
                                                                       api_conn: psycopg.Connection) -> None:
    register(db, "alice")
    bob = register(db, "bob")
    attempts = ("select api.open_session(%s, 1, %s, '1 hour')",
                "select status from api.login('alice', %s, %s), api.open_session(%s, 1, %s, '1 hour')")
    for statement, params in ((attempts[0], [bob, T1]), (attempts[1], [PASSWORD, PEPPER, bob, T1])):
        with pytest.raises(psycopg.Error) as refused, api_conn.transaction():
            api_conn.execute(statement, params)
        assert refused.value.sqlstate == "SRA40"
    assert db.execute("select count(*) from private.refresh_tokens").fetchone() == (0,)


def test_only_hashes_of_refresh_tokens_are_stored(db: psycopg.Connection, api_conn: psycopg.Connection) -> None:
    alice = register(db, "alice")
    open_session(api_conn, db, alice, 1, T1)
    assert db.execute("select token_hash from private.refresh_tokens").fetchall() == [(T1,)]


def test_the_error_table_is_readable_by_the_api_with_our_session_codes(api_conn: psycopg.Connection) -> None:
    codes = {row[0]: row[2] for row in api_conn.execute("select * from api.error_codes()").fetchall()}
    assert codes["SRA40"] == 401 and codes["SRP40"] == 422 and codes["SRC40"] == 409
