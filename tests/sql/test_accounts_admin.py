"""User administration, proven in SQL: only admins, and never the last admin away."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.sql.accounts_support import account, begin_request, login, make_user, register, set_auth_settings


@pytest.fixture
def admin_id(db):
    return make_user(db, "root-admin", "admin")


@pytest.fixture
def admin(admin_id, connect):
    """A connection in a request of the administrator `root-admin`."""
    conn = connect("strongroom_authenticator", row_factory=dict_row)
    begin_request(conn, admin_id, "admin")
    return conn


def call_error(conn: psycopg.Connection, sql: str, params: list[object]) -> str | None:
    with pytest.raises(psycopg.Error) as caught, conn.transaction():
        conn.execute(sql, params)
    return caught.value.sqlstate


def test_admin_lists_every_account_without_password_hashes(db, admin):
    register(db, "alice")
    rows = admin.execute("select * from api.list_users()").fetchall()
    assert [r["username"] for r in rows] == ["root-admin", "alice"]
    assert not any("hash" in column for column in rows[0])


@pytest.mark.parametrize("call", ["api.list_users()", "api.disable_user(1)", "api.enable_user(1)",
                                  "api.unlock_user(1)", "api.set_role(1, 'admin')"])
def test_a_user_may_not_call_admin_functions(db, connect, call):
    user_id = register(db, "alice")
    conn = connect("strongroom_authenticator")
    begin_request(conn, user_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"select * from {call}")


def test_admin_functions_check_the_callers_role_themselves(db):
    """Even a session holding the admin database role is refused without an admin caller: a user's request
    that switches role is no caller at all (SRA01), and a user's request is not an admin's (SRF01)."""
    user_id = register(db, "alice")
    with db.transaction():
        begin_request(db, user_id)
        db.execute("reset role")
        with pytest.raises(psycopg.Error) as caught:
            db.execute("select * from api.list_users()")
    assert caught.value.sqlstate == "SRA01"
    with db.transaction():
        db.execute("select private.write_context(%s, 'user', 1, null, null, null, null)", [user_id])
        with pytest.raises(psycopg.Error) as caught:
            db.execute("select * from api.list_users()")
    assert caught.value.sqlstate == "SRF01"


def test_disable_then_enable_a_user(db, admin, admin_id):
    user_id = register(db, "alice")
    row = admin.execute("select * from api.disable_user(%s)", [user_id]).fetchone()
    admin.commit()
    assert row["is_active"] is False
    assert account(db, user_id)["token_version"] == 2
    begin_request(admin, admin_id, "admin")
    row = admin.execute("select * from api.enable_user(%s)", [user_id]).fetchone()
    assert row["is_active"] is True
    admin.commit()
    assert login(db, "alice")["status"] == "ok"


def test_unlock_a_locked_user(db, admin):
    set_auth_settings(db, lockout_threshold=1)
    user_id = register(db, "alice")
    assert login(db, "alice", "a wrong password")["status"] == "locked"
    row = admin.execute("select * from api.unlock_user(%s)", [user_id]).fetchone()
    admin.commit()
    assert row["locked_until"] is None and row["failed_logins"] == 0
    assert login(db, "alice")["status"] == "ok"


def test_set_role_changes_the_role_and_revokes_tokens(db, admin):
    user_id = register(db, "alice")
    row = admin.execute("select * from api.set_role(%s, 'auditor')", [user_id]).fetchone()
    admin.commit()
    assert row["role"] == "auditor"
    assert account(db, user_id)["token_version"] == 2


def test_an_unknown_role_is_refused(db, admin):
    user_id = register(db, "alice")
    assert call_error(admin, "select * from api.set_role(%s, 'root')", [user_id]) == "SRP16"


def test_an_unknown_user_is_not_found(admin):
    for call in ("api.disable_user(%s)", "api.enable_user(%s)", "api.unlock_user(%s)"):
        assert call_error(admin, f"select * from {call}", [4242]) == "SRN10"
    assert call_error(admin, "select * from api.set_role(%s, 'user')", [4242]) == "SRN10"


def test_the_last_admin_cannot_be_demoted(admin, admin_id):
    assert call_error(admin, "select * from api.set_role(%s, 'user')", [admin_id]) == "SRC12"


def test_the_last_admin_cannot_be_disabled(admin, admin_id):
    assert call_error(admin, "select * from api.disable_user(%s)", [admin_id]) == "SRC12"


def test_with_a_second_admin_one_may_step_down(db, admin, admin_id):
    other = register(db, "second-admin")
    admin.execute("select * from api.set_role(%s, 'admin')", [other])
    row = admin.execute("select * from api.set_role(%s, 'user')", [admin_id]).fetchone()
    assert row["role"] == "user"
    assert db.execute("select count(*) from public.users where role = 'admin'").fetchone() == (1,)


def test_a_disabled_admin_does_not_count_as_the_remaining_admin(db, admin, admin_id):
    other = make_user(db, "dormant-admin", "admin")
    db.execute("update public.users set is_active = false where id = %s", [other])
    assert call_error(admin, "select * from api.set_role(%s, 'user')", [admin_id]) == "SRC12"


def test_admin_actions_are_logged_with_the_actor(db, admin, admin_id):
    user_id = register(db, "alice")
    admin.execute("select * from api.disable_user(%s)", [user_id])
    admin.commit()
    row = db.execute("select actor_id, details from public.logs where action = 'user_disabled' "
                     "order by id desc limit 1").fetchone()
    assert row is not None and row[0] == admin_id


def test_the_dba_creates_an_admin_directly(db):
    admin_id = make_user(db, "first-admin", "admin")
    assert account(db, admin_id)["role"] == "admin"
    assert login(db, "first-admin")["role"] == "admin"
