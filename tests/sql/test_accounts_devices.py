"""Lockout that strangers cannot turn against a user, proven in SQL: device budgets, the hard limit, the
one-call login and password change (sql/20_auth.sql, 54_api_users.sql, migration 20261126_14)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.sql.accounts_support import PASSWORD, PEPPER, account, begin_request, make_user, register, set_auth_settings
from tests.sql.test_accounts_login import WRONG, crypt_calls_during

LOGIN = "select * from api.login(%s, %s, %s, null, null, %s, %s, %s, %s)"


def digest() -> bytes:
    return hashlib.sha256(os.urandom(16)).digest()


def login(db: psycopg.Connection, username: str, password: str = PASSWORD, device: bytes | None = None,
          new_device: bytes | None = None, refresh: bytes | None = None) -> dict[str, Any]:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(LOGIN, [username, password, PEPPER, device, new_device, refresh,
                                  "1 hour" if refresh else None]).fetchone()
    assert row is not None
    return row


def known_device(db: psycopg.Connection, username: str) -> bytes:
    """A device that has logged in as the user: the hash the API would keep in its device token."""
    device = digest()
    assert login(db, username, new_device=device) | {"user_id": None} == {
        "status": "ok", "user_id": None, "role": "user", "token_version": 1, "locked_until": None,
        "device_issued": True, "session_id": None}
    return device


def test_a_successful_login_from_a_new_device_registers_it_once(db):
    alice = register(db, "alice")
    device = known_device(db, "alice")
    again = login(db, "alice", device=device, new_device=digest())
    assert again["status"] == "ok" and again["device_issued"] is False
    assert db.execute("select count(*) from private.login_devices where user_id = %s", [alice]).fetchone() == (1,)


def test_strangers_locking_the_account_do_not_lock_out_a_known_device(db):
    set_auth_settings(db, lockout_threshold=3)
    register(db, "alice")
    device = known_device(db, "alice")
    statuses = [login(db, "alice", WRONG)["status"] for _ in range(3)]
    assert statuses == ["bad_credentials", "bad_credentials", "locked"]
    assert login(db, "alice")["status"] == "locked"
    assert login(db, "alice", device=device)["status"] == "ok"


def test_failures_from_a_known_device_lock_that_device_only(db):
    set_auth_settings(db, lockout_threshold=2)
    register(db, "alice")
    device = known_device(db, "alice")
    assert [login(db, "alice", WRONG, device=device)["status"] for _ in range(2)] == ["bad_credentials", "locked"]
    assert login(db, "alice", device=device)["status"] == "locked"
    assert login(db, "alice")["status"] == "ok"


def test_another_users_device_token_counts_as_a_stranger(db):
    set_auth_settings(db, lockout_threshold=1)
    register(db, "alice")
    register(db, "mallory")
    mallorys = known_device(db, "mallory")
    assert login(db, "alice", WRONG, device=mallorys)["status"] == "locked"
    assert login(db, "alice", device=mallorys)["status"] == "locked"
    assert login(db, "mallory", device=mallorys)["status"] == "ok"


def test_the_hard_limit_is_100_consecutive_failures_by_default(db):
    assert db.execute("select lockout_hard_limit from private.auth_settings").fetchone() == (100,)


def test_at_the_hard_limit_the_account_stays_locked_until_an_admin_unlocks_it(db):
    # Temporary locks do not reset the count: let each one run out and keep guessing.
    set_auth_settings(db, lockout_threshold=4, lockout_hard_limit=10)
    alice = register(db, "alice")
    statuses = []
    for _ in range(10):
        statuses.append(login(db, "alice", WRONG)["status"])
        db.execute("update public.users set locked_until = now() - interval '1 second'"
                   " where id = %s", [alice])
    assert statuses == ["bad_credentials"] * 3 + ["locked"] + ["bad_credentials"] * 3 + ["locked"] + [
        "bad_credentials", "locked"]
    assert login(db, "alice") | {"status": "locked", "locked_until": None}  # no time: until unlocked
    assert account(db, alice)["failures_since_login"] == 10
    db.execute("update public.users set locked_until = null where id = %s", [alice])
    assert login(db, "alice")["status"] == "locked"
    db.execute("select private.unlock_user(%s)", [alice])
    assert login(db, "alice")["status"] == "ok"


def test_a_device_at_the_hard_limit_needs_an_admin_too_and_unlock_frees_it(db):
    set_auth_settings(db, lockout_threshold=1000, lockout_hard_limit=3)
    alice = register(db, "alice")
    device = known_device(db, "alice")
    assert [login(db, "alice", WRONG, device=device)["status"] for _ in range(3)] == [
        "bad_credentials", "bad_credentials", "locked"]
    assert login(db, "alice", device=device)["status"] == "locked"
    db.execute("select private.unlock_user(%s)", [alice])
    assert login(db, "alice", device=device)["status"] == "ok"


def test_a_success_restarts_the_consecutive_count(db):
    set_auth_settings(db, lockout_threshold=1000, lockout_hard_limit=3)
    alice = register(db, "alice")
    login(db, "alice", WRONG)
    login(db, "alice", WRONG)
    assert login(db, "alice")["status"] == "ok"
    assert account(db, alice)["failures_since_login"] == 0
    assert login(db, "alice", WRONG)["status"] == "bad_credentials"


def test_every_lock_is_an_account_locked_event_the_dba_query_lists(db):
    set_auth_settings(db, lockout_threshold=1, lockout_hard_limit=2)
    alice = register(db, "alice")
    device = known_device(db, "alice")
    login(db, "alice", WRONG, device=device)
    login(db, "alice", WRONG)
    db.execute("update public.users set locked_until = now() - interval '1 second' where id = %s", [alice])
    login(db, "alice", WRONG)
    rows = db.execute("select username, scope, until_unlocked from audit.account_locks() order by at").fetchall()
    assert rows == [("alice", "device", False), ("alice", "account", False), ("alice", "account", True)]


def test_only_the_most_recent_devices_are_remembered(db):
    set_auth_settings(db, devices_per_user=2)
    alice = register(db, "alice")
    first, second, third = (known_device(db, "alice") for _ in range(3))
    kept = {r[0] for r in db.execute("select device_hash from private.login_devices where user_id = %s",
                                     [alice]).fetchall()}
    assert kept == {second, third} and first not in kept


def test_a_login_with_a_refresh_hash_opens_its_session_in_the_same_call(db):
    alice = register(db, "alice")
    refresh = digest()
    assert login(db, "alice", refresh=refresh)["status"] == "ok"
    assert login(db, "alice", WRONG, refresh=digest())["status"] == "bad_credentials"
    sessions = db.execute("select user_id, token_hash from private.refresh_tokens").fetchall()
    assert sessions == [(alice, refresh)]


def change_password(conn: psycopg.Connection, user_id: int, current: str, new: str,
                    refresh: bytes | None = None) -> tuple[dict[str, Any], int]:
    with conn.transaction():
        # crypt_calls_during counts as the superuser, so the caller's context is written in the superuser's
        # own role (begin_request would switch to strongroom_user); the rules are the same.
        conn.execute("select private.write_context(%s, 'user', 1, null, null, null, null)", [user_id])
        row, calls = crypt_calls_during(conn, "select * from api.change_password(%s, %s, %s, null, %s, %s)",
                                        [current, new, PEPPER, refresh, "1 hour" if refresh else None])
    return row, calls


def test_a_password_change_opens_the_new_session_in_the_same_call(db):
    alice = register(db, "alice")
    refresh = digest()
    row, _ = change_password(db, alice, PASSWORD, "a brand new passphrase here", refresh)
    assert row["status"] == "ok" and row["token_version"] == 2
    assert db.execute("select user_id, token_version from private.refresh_tokens where token_hash = %s",
                      [refresh]).fetchone() == (alice, 2)


def test_a_locked_caller_changing_their_password_costs_no_crypt(db):
    set_auth_settings(db, lockout_threshold=1)
    alice = register(db, "alice")
    first, first_calls = change_password(db, alice, WRONG, "a brand new passphrase here")
    assert first["status"] == "locked" and first_calls == 1
    again, calls = change_password(db, alice, PASSWORD, "a brand new passphrase here")
    assert again["status"] == "locked" and calls == 0


@pytest.mark.parametrize("setting", ["lockout_hard_limit", "devices_per_user"])
def test_the_new_settings_are_range_checked(db, setting):
    with pytest.raises(psycopg.Error) as refused:
        set_auth_settings(db, **{setting: 0})
    assert refused.value.sqlstate == "SRP17"


def test_registering_a_taken_email_costs_one_crypt_like_a_login(db):
    register(db, "alice", email="alice@example.org")
    with db.transaction(), db.cursor(row_factory=dict_row) as cur:
        cur.execute("set local track_functions = 'all'")
        count = "select coalesce(pg_stat_get_xact_function_calls('public.crypt(text, text)'::regprocedure), 0) as n"
        before = cur.execute(count).fetchone()
        cur.execute("savepoint probe")
        with pytest.raises(psycopg.Error) as taken:
            cur.execute("select * from api.register('mallory', %s, %s, 'alice@example.org')", [PASSWORD, PEPPER])
        cur.execute("rollback to savepoint probe")
        after = cur.execute(count).fetchone()
    assert taken.value.sqlstate == "SRC11"
    assert before is not None and after is not None and after["n"] - before["n"] == 1


def test_an_account_at_the_hard_limit_shows_it_to_admins(db, connect):
    set_auth_settings(db, lockout_threshold=1000, lockout_hard_limit=2)
    root = make_user(db, "root", "admin")
    alice = register(db, "alice")
    api = connect(user="strongroom_authenticator")

    def shown() -> tuple[bool, object]:
        with api.transaction():
            begin_request(api, root, "admin")
            row = api.execute("select locked_until_unlocked, locked_until from api.list_users() where user_id = %s",
                              [alice]).fetchone()
        assert row is not None
        return row[0], row[1]

    login(db, "alice", WRONG)
    assert shown() == (False, None)
    login(db, "alice", WRONG)
    assert shown() == (True, None)
