"""Each security event, driven through the function the API calls, writes exactly its logs row.

The API runs every call in one transaction on a `strongroom_authenticator` connection: for a caller it
first calls `api.begin_request(...)`; before there is one (register, login, refresh) it sets only the
request id and client address. These tests do the same, then read `public.logs` on another connection,
so only committed rows count. Change-audit rows (component `audit`, written by the table triggers) are
proven in test_audit.py and left out here: the rows asserted are the events themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from tests.sql.accounts_support import PASSWORD, PEPPER, begin_request, make_user, register

NEW_PASSWORD = "a different horse battery staple"
ADDR = "198.51.100.40"
# (level, action, user_id: the subject, actor_id: the caller, request_id) of each event row of a request.
EventRow = tuple[str, str, int | None, int | None, str | None]


@pytest.fixture
def api(connect: Callable[..., psycopg.Connection]) -> psycopg.Connection:
    """A connection as the API has one: logged in as the authenticator."""
    return connect("strongroom_authenticator")


@contextmanager
def anonymous_request(conn: psycopg.Connection, request_id: str) -> Iterator[psycopg.Connection]:
    """One committed transaction before there is a caller, as api/http/calls.py opens it for register, login and
    refresh."""
    with conn.transaction():
        conn.execute("select api.begin_anonymous_request(%s, %s::inet)", [request_id, ADDR])
        yield conn


@contextmanager
def request_of(conn: psycopg.Connection, db: psycopg.Connection, user_id: int, role: str,
               request_id: str) -> Iterator[psycopg.Connection]:
    """One committed transaction of a caller holding a token of their current version."""
    version = db.execute("select token_version from public.users where id = %s", [user_id]).fetchone()
    assert version is not None
    with conn.transaction():
        begin_request(conn, user_id, role, int(version[0]), request_id, ADDR)
        yield conn


def events_of(db: psycopg.Connection, request_id: str) -> list[EventRow]:
    """The committed event rows of one request, oldest first."""
    return [(r[0], r[1], r[2], r[3], r[4]) for r in db.execute(
        "select level, action, user_id, actor_id, request_id from public.logs"
        " where request_id = %s and component <> 'audit' order by id", [request_id]).fetchall()]


def one_row(conn: psycopg.Connection, sql: str, params: list[Any]) -> tuple[Any, ...]:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return tuple(row)


# --- an administrator acting on a user ------------------------------------------------------------------


def lock(db: psycopg.Connection, user_id: int) -> None:
    db.execute("update public.users set failed_logins = 3, lock_count = 1,"
               " locked_until = now() + interval '1 hour' where id = %s", [user_id])


def disable(db: psycopg.Connection, user_id: int) -> None:
    db.execute("select private.disable_user(%s)", [user_id])


def nothing(db: psycopg.Connection, user_id: int) -> None:
    pass


@pytest.mark.parametrize(
    ("arrange", "call", "level", "action"),
    [
        (nothing, "select * from api.disable_user(%s)", "WARNING", "user_disabled"),
        (disable, "select * from api.enable_user(%s)", "INFO", "user_enabled"),
        (lock, "select * from api.unlock_user(%s)", "INFO", "user_unlocked"),
        (nothing, "select * from api.set_role(%s, 'auditor')", "WARNING", "role_changed"),
    ],
    ids=["disable", "enable", "unlock", "set_role"],
)
def test_an_admin_action_on_a_user_writes_one_event_about_the_user_by_the_admin_in_the_request(
        db, api, arrange, call, level, action):
    admin = make_user(db, "root-admin", "admin")
    alice = register(db, "alice")
    arrange(db, alice)

    with request_of(api, db, admin, "admin", "req-admin-1"):
        api.execute(call, [alice])

    assert events_of(db, "req-admin-1") == [(level, action, alice, admin, "req-admin-1")]
    details = one_row(db, "select details from public.logs where request_id = 'req-admin-1'"
                          " and component = 'auth'", [])[0]
    assert details["actor_id"] == admin


# --- a user acting on their own account -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "params", "action"),
    [
        ("select * from api.change_password(%s, %s, %s)", [PASSWORD, NEW_PASSWORD, PEPPER], "password_changed"),
        ("select api.logout_everywhere()", [], "logout_everywhere"),
    ],
    ids=["change_password", "logout_everywhere"],
)
def test_a_users_own_account_change_writes_one_event_by_and_about_them_in_the_request(db, api, call, params,
                                                                                     action):
    alice = register(db, "alice")

    with request_of(api, db, alice, "user", "req-own-1"):
        api.execute(call, params)

    assert events_of(db, "req-own-1") == [("INFO", action, alice, alice, "req-own-1")]


def test_a_password_change_with_the_wrong_current_password_writes_no_password_changed_event(db, api):
    alice = register(db, "alice")

    with request_of(api, db, alice, "user", "req-own-2"):
        status = one_row(api, "select status from api.change_password(%s, %s, %s)",
                         ["not her password at all", NEW_PASSWORD, PEPPER])[0]

    assert status == "bad_credentials"
    assert events_of(db, "req-own-2") == [("WARNING", "login_failed", alice, alice, "req-own-2")]


# --- before there is a caller: register, login, refresh ----------------------------------------------------


def test_registering_writes_one_user_created_event_about_the_new_user_with_no_actor(db, api):
    with anonymous_request(api, "req-register-1"):
        alice = int(one_row(api, "select user_id from api.register(%s, %s, %s)", ["alice", PASSWORD, PEPPER])[0])

    assert events_of(db, "req-register-1") == [("INFO", "user_created", alice, None, "req-register-1")]


def test_a_user_created_by_a_dba_is_an_event_with_no_actor_and_the_dbas_database_role(db):
    alice = make_user(db, "alice", "admin")

    row = one_row(db, "select level, action, user_id, actor_id, request_id, db_role from public.logs"
                      " where action = 'user_created'", [])
    assert row == ("INFO", "user_created", alice, None, None, one_row(db, "select session_user::text", [])[0])


@pytest.mark.parametrize(
    ("arrange", "username", "password", "status", "action", "about_alice"),
    [
        (nothing, "alice", "not her password at all", "bad_credentials", "login_failed", True),
        (nothing, "nobody", PASSWORD, "bad_credentials", "login_failed", False),
        (disable, "alice", "not her password at all", "bad_credentials", "login_failed", True),
        (lock, "alice", PASSWORD, "locked", "login_refused_locked", True),
        (disable, "alice", PASSWORD, "disabled", "login_refused_disabled", True),
    ],
    ids=["wrong_password", "unknown_user", "disabled_wrong_password", "locked", "disabled"],
)
def test_a_refused_login_answers_a_status_and_its_event_commits_with_the_transaction(
        db, api, arrange, username, password, status, action, about_alice):
    alice = register(db, "alice")
    arrange(db, alice)

    with api.transaction():  # as the login route: one transaction, committed whatever the status
        answer = one_row(api, "select status, user_id from api.login(%s, %s, %s, %s::inet, %s)",
                         [username, password, PEPPER, ADDR, "req-login-1"])
        assert events_of(db, "req-login-1") == []  # not visible before the commit

    assert answer == (status, None)
    assert events_of(db, "req-login-1") == [("WARNING", action, alice if about_alice else None, None, "req-login-1")]


def test_a_refresh_token_presented_twice_writes_one_reuse_event_about_its_user(db, api):
    alice = register(db, "alice")
    first, second, third = (hashlib.sha256(s).digest() for s in (b"first", b"second", b"third"))
    with anonymous_request(api, "req-login-2"):  # a session opens only after its user's login
        one_row(api, "select status from api.login('alice', %s, %s)", [PASSWORD, PEPPER])
        one_row(api, "select api.open_session(%s, 1, %s, '1 hour')", [alice, first])
    with anonymous_request(api, "req-refresh-1"):
        assert one_row(api, "select status from api.refresh_session(%s, %s, '1 hour')", [first, second]) == ("ok",)

    with anonymous_request(api, "req-refresh-2"):
        status = one_row(api, "select status from api.refresh_session(%s, %s, '1 hour')", [first, third])[0]

    assert status == "reused"
    assert events_of(db, "req-refresh-1") == []
    assert events_of(db, "req-refresh-2") == [("WARNING", "refresh_token_reused", alice, None, "req-refresh-2")]


# --- a DBA changing the settings ---------------------------------------------------------------------------


def test_changing_the_authentication_settings_writes_one_event_naming_the_dba_and_the_new_values(db):
    before = one_row(db, "select coalesce(max(id), 0) from public.logs", [])[0]  # the template set some

    db.execute("select private.set_auth_settings(p_lockout_threshold => 7)")

    rows = db.execute("select level, user_id, actor_id, request_id, db_role, details from public.logs"
                      " where action = 'settings_changed' and id > %s", [before]).fetchall()
    dba = one_row(db, "select session_user::text", [])[0]
    assert [r[:5] for r in rows] == [("INFO", None, None, None, dba)]
    assert rows[0][5]["lockout_threshold"] == 7 and rows[0][5]["by"] == dba
