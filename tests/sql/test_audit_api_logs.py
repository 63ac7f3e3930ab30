"""Client events, listing logs, and the API process's batches of recorded calls."""

from __future__ import annotations

import json

import psycopg
import pytest

from api.testing.plugin import begin_request


def make_user(db: psycopg.Connection, name: str, role: str = "user") -> int:
    return db.execute(
        "insert into public.users (username, hashed_password, role) values (%s, 'x', %s) returning id", [name, role]
    ).fetchone()[0]


def as_caller(conn: psycopg.Connection, user_id: int, role: str = "user") -> None:
    """Inside an open transaction: api.begin_request for the user at their current token version."""
    version = conn.execute("select token_version from public.users where id = %s", [user_id]).fetchone()
    assert version is not None
    begin_request(conn, user_id, role, int(version[0]), request_id=f"req-{user_id}")


def sqlstate_of(conn: psycopg.Connection, statement: str, params: list | None = None) -> str | None:
    try:
        with conn.transaction():
            conn.execute(statement, params or [])
    except psycopg.Error as error:
        return error.sqlstate
    return None


def test_a_user_adds_an_event_of_their_own_with_their_actor_and_request(db, connect):
    alice = make_user(db, "alice")
    conn = connect()
    as_caller(conn, alice)
    conn.execute("select api.log_client_event('warning', 'orders-form', 'save failed: timeout', '{\"try\": 2}')")
    conn.commit()

    row = db.execute(
        "select level, component, action, message, details, actor_id, user_id, request_id, db_role"
        " from public.logs where action = 'client_event'").fetchone()
    assert row == ("WARNING", "client:orders-form", "client_event", "save failed: timeout", {"try": 2}, alice, alice,
                   f"req-{alice}", "strongroom_user")


@pytest.mark.parametrize(
    ("level", "component", "message"),
    [("LOUD", "gui", "m"), ("INFO", "", "m"), ("INFO", "c" * 44, "m"), ("INFO", "c" * 51, "m"), ("INFO", "gui", ""),
     ("INFO", "gui", "m" * 2001)],
)
def test_a_client_event_outside_the_limits_is_refused(db, connect, level, component, message):
    alice = make_user(db, "alice")
    conn = connect()
    as_caller(conn, alice)

    state = sqlstate_of(conn, "select api.log_client_event(%s, %s, %s)", [level, component, message])

    assert state == "SRP90"


def test_a_client_component_of_43_characters_fills_the_log_column_and_44_are_refused_naming_the_limit(db, connect):
    alice = make_user(db, "alice")
    conn = connect()
    as_caller(conn, alice)
    conn.execute("select api.log_client_event('INFO', %s, 'm')", ["c" * 43])
    conn.commit()

    as_caller(conn, alice)
    with pytest.raises(psycopg.Error) as refused:
        conn.execute("select api.log_client_event('INFO', %s, 'm')", ["c" * 44])

    assert refused.value.sqlstate == "SRP90" and "1 to 43 characters" in str(refused.value)
    stored = db.execute("select component from public.logs where action = 'client_event'").fetchall()
    assert stored == [("client:" + "c" * 43,)]


def test_the_sixty_first_client_event_in_a_minute_is_rate_limited(db, connect):
    alice = make_user(db, "alice")
    conn = connect()
    as_caller(conn, alice)
    for n in range(60):
        conn.execute("select api.log_client_event('INFO', 'gui', %s)", [f"event {n}"])

    assert sqlstate_of(conn, "select api.log_client_event('INFO', 'gui', 'one too many')") == "SRL90"


def test_the_rate_limit_is_per_user(db, connect):
    alice, bob = make_user(db, "alice"), make_user(db, "bob")
    conn = connect()
    as_caller(conn, alice)
    for n in range(60):
        conn.execute("select api.log_client_event('INFO', 'gui', %s)", [f"event {n}"])
    conn.commit()

    as_caller(conn, bob)
    assert sqlstate_of(conn, "select api.log_client_event('INFO', 'gui', 'bob is fine')") is None


def test_a_user_lists_only_their_own_events_and_an_admin_lists_all(db, connect):
    alice, bob = make_user(db, "alice"), make_user(db, "bob", "admin")
    for user, role in ((alice, "user"), (bob, "admin")):
        conn = connect()
        as_caller(conn, user, role)
        conn.execute("select api.log_client_event('INFO', 'gui', 'hello')")
        conn.commit()

    conn = connect()
    as_caller(conn, alice)
    mine = conn.execute("select actor_id from api.list_logs()").fetchall()
    conn.rollback()
    as_caller(conn, bob, role="admin")
    everyone = conn.execute("select distinct actor_id from api.list_logs(p_action => 'client_event')").fetchall()

    assert mine == [(alice,)]
    assert sorted(everyone) == sorted([(alice,), (bob,)])


def test_listing_pages_by_keyset_newest_first_without_gaps_or_repeats(db, connect):
    alice = make_user(db, "alice")
    conn = connect()
    as_caller(conn, alice)
    for n in range(7):
        conn.execute("select api.log_client_event('INFO', 'gui', %s)", [f"event {n}"])

    seen: list[str] = []
    before = None
    while True:
        page = conn.execute("select id, message from api.list_logs(p_before_id => %s, p_limit => 3)",
                            [before]).fetchall()
        if not page:
            break
        seen += [m for _, m in page]
        before = page[-1][0]
    assert seen == [f"event {n}" for n in reversed(range(7))]


def test_listing_filters_by_level_and_time(db, connect):
    alice = make_user(db, "alice")
    conn = connect()
    as_caller(conn, alice)
    conn.execute("select api.log_client_event('ERROR', 'gui', 'bad')")
    conn.execute("select api.log_client_event('INFO', 'gui', 'fine')")

    errors = conn.execute("select message from api.list_logs(p_level => 'error')").fetchall()
    future = conn.execute("select count(*) from api.list_logs(p_since => now() + interval '1 hour')").fetchone()[0]
    assert (errors, future) == ([("bad",)], 0)


def test_a_batch_of_api_calls_becomes_one_log_row_each(db, connect):
    alice = make_user(db, "alice")
    calls = [
        {"method": "POST", "route": "/orders", "status": 201, "duration_ms": 4.2, "user_id": alice,
         "request_id": "r1", "client_addr": "192.0.2.1", "at": "2026-11-26T12:00:00Z"},
        {"method": "GET", "route": "/orders/{id}", "status": 404, "duration_ms": 1.1, "user_id": alice,
         "request_id": "r2", "client_addr": "192.0.2.1", "at": "2026-11-26T12:00:01Z"},
    ]
    conn = connect(user="strongroom_authenticator", autocommit=True)

    recorded = conn.execute("select audit.record_api_calls(%s)", [json.dumps(calls)]).fetchone()[0]

    rows = db.execute("select level, message, actor_id, request_id, details->>'route', db_role from public.logs"
                      " where action = 'api_call' order by id").fetchall()
    assert recorded == 2
    assert rows == [("INFO", "POST /orders 201", alice, "r1", "/orders", "strongroom_authenticator"),
                    ("WARNING", "GET /orders/{id} 404", alice, "r2", "/orders/{id}", "strongroom_authenticator")]


@pytest.mark.parametrize("batch", ['{"method": "GET"}', "[1, 2]", json.dumps([{}] * 1001)])
def test_a_batch_that_is_not_an_array_of_calls_is_refused(db, connect, batch):
    conn = connect(user="strongroom_authenticator")
    assert sqlstate_of(conn, "select audit.record_api_calls(%s)", [batch]) == "SRP91"


@pytest.mark.parametrize("role", ["user", "admin", "auditor"])
def test_only_the_api_process_records_api_calls(db, connect, role):
    conn = connect()
    conn.execute(f"set role strongroom_{role}")
    assert sqlstate_of(conn, "select audit.record_api_calls('[]')") == "42501"
