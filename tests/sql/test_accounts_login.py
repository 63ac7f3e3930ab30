"""Login, proven in SQL: statuses, the dummy crypt() for unknown users, lockout and its doubling.

Devices, the hard limit and the one-call session are in test_accounts_devices.py."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg.rows import dict_row

from tests.sql.accounts_support import PASSWORD, PEPPER, account, login, register, set_auth_settings

WRONG = "not the right password"


def crypt_calls_during(db: psycopg.Connection, sql: str, params: list[object]) -> tuple[dict, int]:
    """Run one statement in a transaction that counts calls of pgcrypto's crypt(), and return both.

    The backend's pending counts may still hold calls of earlier transactions (they are flushed when it is
    idle), but never change within a transaction block: the difference of two readings is exact.
    """
    count = "select coalesce(pg_stat_get_xact_function_calls('public.crypt(text, text)'::regprocedure), 0) as n"
    with db.transaction(), db.cursor(row_factory=dict_row) as cur:
        cur.execute("set local track_functions = 'all'")
        before = cur.execute(count).fetchone()
        row = cur.execute(sql, params).fetchone()
        after = cur.execute(count).fetchone()
    assert row is not None and before is not None and after is not None
    return row, int(after["n"]) - int(before["n"])


def login_in_one_transaction(db: psycopg.Connection, username: str, password: str) -> tuple[dict, dt.datetime]:
    """Log in and read now() in the same transaction, so lock lengths can be compared exactly."""
    with db.transaction(), db.cursor(row_factory=dict_row) as cur:
        row = cur.execute("select * from api.login(%s, %s, %s)", [username, password, PEPPER]).fetchone()
        now = cur.execute("select now() as now").fetchone()
    assert row is not None and now is not None
    return row, now["now"]


def events(db: psycopg.Connection) -> list[str]:
    return [r[0] for r in db.execute(
        "select action from public.logs where component = 'auth' order by id").fetchall()]


def test_right_password_logs_in_with_id_role_and_token_version(db):
    user_id = register(db, "alice")
    assert login(db, "alice") == {"status": "ok", "user_id": user_id, "role": "user", "token_version": 1,
                                  "locked_until": None, "device_issued": False, "session_id": None}
    assert account(db, user_id)["last_login_at"] is not None


def test_username_is_matched_regardless_of_case(db):
    register(db, "Alice")
    assert login(db, "aLiCe")["status"] == "ok"


def test_unknown_user_and_wrong_password_get_identical_answers(db):
    register(db, "alice")
    assert login(db, "nobody-here", WRONG) == login(db, "alice", WRONG) == {
        "status": "bad_credentials", "user_id": None, "role": None, "token_version": None, "locked_until": None,
        "device_issued": False, "session_id": None}


def test_unknown_user_and_wrong_password_each_cost_exactly_one_crypt(db):
    register(db, "alice")
    unknown, unknown_calls = crypt_calls_during(db, "select * from api.login(%s, %s, %s)",
                                                ["nobody-here", WRONG, PEPPER])
    wrong, wrong_calls = crypt_calls_during(db, "select * from api.login(%s, %s, %s)", ["alice", WRONG, PEPPER])
    assert unknown == wrong
    assert unknown_calls == wrong_calls == 1


def test_a_locked_account_is_refused_without_any_crypt(db):
    # The answer "locked" already says the account exists: a dummy crypt() would hide nothing and would let
    # a flood against a locked account keep the database's CPU busy.
    set_auth_settings(db, lockout_threshold=1)
    register(db, "alice")
    assert login(db, "alice", WRONG)["status"] == "locked"
    row, calls = crypt_calls_during(db, "select * from api.login(%s, %s, %s)", ["alice", PASSWORD, PEPPER])
    assert row["status"] == "locked"
    assert calls == 0


def test_failed_login_leaves_its_audit_row(db):
    register(db, "alice")
    login(db, "alice", WRONG)
    login(db, "nobody-here", WRONG)
    assert events(db)[-2:] == ["login_failed", "login_failed"]


def test_no_log_row_holds_the_password_or_the_pepper(db):
    register(db, "alice")
    login(db, "alice")
    login(db, "alice", WRONG)
    login(db, PASSWORD, WRONG)  # a password typed into the username field
    text = " ".join(r[0] for r in db.execute("select t::text from public.logs t").fetchall())
    assert PASSWORD not in text and WRONG not in text and PEPPER not in text


def test_account_locks_after_threshold_consecutive_failures(db):
    user_id = register(db, "alice")
    for _ in range(9):
        assert login(db, "alice", WRONG)["status"] == "bad_credentials"
    tenth, now = login_in_one_transaction(db, "alice", WRONG)
    assert tenth["status"] == "locked"
    assert tenth["locked_until"] - now == dt.timedelta(minutes=5)
    assert account(db, user_id)["locked_until"] == tenth["locked_until"]
    assert "account_locked" in events(db)


def test_right_password_is_refused_while_locked(db):
    set_auth_settings(db, lockout_threshold=2)
    register(db, "alice")
    login(db, "alice", WRONG)
    locked = login(db, "alice", WRONG)
    assert login(db, "alice") == {"status": "locked", "user_id": None, "role": None, "token_version": None,
                                  "locked_until": locked["locked_until"], "device_issued": False, "session_id": None}


def test_each_further_lock_doubles_up_to_the_cap(db):
    set_auth_settings(db, lockout_threshold=2, lockout_base=dt.timedelta(minutes=1),
                      lockout_cap=dt.timedelta(minutes=5))
    user_id = register(db, "alice")
    lengths = []
    for _ in range(5):
        login(db, "alice", WRONG)
        row, now = login_in_one_transaction(db, "alice", WRONG)
        assert row["status"] == "locked"
        lengths.append(row["locked_until"] - now)
        # Let the lock run out without waiting for it.
        db.execute("update public.users set locked_until = now() - interval '1 second' where id = %s", [user_id])
    assert lengths == [dt.timedelta(minutes=m) for m in (1, 2, 4, 5, 5)]


def test_success_resets_the_failure_counter(db):
    set_auth_settings(db, lockout_threshold=3)
    user_id = register(db, "alice")
    login(db, "alice", WRONG)
    login(db, "alice", WRONG)
    assert login(db, "alice")["status"] == "ok"
    assert account(db, user_id)["failed_logins"] == 0
    login(db, "alice", WRONG)
    assert login(db, "alice", WRONG)["status"] == "bad_credentials"


def test_success_after_a_lock_starts_the_doubling_again(db):
    set_auth_settings(db, lockout_threshold=1, lockout_base=dt.timedelta(minutes=1))
    user_id = register(db, "alice")
    login(db, "alice", WRONG)
    db.execute("update public.users set locked_until = now() - interval '1 second' where id = %s", [user_id])
    assert login(db, "alice")["status"] == "ok"
    row, now = login_in_one_transaction(db, "alice", WRONG)
    assert row["locked_until"] - now == dt.timedelta(minutes=1)


def test_unlock_user_ends_the_lock(db):
    set_auth_settings(db, lockout_threshold=1)
    user_id = register(db, "alice")
    assert login(db, "alice", WRONG)["status"] == "locked"
    db.execute("select private.unlock_user(%s)", [user_id])
    assert login(db, "alice")["status"] == "ok"
    assert "user_unlocked" in events(db)


def test_disabled_account_says_disabled_only_to_the_right_password(db):
    user_id = register(db, "alice")
    db.execute("select private.disable_user(%s)", [user_id])
    assert login(db, "alice")["status"] == "disabled"
    assert login(db, "alice", WRONG)["status"] == "bad_credentials"


def test_successful_login_is_logged(db):
    register(db, "alice")
    login(db, "alice")
    assert events(db)[-1] == "login_ok"
