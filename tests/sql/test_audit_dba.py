"""The DBA's side: the audit_trail view, the ready queries on a prepared history, and what the auditor reads."""

from __future__ import annotations

import psycopg
import pytest


def in_request(conn: psycopg.Connection, user_id: int | None, request_id: str, addr: str) -> None:
    """The request context api.begin_request writes, for a superuser that writes the tables directly
    (the story is made of raw changes; a caller role could not write them)."""
    conn.execute("select private.write_context(%s, %s, 1, null, %s, null, %s::inet)",
                 [user_id, None if user_id is None else "user", request_id, addr])


@pytest.fixture
def story(db):
    """Alice orders and starts processing; Bob fails to log in from two places and gets locked; a key rotates."""
    ids = {}
    ids["alice"] = db.execute(
        "insert into public.users (username, hashed_password) values ('alice', 'x') returning id").fetchone()[0]
    ids["bob"] = db.execute(
        "insert into public.users (username, hashed_password) values ('bob', 'x') returning id").fetchone()[0]
    with db.transaction():
        in_request(db, ids["alice"], "req-order", "198.51.100.1")
        ids["order"] = db.execute(
            "insert into public.orders (user_id, description) values (%s, 'bolts') returning id", [ids["alice"]]
        ).fetchone()[0]
    with db.transaction():
        in_request(db, ids["alice"], "req-ship", "198.51.100.1")
        db.execute("update public.orders set status = 'processing' where id = %s", [ids["order"]])
    for addr in ("203.0.113.5", "203.0.113.5", "203.0.113.9"):
        with db.transaction():
            in_request(db, None, f"req-login-{addr}", addr)
            db.execute("select private.log_event('WARNING', 'auth', 'login_failed', 'wrong password', null, %s)",
                       [ids["bob"]])
    with db.transaction():
        in_request(db, None, "req-lock", "203.0.113.9")
        db.execute("select private.log_event('WARNING', 'auth', 'account_locked', 'locked', null, %s)", [ids["bob"]])
    with db.transaction():
        in_request(db, ids["alice"], "req-rotate", "198.51.100.1")
        ids["key"] = db.execute(
            "insert into public.aes_keys (key_label, key_value) values ('k2', 'wrapped') returning id").fetchone()[0]
        db.execute("insert into public.key_logs (key_id, action) values (%s, 'rotated')", [ids["key"]])
    return ids


def test_audit_trail_shows_all_three_log_tables_with_user_names(db, story):
    sources = db.execute(
        "select source, count(*) from audit.audit_trail group by source order by source").fetchall()
    assert [s for s, _ in sources] == ["key_logs", "logs", "order_logs"]
    names = db.execute(
        "select distinct actor_name from audit.audit_trail where request_id = 'req-ship'").fetchall()
    assert names == [("alice",)]


def test_who_changed_order_n_lists_its_events_in_order_with_the_actor(db, story):
    rows = db.execute(
        "select source, action, actor_name, request_id from audit.order_history(%s)", [story["order"]]
    ).fetchall()
    assert rows == [
        ("logs", "insert", "alice", "req-order"),
        ("order_logs", "created", "alice", "req-order"),
        ("logs", "update", "alice", "req-ship"),
        ("order_logs", "status_changed", "alice", "req-ship"),
    ]


def test_failed_logins_of_the_last_day_are_grouped_by_user_and_address(db, story):
    rows = db.execute(
        "select username, host(client_addr), failures, locked from audit.failed_logins() order by 2").fetchall()
    assert rows == [("bob", "203.0.113.5", 2, False), ("bob", "203.0.113.9", 1, True)]


def test_every_key_event_includes_key_logs_and_changes_of_the_key_row(db, story):
    rows = db.execute("select source, action from audit.key_events(%s)", [story["key"]]).fetchall()
    assert rows == [("logs", "insert"), ("key_logs", "rotated")]


def test_everything_one_request_did(db, story):
    rows = db.execute("select source, action from audit.request_trail('req-rotate')").fetchall()
    assert rows == [("logs", "insert"), ("key_logs", "rotated")]


def test_the_actions_of_one_user_over_a_period(db, story):
    rows = db.execute(
        "select action from audit.user_activity(%s, now() - interval '1 hour', now() + interval '1 hour')",
        [story["alice"]],
    ).fetchall()
    assert [a for (a,) in rows] == ["insert", "created", "update", "status_changed", "insert", "rotated"]
    assert db.execute(
        "select count(*) from audit.user_activity(%s, now() - interval '2 days', now() - interval '1 day')",
        [story["alice"]],
    ).fetchone()[0] == 0


def test_an_action_on_another_user_is_in_the_activity_of_both_actor_and_subject(db, story):
    # actor and user differ: the row is found through the partial actor index's arm for the actor
    with db.transaction():
        in_request(db, story["alice"], "req-disable", "198.51.100.1")
        db.execute("select private.log_event('NOTICE', 'admin', 'user_disabled', 'disabled', null, %s)",
                   [story["bob"]])
    for who in ("alice", "bob"):
        actions = [a for (a,) in db.execute(
            "select action from audit.user_activity(%s, now() - interval '1 hour', now() + interval '1 hour')",
            [story[who]],
        ).fetchall()]
        assert actions.count("user_disabled") == 1, who


def test_changes_made_directly_in_the_database_are_listed_with_the_login_role(db, story):
    db.execute("update public.orders set description = 'edited in psql' where id = %s", [story["order"]])

    rows = db.execute("select table_name, row_id, action, db_role from audit.direct_changes()").fetchall()

    direct = [r for r in rows if r[0] == "orders"]
    assert direct == [("orders", story["order"], "update", db.execute("select session_user").fetchone()[0])]


def test_refused_access_lists_who_asked_for_what_and_from_which_request(db, story):
    with db.transaction():
        in_request(db, story["bob"], "req-peek", "203.0.113.9")
        db.execute("select private.log_access_refused('orders', %s)", [story["order"]])

    rows = db.execute("select actor_name, table_name, row_id, request_id, host(client_addr)"
                      " from audit.refused_access()").fetchall()

    assert rows == [("bob", "orders", story["order"], "req-peek", "203.0.113.9")]
    assert db.execute("select count(*) from audit.refused_access('0 seconds')").fetchone()[0] == 0


LOG_PARTITIONS = ("select inhrelid from pg_inherits where inhparent in"
                  " ('public.logs'::regclass, 'public.order_logs'::regclass, 'public.key_logs'::regclass)")


@pytest.mark.parametrize(("call", "ends"), [
    ("select * from audit.order_history(%(order)s)", 0),
    ("select * from audit.key_events(%(key)s)", 0),
    ("select * from audit.request_trail('req-ship')", 0),
    ("select * from audit.user_activity(%(alice)s, now() - interval '1 hour', now() + interval '1 hour')", 4),
], ids=["order_history", "key_events", "request_trail", "user_activity"])
def test_the_ready_queries_reach_the_log_tables_through_indexes(db, story, call, ends):
    # An index used as a condition fetches just the rows asked for; a scan of a whole table or index
    # (the planner may walk a whole index when sequential scans are priced out) fetches them all.
    # user_activity also reads a few rows at the two ends of logs in its window's months (`ends`, a
    # constant): the range of ids in which it reads the user's index.
    noise_key = db.execute(
        "insert into public.aes_keys (key_label, key_value, state, is_active) values ('noise', 'wrapped',"
        " 'decrypt_only', false) returning id").fetchone()[0]
    for _ in range(30):  # more history around the story, so that reading everything shows
        with db.transaction():
            in_request(db, story["bob"], "req-noise", "192.0.2.1")
            db.execute("insert into public.orders (user_id, description) values (%s, 'noise')", [story["bob"]])
            db.execute("insert into public.key_logs (key_id, action) values (%s, 'rotated')", [noise_key])
    # Other users' events in the same window, as many as a busy hour holds, and statistics that say so:
    # a plan that reads the whole window rather than the user's rows then shows (at a few dozen rows and no
    # statistics, reading them all is what the planner rightly finds cheapest).
    db.execute("insert into public.logs (level, component, action, message, user_id, actor_id)"
               " select 'INFO', 'orders', 'insert', 'noise', %s, %s from generate_series(1, 1000)",
               [story["bob"], story["bob"]])
    db.execute("analyze public.logs, public.order_logs, public.key_logs")
    with db.transaction():
        db.execute("set local enable_seqscan = off")
        returned = len(db.execute(call, story).fetchall())
        fetched = db.execute(f"select sum(seq_tup_read + idx_tup_fetch) from pg_stat_xact_user_tables"
                             f" where relid in ({LOG_PARTITIONS})").fetchone()[0]

    assert returned > 0
    assert fetched <= returned + ends


# The auditor --------------------------------------------------------------------------------------------

def readable(db: psycopg.Connection, role: str) -> set[str]:
    rows = db.execute(
        """
        select n.nspname || '.' || c.relname from pg_catalog.pg_class c
          join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('r', 'p', 'v', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
           and c.relispartition is false
           and pg_catalog.has_table_privilege(%s, c.oid, 'select')
        """,
        [role],
    ).fetchall()
    return {name for (name,) in rows}


def test_the_auditor_reads_exactly_the_log_tables_the_trail_and_the_seal_records(db):
    assert readable(db, "strongroom_auditor") == {
        "public.logs", "public.order_logs", "public.key_logs", "audit.audit_trail",
        "audit.seal_blocks", "audit.row_hashes", "audit.retired_partitions", "private.current_context",
    }


def test_the_auditor_runs_verify_and_the_ready_queries_but_cannot_seal(db, connect, story):
    conn = connect(autocommit=True)
    conn.execute("set role strongroom_auditor")

    assert conn.execute("select ok from audit.verify()").fetchone() == (True,)
    assert conn.execute("select count(*) from audit.order_history(%s)", [story["order"]]).fetchone()[0] == 4
    assert conn.execute("select distinct actor_name from audit.order_history(%s)", [story["order"]]
                        ).fetchall() == [("alice",)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select hashed_password from public.users")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from audit.seal()")


@pytest.mark.parametrize("role", ["strongroom_user", "strongroom_admin", "strongroom_authenticator"])
def test_other_runtime_roles_read_no_log_table(db, role):
    assert readable(db, role) & {"public.logs", "public.order_logs", "public.key_logs", "audit.audit_trail"} == set()


def executable_in_audit(db: psycopg.Connection, role: str) -> set[str]:
    rows = db.execute(
        """
        select p.oid::regprocedure::text from pg_catalog.pg_proc p
          join pg_catalog.pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'audit' and pg_catalog.has_function_privilege(%s, p.oid, 'execute')
        """,
        [role],
    ).fetchall()
    return {name for (name,) in rows}


READY_QUERIES = {
    "audit.order_history(integer)", "audit.failed_logins(interval)", "audit.key_events(integer)",
    "audit.request_trail(text)", "audit.user_activity(integer,timestamp with time zone,timestamp with time zone)",
    "audit.direct_changes(timestamp with time zone)", "audit.refused_access(interval)",
    "audit.account_locks(interval)",
}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("strongroom_auditor", {"audit.verify()", "audit.head()"} | READY_QUERIES),
        ("strongroom_authenticator", {"audit.seal()", "audit.head()", "audit.record_api_calls(jsonb)"}),
        ("strongroom_admin", {"audit.seal()", "audit.head()"}),
        ("strongroom_user", set()),
    ],
)
def test_each_runtime_role_executes_exactly_its_audit_functions(db, role, expected):
    assert executable_in_audit(db, role) == expected


def test_a_dba_joins_orders_to_the_trail_on_time_whatever_their_own_timezone(db, story):
    db.execute("set timezone = 'America/New_York'")  # the DBA's psql, far from UTC
    kinds = db.execute("select pg_typeof(created_at)::text, pg_typeof(updated_at)::text from audit.orders"
                       " limit 1").fetchone()
    gap = db.execute(
        "select abs(extract(epoch from o.created_at - t.at)) from audit.orders o"
        " join audit.audit_trail t on t.table_name = 'orders' and t.row_id = o.id and t.action = 'insert'"
        " where o.id = %s", [story["order"]]).fetchone()[0]

    assert kinds == ("timestamp with time zone", "timestamp with time zone")
    assert gap < 60  # the same moment, not four or five hours apart


def test_every_key_event_names_its_key(db, story):
    rows = db.execute("select key_id, table_name from audit.key_events()").fetchall()
    assert rows and all(key_id is not None for key_id, _ in rows)
