"""Row-level security, proven in SQL: user B touches none of user A's rows, directly or through api."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.accounts_support import begin_request, make_user, register

MARKER = "alice-private-marker"


@pytest.fixture
def people(db):
    """Alice and Bob, each with two orders and two notes, and an admin."""
    alice = register(db, "alice")
    bob = register(db, "bob-b")
    admin = make_user(db, "the-admin", "admin")
    for owner, name in ((alice, MARKER), (bob, "bob-row")):
        for i in range(2):
            db.execute("insert into public.orders (user_id, description) values (%s, %s)", [owner, f"{name} {i}"])
            db.execute("insert into public.entries (user_id, title) values (%s, %s)", [owner, f"{name} {i}"])
    return {"alice": alice, "bob": bob, "admin": admin}


def snapshot(db: psycopg.Connection) -> list[tuple[object, ...]]:
    """Everything of Alice's, as the superuser sees it."""
    return db.execute(
        "select 'order', id, description, status from public.orders where description like %s "
        "union all select 'entry', id, title, null from public.entries where title like %s "
        "union all select 'user', id, username || hashed_password || token_version || is_active::text, role "
        "from public.users where username = 'alice' order by 1, 2",
        [MARKER + "%", MARKER + "%"],
    ).fetchall()


@pytest.fixture
def as_bob(people, connect):
    conn = connect("strongroom_authenticator")
    begin_request(conn, people["bob"])
    return conn


@pytest.mark.parametrize("table", ["orders", "entries"])
def test_user_b_sees_only_their_own_rows(as_bob, people, table):
    owners = as_bob.execute(f"select distinct user_id from public.{table}").fetchall()
    assert owners == [(people["bob"],)]
    assert as_bob.execute(f"select count(*) from public.{table}").fetchone() == (2,)


@pytest.mark.parametrize("table", ["orders", "entries"])
def test_an_admin_sees_every_row(people, connect, table):
    conn = connect("strongroom_authenticator")
    begin_request(conn, people["admin"], "admin")
    assert conn.execute(f"select count(*) from public.{table}").fetchone() == (4,)


@pytest.mark.parametrize(
    "statement",
    [
        "update public.orders set status = 'cancelled' where user_id = %s",
        "delete from public.orders where user_id = %s",
        "update public.entries set title = 'mine now' where user_id = %s",
        "delete from public.entries where user_id = %s",
    ],
)
def test_user_b_cannot_write_user_a_rows_directly(db, people, as_bob, statement):
    before = snapshot(db)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_bob.execute(statement, [people["alice"]])
    as_bob.rollback()
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "statement",
    [
        "update public.orders set status = 'cancelled' where user_id = %s",
        "delete from public.orders where user_id = %s",
        "update public.entries set title = 'mine now' where user_id = %s",
        "delete from public.entries where user_id = %s",
        "update public.users set role = 'admin' where id = %s",
        "delete from public.users where id = %s",
    ],
)
def test_code_running_as_the_owner_with_b_as_caller_touches_none_of_a_rows(db, people, statement):
    """What every security definer api function is held to: FORCEd row-level security."""
    before = snapshot(db)
    with db.transaction():
        begin_request(db, people["bob"])
        db.execute("set local role strongroom_owner")
        assert db.execute(statement, [people["alice"]]).rowcount == 0
    assert snapshot(db) == before


@pytest.mark.parametrize("table", ["orders", "entries", "users"])
def test_the_owner_without_a_caller_sees_no_rows(db, people, table):
    with db.transaction():
        db.execute("set local role strongroom_owner")
        assert db.execute(f"select count(*) from public.{table}").fetchone() == (0,)


def test_user_b_cannot_read_the_users_table(as_bob):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_bob.execute("select * from public.users")


def test_user_b_cannot_insert_a_row_for_user_a(db, people):
    with db.transaction():
        begin_request(db, people["bob"])
        db.execute("set local role strongroom_owner")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("insert into public.orders (user_id, description) values (%s, 'forged')", [people["alice"]])


def test_user_b_gets_nothing_of_user_a_through_any_api_function(db, people, as_bob):
    """Catalog-driven: every api function a user may call, given each of Alice's ids, shows and changes
    nothing of hers. A function added later is covered the day it appears."""
    functions = as_bob.execute("""
        select p.oid::regprocedure::text, p.proname, p.pronargs - p.pronargdefaults as required,
               coalesce(p.proargtypes[0]::regtype::text, '') as first_arg
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'api' and has_function_privilege('strongroom_user', p.oid, 'execute')
          and p.proname <> 'begin_request'
    """).fetchall()
    alice_ids = db.execute(
        "select id from public.orders where user_id = %s union select id from public.entries where user_id = %s "
        "union select %s",
        [people["alice"], people["alice"], people["alice"]],
    ).fetchall()
    before = snapshot(db)
    called = 0
    for signature, name, required, first_arg in functions:
        calls: list[list[object]] = []
        if required == 0:
            calls.append([])
        if required <= 1 and first_arg in ("integer", "bigint"):
            calls.extend([[i] for (i,) in alice_ids])
        for args in calls:
            placeholders = ", ".join(["%s"] * len(args))
            try:
                with as_bob.transaction():
                    rows = as_bob.execute(f"select * from api.{name}({placeholders})", args).fetchall()
            except psycopg.Error:
                continue  # refused: nothing shown, and the savepoint undid anything it did
            called += 1
            assert MARKER not in repr(rows), f"{signature} showed Alice's data to Bob"
    assert called > 0
    assert snapshot(db) == before
