"""api.list_logs pages stay flat: a page reads its own rows, not the log around them (sql/55_api_logs.sql)."""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.crypto_support import caller, make_user, one, rows_read_by_page

EVENT = ("insert into public.logs (level, component, action, message, user_id, actor_id)"
         " select 'INFO', 'orders', %s, 'event', %s, %s from generate_series(1, %s)")


@pytest.fixture
def history(db: psycopg.Connection) -> dict[str, int]:
    """Alice's old events (about her; her API calls; what she did about Carol), then Bob's newer ones."""
    alice, bob, carol = (make_user(db, name) for name in ("alice", "bob", "carol"))
    db.execute(EVENT, ["insert", alice, alice, 300])
    db.execute(EVENT, ["api_call", None, alice, 300])  # an API call names its caller as actor only
    db.execute(EVENT, ["user_updated", carol, alice, 30])
    db.execute(EVENT, ["insert", bob, bob, 600])
    db.execute(EVENT, ["api_call", None, bob, 600])
    return {"alice": alice, "bob": bob, "carol": carol}


def listed(db: psycopg.Connection, user: int, before: int | None, api_calls: bool) -> list[tuple]:
    with caller(db, user):
        return db.execute("select id, action, user_id, actor_id from api.list_logs(%s, 10, p_api_calls => %s)",
                          [before, api_calls]).fetchall()


@pytest.mark.parametrize("api_calls", [False, True])
def test_a_page_is_the_users_newest_events_as_subject_or_actor(db, history, api_calls):
    alice = history["alice"]
    mine = db.execute("select id from public.logs where (user_id = %(u)s or actor_id = %(u)s)"
                      " and (%(api)s or action <> 'api_call') order by id desc",
                      {"u": alice, "api": api_calls}).fetchall()

    pages, before = [], None
    while rows := listed(db, alice, before, api_calls):
        pages.extend(rows)
        before = rows[-1][0]

    assert [r[0] for r in pages] == [r[0] for r in mine]
    assert {r[1] for r in pages} == {"insert", "user_updated"} | ({"api_call"} if api_calls else set())


@pytest.mark.parametrize("plans", ["force_generic_plan", "force_custom_plan"])
@pytest.mark.parametrize("page", ["first", "deep"])
@pytest.mark.parametrize("api_calls", [False, True])
def test_a_page_reads_only_its_own_rows_whatever_else_the_log_holds(db, history, plans, page, api_calls):
    # As for orders (tests/sql/test_orders.py): Alice's old events beside Bob's newer ones, and her own API
    # calls, newer than her other events, which the default page leaves out. A plan that walks the primary
    # key past Bob's events, or her index past her API calls, reads hundreds of rows for a page of ten.
    alice = history["alice"]
    before = None if page == "first" else one(
        db, "select id from public.logs where user_id = %s order by id offset 20 limit 1", [alice])[0]
    returned, read = rows_read_by_page(
        db, alice, "public.logs", f"select id from api.list_logs(%s, 10, p_api_calls => {api_calls})", before, plans)
    assert returned == 10
    # Each of the three runs of the user's events (about them, their API calls, what they did about
    # others) gives at most a page, then the page's rows are read again with the names.
    assert read <= 4 * returned


@pytest.mark.parametrize("plans", ["force_generic_plan", "force_custom_plan"])
def test_an_admin_naming_a_user_reads_only_that_users_page(db, history, plans):
    admin = make_user(db, "root", "admin")
    with caller(db, admin, "admin"):
        db.execute("select set_config('plan_cache_mode', %s, true)", [plans])
        db.execute("set local enable_seqscan = off")
        read = ("select coalesce(sum(seq_tup_read + idx_tup_fetch), 0) from pg_stat_xact_user_tables"
                " where relid in (select inhrelid from pg_inherits where inhparent = 'public.logs'::regclass)")
        already = one(db, read)[0]
        rows = db.execute("select user_id, actor_id from api.list_logs(null, 10, p_username => 'alice')").fetchall()
        assert one(db, read)[0] - already <= 4 * len(rows)
    assert len(rows) == 10 and all(history["alice"] in row for row in rows)


def test_the_rate_limit_reads_the_users_last_minute_not_their_history(db):
    # api.log_client_event counts the user's events back to the window's start: Alice's older ones are
    # passed over after the first of them.
    alice = make_user(db, "alice")
    db.execute("insert into public.logs (level, component, action, message, user_id, actor_id, logged_at)"
               " select 'INFO', 'client:gui', 'client_event', 'old', %s, %s, now() - interval '1 hour'"
               " from generate_series(1, 300)", [alice, alice])
    with caller(db, alice):
        read = ("select coalesce(sum(seq_tup_read + idx_tup_fetch), 0) from pg_stat_xact_user_tables"
                " where relid in (select inhrelid from pg_inherits where inhparent = 'public.logs'::regclass)")
        already = one(db, read)[0]
        db.execute("select api.log_client_event('INFO', 'gui', 'hello')")
        assert one(db, read)[0] - already <= 10
