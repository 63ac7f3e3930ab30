"""request.<name>, the API's one-statement calls (sql/92_request.sql), are safe in the authenticator's hands.

The authenticator may execute every request function. Each one must do nothing before api.begin_request has
accepted the caller, must then call its api function in the caller's role (under the caller's grants, not
the authenticator's), and must leave nothing behind its statement. The functions come from the catalog,
so a new api function is covered the day it appears.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from api.testing.plugin import AUTHENTICATOR, Account
from tests.sql.crypto_support import MASTER_KEY, ensure_key

CALLER_ROLES = ("strongroom_user", "strongroom_admin", "strongroom_auditor")
CONTEXT_TYPES = ["integer", "text", "integer", "text", "inet", "uuid", "text", "text", "boolean"]


@dataclass(frozen=True)
class Wrapper:
    name: str
    own_arguments: int  # after the nine of the context


def wrappers(db: psycopg.Connection) -> list[Wrapper]:
    rows = db.execute("""
        select p.proname::text, p.pronargs - 9 from pg_proc p
         where p.pronamespace = 'request'::regnamespace order by 1
    """).fetchall()
    assert rows, "the catalog shows no request function"
    return [Wrapper(name, n) for name, n in rows]


def call(conn: psycopg.Connection, wrapper: Wrapper, context: list[object]) -> str | None:
    """Call the wrapper with this context and null arguments in autocommit, as the API does: its SQLSTATE,
    None if it ran."""
    args = [*context, *[None] * wrapper.own_arguments]
    statement = sql.SQL("select * from request.{}({})").format(
        sql.Identifier(wrapper.name), sql.SQL(", ").join([sql.Placeholder()] * len(args)))
    try:
        conn.execute(statement, args).fetchall()
    except psycopg.Error as error:
        return error.sqlstate
    return None


def context(account: Account | None, token_version: int | None = None, key: str = "",
            read_only: bool = False) -> list[object]:
    if account is None:
        return [None, None, None, "req-request-test", None, None, None, key, read_only]
    return [account.user_id, account.role, token_version or account.token_version, "req-request-test", "192.0.2.7",
            None, None, key, read_only]


@pytest.fixture
def api(connect: Callable[..., psycopg.Connection]) -> psycopg.Connection:
    """The API's login, in autocommit as its pool is."""
    return connect(AUTHENTICATOR, autocommit=True)


def test_there_is_one_request_function_per_api_function_a_caller_may_execute(db):
    expected = db.execute("""
        select p.proname::text, pg_get_function_result(p.oid),
               array(select format_type(t, null) from unnest(p.proargtypes::oid[]) t)
          from pg_proc p where p.pronamespace = 'api'::regnamespace and p.prokind = 'f'
           and exists (select 1 from unnest(%s::text[]) r where has_function_privilege(r, p.oid, 'EXECUTE'))
         order by 1
    """, [list(CALLER_ROLES)]).fetchall()
    made = db.execute("""
        select p.proname::text, pg_get_function_result(p.oid),
               array(select format_type(t, null) from unnest(p.proargtypes::oid[]) t)
          from pg_proc p where p.pronamespace = 'request'::regnamespace order by 1
    """).fetchall()
    assert expected
    assert made == [(name, result, [*CONTEXT_TYPES, *types]) for name, result, types in expected]


def test_only_the_authenticator_may_execute_the_request_functions(db):
    grants = db.execute("""
        select p.proname::text, r.rolname from pg_proc p, pg_roles r
         where p.pronamespace = 'request'::regnamespace and has_function_privilege(r.oid, p.oid, 'EXECUTE')
           and not r.rolsuper and r.rolname <> pg_get_userbyid(p.proowner)
         order by 1, 2
    """).fetchall()
    assert grants == [(w.name, AUTHENTICATOR) for w in wrappers(db)]
    usage = db.execute("select r from unnest(%s::text[]) r where has_schema_privilege(r, 'request', 'usage')",
                       [[AUTHENTICATOR, *CALLER_ROLES]]).fetchall()
    assert usage == [(AUTHENTICATOR,)]


def test_every_request_function_begins_the_request_before_anything_else(db):
    bodies = db.execute("""
        select p.proname::text, p.prosrc, p.prosecdef from pg_proc p
         where p.pronamespace = 'request'::regnamespace
    """).fetchall()
    assert bodies
    # Security invoker: the switch to the caller's role must hold for the api function's call.
    assert [name for name, body, definer in bodies
            if definer or not body.lstrip().startswith("begin\n    perform api.begin_request(")] == []


def test_every_request_function_refuses_a_call_without_a_caller(db, api):
    logs_before = db.execute("select count(*) from public.logs").fetchone()

    refusals = {w.name: call(api, w, context(None)) for w in wrappers(db)}

    assert {name: state for name, state in refusals.items() if state != "SRA01"} == {}
    assert db.execute("select count(*) from public.logs").fetchone() == logs_before


def test_every_request_function_refuses_a_revoked_token(db, api, user):
    refusals = {w.name: call(api, w, context(user, token_version=user.token_version + 1)) for w in wrappers(db)}

    assert {name: state for name, state in refusals.items() if state != "SRA02"} == {}


def test_a_request_function_calls_its_function_with_the_callers_grants_not_the_authenticators(
        db, api, make_account):
    callers = {"strongroom_user": make_account("a-user"), "strongroom_admin": make_account("an-admin", "admin"),
               "strongroom_auditor": make_account("an-auditor", "auditor")}
    denied = db.execute("""
        select p.proname::text, r from pg_proc p, unnest(%s::text[]) r
         where p.pronamespace = 'api'::regnamespace
           and to_regproc('request.' || quote_ident(p.proname)) is not null
           and not has_function_privilege(r, p.oid, 'EXECUTE')
    """, [list(CALLER_ROLES)]).fetchall()
    by_name = {w.name: w for w in wrappers(db)}
    assert denied, "every caller role may execute every api function: nothing to check"

    outcomes = {(name, role): call(api, by_name[name], context(callers[role])) for name, role in denied}

    assert {k: state for k, state in outcomes.items() if state != "42501"} == {}


def test_a_request_function_sees_the_context_it_began_and_runs_as_the_caller(api, user):
    with api.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("select user_id, username from request.me(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                           context(user)).fetchall()

    assert rows == [{"user_id": user.user_id, "username": user.username}]


def test_nothing_of_a_request_function_outlives_its_statement(db, api, user):
    ensure_key(db)
    api.execute("select * from request.me(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                context(user, key=MASTER_KEY, read_only=True)).fetchall()

    after = api.execute("""
        select current_user, private.caller_id(), current_setting('strongroom.master_key', true),
               current_setting('transaction_read_only')
    """).fetchone()

    assert after is not None and after[:2] == (AUTHENTICATOR, None) and after[2] in (None, "") and after[3] == "off"


def test_a_read_runs_read_only_and_a_write_does_not(db, api, user):
    ensure_key(db)
    create = "select id from request.create_order(%s, %s, %s, %s, %s, %s, %s, %s, %s, 'an order', false)"
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        api.execute(create, context(user, key=MASTER_KEY, read_only=True))

    api.execute(create, context(user, key=MASTER_KEY, read_only=False))

    assert db.execute("select count(*) from public.orders where user_id = %s", [user.user_id]).fetchone() == (1,)


def test_the_master_key_reaches_only_the_calls_that_are_given_it(db, api, user):
    ensure_key(db)
    create = "select id from request.create_order(%s, %s, %s, %s, %s, %s, %s, %s, %s, 'a secret order', true)"
    with pytest.raises(psycopg.Error) as refused:
        api.execute(create, context(user, key=""))
    assert refused.value.sqlstate == "SRK01"

    api.execute(create, context(user, key=MASTER_KEY))

    assert db.execute("select count(*) from public.orders where user_id = %s and sensitive",
                      [user.user_id]).fetchone() == (1,)
