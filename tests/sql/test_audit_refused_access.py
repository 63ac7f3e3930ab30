"""A refused access to another user's object leaves a log row that outlives the refusal.

Every api function that takes an object id answers "no row" for an object the caller may not see, after
private.log_access_refused wrote its row; nothing raises, so the row commits with the request. Each case
here runs in its own committed transaction, as the API's requests do, and then reads the log.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.sql.crypto_support import caller, ensure_key, make_user, one

# (the call, the log's table name, which of alice's objects it names)
CALLS = [
    ("select * from api.get_order(%s)", "orders", "order"),
    ("select * from api.set_order_status(%s, 'cancelled')", "orders", "order"),
    ("select * from api.order_history(%s)", "orders", "order"),
    ("select * from api.get_entry(%s)", "entries", "entry"),
    ("select * from api.update_entry(%s, 'stolen', 'stolen')", "entries", "entry"),
    ("select * from api.delete_entry(%s)", "entries", "entry"),
    ("select * from api.delete_vault_item(%s)", "vault", "item"),
]


@pytest.fixture
def alices(db: psycopg.Connection) -> dict[str, int]:
    ensure_key(db)
    alice = make_user(db, "alice")
    with caller(db, alice):
        return {
            "alice": alice,
            "order": one(db, "select id from api.create_order('alice''s order')")[0],
            "entry": one(db, "select id from api.create_entry('alice''s note', 'private')")[0],
            "item": one(db, "select id from api.save_vault_item('alice.example', 'alice', 'pw', null)")[0],
        }


def refusals(db: psycopg.Connection) -> list[dict]:
    cur = db.cursor(row_factory=dict_row)
    return cur.execute(
        "select level, component, user_id, actor_id, table_name, row_id, request_id, db_role, details"
        " from public.logs where action = 'access_refused' order by id"
    ).fetchall()


def as_request(db: psycopg.Connection, user: int, request_id: str, sql: str, params: list[object],
               role: str = "user") -> list[tuple]:
    with caller(db, user, role, request_id=request_id):
        return db.execute(sql, params).fetchall()


@pytest.mark.parametrize(("sql", "table", "obj"), CALLS, ids=[c[0].split("(")[0].split()[-1] for c in CALLS])
def test_another_users_object_answers_no_row_and_the_refusal_is_logged(db, alices, sql, table, obj):
    bob = make_user(db, "bob")

    assert as_request(db, bob, "req-peek", sql, [alices[obj]]) == []

    assert refusals(db) == [{
        "level": "WARNING", "component": "authz", "user_id": bob, "actor_id": bob, "table_name": table,
        "row_id": alices[obj], "request_id": "req-peek", "db_role": "strongroom_user",
        "details": {"table": table, "row_id": alices[obj]},
    }]


def test_the_object_is_unchanged_after_every_refused_call(db, alices):
    bob = make_user(db, "bob")
    for sql, _, obj in CALLS:
        as_request(db, bob, "req-try", sql, [alices[obj]])

    assert len(refusals(db)) == len(CALLS)
    assert one(db, "select status from orders where id = %s", [alices["order"]])[0] == "pending"
    assert one(db, "select title from entries where id = %s", [alices["entry"]])[0] == "alice's note"
    assert one(db, "select count(*) from vault where id = %s", [alices["item"]])[0] == 1


def misses(db: psycopg.Connection) -> list[tuple]:
    return db.execute("select level, component, table_name, row_id, actor_id from public.logs"
                      " where action = 'not_found' order by id").fetchall()


def test_an_id_that_belongs_to_nobody_is_a_miss_at_info_not_a_refusal(db, alices):
    as_request(db, alices["alice"], "req-probe", "select * from api.get_order(%s)", [987654])

    assert refusals(db) == []
    assert misses(db) == [("INFO", "authz", "orders", 987654, alices["alice"])]


def test_reading_ones_own_deleted_note_is_a_miss_and_the_dba_query_shows_only_real_refusals(db, alices):
    bob = make_user(db, "bob")
    as_request(db, alices["alice"], "req-del", "select * from api.delete_entry(%s)", [alices["entry"]])
    as_request(db, alices["alice"], "req-again", "select * from api.get_entry(%s)", [alices["entry"]])
    as_request(db, bob, "req-peek", "select * from api.get_order(%s)", [alices["order"]])

    assert misses(db) == [("INFO", "authz", "entries", alices["entry"], alices["alice"])]
    assert db.execute("select actor_name, table_name, row_id from audit.refused_access()").fetchall() == [
        ("bob", "orders", alices["order"])]


def test_the_owner_and_an_admin_reading_an_order_write_no_refusal(db, alices):
    admin = make_user(db, "root", "admin")
    assert len(as_request(db, alices["alice"], "req-own", "select * from api.get_order(%s)", [alices["order"]])) == 1
    assert len(as_request(db, admin, "req-adm", "select * from api.get_order(%s)", [alices["order"]], "admin")) == 1

    assert refusals(db) == []
