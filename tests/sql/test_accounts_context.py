"""The request context, proven in SQL: begin_request switches role, checks the token, leaves nothing behind."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.accounts_support import PASSWORD, PEPPER, begin_request, make_user, register

CONTEXT = ("user_id", "role", "token_version", "request_id", "client_addr")


def refused(conn: psycopg.Connection, user_id: int, role: str = "user", token_version: int = 1) -> str | None:
    with pytest.raises(psycopg.Error) as caught:
        begin_request(conn, user_id, role, token_version)
    conn.rollback()
    return caught.value.sqlstate


def caller_context(conn: psycopg.Connection) -> tuple[object, ...]:
    """The transaction's request context as the getters see it; all None outside a request."""
    row = conn.execute("select private.caller_id(), private.caller_role(), "
                       "(select token_version from private.current_context), "
                       "(select request_id from private.current_context), "
                       "(select host(client_addr) from private.current_context)").fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture
def api(connect):
    """A connection as the API makes it: the authenticator, one transaction per request."""
    return connect("strongroom_authenticator")


def test_begin_request_switches_to_the_callers_role_and_stores_the_caller(db, api):
    user_id = register(db, "alice")
    begin_request(api, user_id, request_id="req-1", client_addr="192.0.2.7")
    assert api.execute("select current_user::text").fetchone() == ("strongroom_user",)
    assert caller_context(api) == (user_id, "user", 1, "req-1", "192.0.2.7")
    me = api.execute("select user_id, username from api.me()").fetchall()
    assert me == [(user_id, "alice")]


def test_an_admin_request_runs_as_the_admin_role(db, api):
    admin_id = make_user(db, "root-admin", "admin")
    begin_request(api, admin_id, "admin")
    assert api.execute("select current_user::text").fetchone() == ("strongroom_admin",)


def test_after_commit_no_caller_and_no_role_remain(db, api):
    user_id = register(db, "alice")
    begin_request(api, user_id)
    api.commit()
    assert api.execute("select current_user::text").fetchone() == ("strongroom_authenticator",)
    assert caller_context(api) == (None,) * len(CONTEXT)


def test_after_rollback_no_caller_and_no_role_remain(db, api):
    user_id = register(db, "alice")
    begin_request(api, user_id)
    api.rollback()
    assert api.execute("select current_user::text").fetchone() == ("strongroom_authenticator",)
    assert caller_context(api) == (None,) * len(CONTEXT)


def test_two_transactions_on_one_connection_each_see_only_their_caller(db, api):
    alice = register(db, "alice")
    bob = register(db, "bob-b")
    begin_request(api, alice)
    assert api.execute("select username from api.me()").fetchall() == [("alice",)]
    api.commit()
    begin_request(api, bob)
    assert api.execute("select username from api.me()").fetchall() == [("bob-b",)]
    assert api.execute("select private.caller_id()").fetchone() == (bob,)
    api.commit()


def test_a_caller_cannot_begin_a_second_request_in_the_same_transaction(db, api):
    alice = register(db, "alice")
    bob = register(db, "bob-b")
    begin_request(api, alice)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        begin_request(api, bob)


def test_begin_request_refuses_a_second_call_even_as_superuser(db):
    alice = register(db, "alice")
    with db.transaction():
        begin_request(db, alice)
        db.execute("reset role")
        with pytest.raises(psycopg.Error) as caught:
            begin_request(db, alice)
        assert caught.value.sqlstate == "SRA06"


def test_api_functions_refuse_a_transaction_without_a_caller(db):
    register(db, "alice")
    with pytest.raises(psycopg.Error) as caught:
        db.execute("select * from api.me()")
    assert caught.value.sqlstate == "SRA01"


def test_unknown_user_is_refused(db, api):
    assert refused(api, 4242) == "SRA04"


def test_a_role_other_than_the_accounts_is_refused(db, api):
    user_id = register(db, "alice")
    assert refused(api, user_id, "admin") == "SRA05"
    assert refused(api, user_id, "superuser") == "SRA05"


def test_a_newer_token_version_than_issued_is_refused(db, api):
    user_id = register(db, "alice")
    assert refused(api, user_id, token_version=2) == "SRA02"


def test_password_change_revokes_older_tokens(db, api):
    user_id = register(db, "alice")
    begin_request(api, user_id)
    row = api.execute(
        "select status, token_version from api.change_password(%s, %s, %s)",
        [PASSWORD, "a new and better passphrase", PEPPER],
    ).fetchone()
    api.commit()
    assert row == ("ok", 2)
    assert refused(api, user_id, token_version=1) == "SRA02"
    begin_request(api, user_id, token_version=2)
    api.rollback()


def test_wrong_current_password_changes_nothing_and_is_counted(db, api):
    user_id = register(db, "alice")
    begin_request(api, user_id)
    row = api.execute(
        "select status, token_version from api.change_password(%s, %s, %s)",
        ["not my password at all", "a new and better passphrase", PEPPER],
    ).fetchone()
    api.commit()
    assert row == ("bad_credentials", None)
    assert db.execute("select token_version, failed_logins from public.users where id = %s", [user_id]).fetchone() == (
        1,
        1,
    )
    begin_request(api, user_id, token_version=1)  # the token still works
    api.rollback()


def test_logout_everywhere_revokes_older_tokens(db, api):
    user_id = register(db, "alice")
    begin_request(api, user_id)
    assert api.execute("select api.logout_everywhere()").fetchone() == (2,)
    api.commit()
    assert refused(api, user_id, token_version=1) == "SRA02"


def test_disable_revokes_tokens_and_refuses_the_user(db, api):
    user_id = register(db, "alice")
    db.execute("select private.disable_user(%s)", [user_id])
    assert refused(api, user_id, token_version=1) == "SRA03"
    assert refused(api, user_id, token_version=2) == "SRA03"
    db.execute("select private.enable_user(%s)", [user_id])
    assert refused(api, user_id, token_version=1) == "SRA02"
    begin_request(api, user_id, token_version=2)
    api.rollback()


def test_role_change_revokes_older_tokens(db, api):
    user_id = register(db, "alice")
    db.execute("select private.set_user_role(%s, 'admin')", [user_id])
    assert refused(api, user_id, "user", 1) == "SRA02"
    begin_request(api, user_id, "admin", 2)
    api.rollback()


def test_request_id_longer_than_200_characters_is_refused(db, api):
    user_id = register(db, "alice")
    with pytest.raises(psycopg.Error) as caught:
        begin_request(api, user_id, request_id="r" * 201)
    assert caught.value.sqlstate == "SRP18"
