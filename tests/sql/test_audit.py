"""Change audit by triggers: the rows each change writes, their context, and no secret in any of them."""

from __future__ import annotations

import json

import psycopg
import pytest

from api.testing.plugin import begin_request

LOG_TABLES = ("logs", "order_logs", "key_logs")


def in_request(conn: psycopg.Connection, user_id: int | None, request_id: str, addr: str = "192.0.2.7") -> None:
    """The request context api.begin_request writes, for a superuser that changes tables directly.

    These tests prove the triggers, so they write the tables themselves: the context is written by the
    function begin_request uses, in the superuser's own role (a caller role could not write the tables).
    """
    conn.execute("select private.write_context(%s, %s, 1, null, %s, null, %s::inet)",
                 [user_id, None if user_id is None else "user", request_id, addr])


def make_user(db: psycopg.Connection, name: str) -> int:
    return db.execute(
        "insert into public.users (username, hashed_password) values (%s, 'x') returning id", [name]
    ).fetchone()[0]


def log_rows(db: psycopg.Connection, where: str, params: list | None = None) -> list[dict]:
    cur = db.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(f"select * from public.logs where {where} order by id", params or []).fetchall()


def test_creating_an_order_writes_one_change_row_with_the_callers_actor_request_and_address(db):
    alice = make_user(db, "alice")
    with db.transaction():
        in_request(db, alice, "req-create")
        order = db.execute(
            "insert into public.orders (user_id, description) values (%s, 'ten bolts') returning id", [alice]
        ).fetchone()[0]

    rows = log_rows(db, "table_name = 'orders'")
    assert len(rows) == 1
    row = rows[0]
    assert (row["action"], row["row_id"], row["actor_id"], row["user_id"]) == ("insert", order, alice, alice)
    assert (row["request_id"], str(row["client_addr"])) == ("req-create", "192.0.2.7")
    assert row["before_image"] is None
    assert row["after_image"]["description"] == "ten bolts"
    # the row's own transaction; its hash is taken when it is sealed, and kept beside it
    assert row["txid"] is not None and row["row_hash"] is None
    db.execute("select * from audit.seal()")
    assert len(db.execute("select row_hash from audit.row_hashes where log_table = 'logs' and id = %s",
                          [row["id"]]).fetchone()[0]) == 32


def test_no_runtime_role_may_insert_into_a_log_table(db, connect):
    for role in ("strongroom_authenticator", "strongroom_user", "strongroom_admin", "strongroom_auditor"):
        conn = connect(autocommit=True)
        conn.execute(f"set role {role}")
        for table in LOG_TABLES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"insert into public.{table} (action) values ('forged')")


def test_a_caller_cannot_name_the_transaction_role_or_hash_of_a_log_row(db, connect):
    # The one writer that takes rows from its caller: txid, db_role and row_hash are not among its fields.
    conn = connect(user="strongroom_authenticator")
    forged = [{"method": "GET", "route": "/me", "status": 200, "request_id": "req-forged",
               "txid": "1", "db_role": "strongroom_admin", "row_hash": "\\x00"}]
    conn.execute("select audit.record_api_calls(%s::jsonb)", [json.dumps(forged)])
    txid = conn.execute("select pg_current_xact_id()::text").fetchone()[0]
    conn.commit()

    row = log_rows(db, "request_id = 'req-forged'")[0]
    assert (str(row["txid"]), row["db_role"], row["row_hash"]) == (txid, "strongroom_authenticator", None)


def test_the_audit_trigger_ignores_a_callers_temporary_objects_named_like_its_own(db, connect):
    # A caller's temporary schema is searched first for relations and types, whatever the search_path.
    alice = make_user(db, "alice")
    with db.transaction():
        in_request(db, alice, "req-temp-2")
        db.execute("create temporary table logs (action text)")
        db.execute("create temporary table jsonb (x int)")
        db.execute("insert into public.orders (user_id, description) values (%s, 'two nuts')", [alice])

    row = log_rows(db, "request_id = 'req-temp-2' and table_name = 'orders'")[0]
    assert (row["action"], row["actor_id"], row["after_image"]["description"]) == ("insert", alice, "two nuts")
    assert db.execute("select count(*) from pg_temp.logs").fetchone() == (0,)


def test_images_of_a_table_with_a_timestamptz_column_are_spelled_in_utc_whoever_writes(db):
    alice = make_user(db, "alice")
    db.execute("set timezone = 'Asia/Tokyo'")
    db.execute("update public.users set locked_until = '2030-01-02 03:04:05+00' where id = %s", [alice])
    db.execute("reset timezone")

    row = log_rows(db, "table_name = 'users' and action = 'update'")[0]
    assert row["after_image"]["locked_until"] == "2030-01-02T03:04:05+00:00"


def test_an_order_event_row_is_written_for_creation_and_each_status_change(db):
    alice = make_user(db, "alice")
    with db.transaction():
        in_request(db, alice, "req-1")
        order = db.execute(
            "insert into public.orders (user_id, description) values (%s, 'bolts') returning id", [alice]
        ).fetchone()[0]
    with db.transaction():
        in_request(db, alice, "req-2")
        db.execute("update public.orders set status = 'processing' where id = %s", [order])
        db.execute("update public.orders set description = 'more bolts' where id = %s", [order])

    events = db.execute(
        "select action, details::jsonb, actor_id, request_id from public.order_logs where order_id = %s order by id",
        [order],
    ).fetchall()
    assert events == [
        ("created", {"status": "pending"}, alice, "req-1"),
        ("status_changed", {"from": "pending", "to": "processing"}, alice, "req-2"),
    ]


def test_an_update_records_before_and_after_and_which_columns_changed(db):
    alice = make_user(db, "alice")
    order = db.execute(
        "insert into public.orders (user_id, description) values (%s, 'bolts') returning id", [alice]
    ).fetchone()[0]

    db.execute("update public.orders set status = 'processing' where id = %s", [order])

    row = log_rows(db, "table_name = 'orders' and action = 'update'")[0]
    assert row["before_image"]["status"] == "pending"
    assert row["after_image"]["status"] == "processing"
    assert "status" in row["details"]["changed"] and "description" not in row["details"]["changed"]


def test_a_delete_records_the_row_as_it_was(db):
    alice = make_user(db, "alice")
    entry = db.execute(
        "insert into public.entries (user_id, title) values (%s, 'note') returning id", [alice]
    ).fetchone()[0]

    db.execute("delete from public.entries where id = %s", [entry])

    row = log_rows(db, "table_name = 'entries' and action = 'delete'")[0]
    assert (row["row_id"], row["before_image"]["title"], row["after_image"]) == (entry, "note", None)


def test_a_dba_change_outside_a_request_is_recorded_with_the_database_role_and_no_user(db):
    alice = make_user(db, "alice")

    db.execute("update public.users set email = 'a@example.org' where id = %s", [alice])

    row = log_rows(db, "table_name = 'users' and action = 'update'")[0]
    assert (row["actor_id"], row["user_id"], row["request_id"]) == (None, None, None)
    assert row["db_role"] == db.execute("select session_user").fetchone()[0]


def test_db_role_is_the_role_the_session_switched_to_even_inside_security_definer_code(db, connect):
    alice = make_user(db, "alice")
    conn = connect()
    with conn.transaction():
        begin_request(conn, alice, request_id="req-role")
        conn.execute("select api.log_client_event('INFO', 'gui', 'opened the order form')")

    row = log_rows(db, "request_id = 'req-role'")[0]
    assert (row["db_role"], row["actor_id"]) == ("strongroom_user", alice)


@pytest.mark.parametrize("table", ["users", "entries", "orders", "aes_keys", "vault"])
def test_every_audited_table_carries_the_audit_trigger(db, table):
    found = db.execute(
        "select count(*) from pg_catalog.pg_trigger where tgrelid = %s::regclass and tgname = '_900_audit'",
        [f"public.{table}"],
    ).fetchone()[0]
    assert found == 1


def test_every_public_table_but_the_logs_and_the_migration_bookkeeping_is_audited(db):
    untracked = db.execute(
        "select c.relname::text from pg_catalog.pg_class c"
        " where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition"
        "   and c.relname <> all (%s) and c.relname !~ '^_?yoyo'"
        "   and not exists (select from pg_catalog.pg_trigger t where t.tgrelid = c.oid and t.tgname = '_900_audit')"
        " order by 1", [list(LOG_TABLES)]).fetchall()
    assert untracked == []


def test_no_secret_reaches_any_log_column_only_the_fact_that_it_changed(db):
    markers = ["pw-hash-marker-7f3a", "key-material-marker-91bc", "ciphertext-marker-55de", "newhash-marker-0c1d"]
    user = db.execute(
        "insert into public.users (username, hashed_password) values ('bob', %s) returning id", [markers[0]]
    ).fetchone()[0]
    key = db.execute(
        "insert into public.aes_keys (key_label, key_value) values ('k1', %s) returning id", [markers[1]]
    ).fetchone()[0]
    db.execute("alter table public.entries add column probe_enc bytea")  # as the encryption adds ciphertexts
    db.execute("select audit.enable_tracking('public.entries', array['content'])")
    db.execute("insert into public.entries (user_id, title, probe_enc) values (%s, 'title', convert_to(%s, 'UTF8'))",
               [user, markers[2]])
    db.execute("update public.users set hashed_password = %s where id = %s", [markers[3], user])
    db.execute("update public.aes_keys set key_label = 'k1-renamed' where id = %s", [key])
    db.execute("delete from public.entries where user_id = %s", [user])

    for table in LOG_TABLES:
        text = db.execute(f"select coalesce(string_agg(t::text, ' '), '') from public.{table} t").fetchone()[0]
        for marker in markers:
            assert marker not in text, f"{marker} leaked into {table}"
            assert marker.encode().hex() not in text, f"{marker} leaked into {table} as bytea"
    change = log_rows(db, "table_name = 'users' and action = 'update'")[0]
    assert "hashed_password" in change["details"]["changed"]
    assert change["after_image"]["hashed_password"] == "[redacted]"


def test_a_new_bytea_column_on_an_audited_table_is_redacted_once_tracking_is_reapplied(db):
    db.execute("alter table public.orders add column sensitive_blob bytea")
    db.execute("select audit.enable_tracking('public.orders')")

    db.execute("insert into public.orders (description, sensitive_blob) values ('x', '\\xcafebabe')")

    row = log_rows(db, "table_name = 'orders'")[0]
    assert row["after_image"]["sensitive_blob"] == "[redacted]"


def test_a_refused_access_leaves_a_row_that_commits_with_the_not_found_answer(db):
    alice, bob = make_user(db, "alice"), make_user(db, "bob")
    bobs = db.execute("insert into public.orders (user_id, description) values (%s, 'his') returning id",
                      [bob]).fetchone()[0]
    with db.transaction():
        in_request(db, alice, "req-peek")
        # What a data function does for another user's object: record, then answer "not found" without raising.
        db.execute("select private.log_access_refused('orders', %s)", [bobs])

    row = log_rows(db, "action = 'access_refused'")[0]
    assert (row["level"], row["actor_id"], row["table_name"], row["row_id"]) == ("WARNING", alice, "orders", bobs)
    assert row["request_id"] == "req-peek"


def test_log_event_fills_the_audit_columns_from_the_request_context(db):
    alice = make_user(db, "alice")
    with db.transaction():
        in_request(db, alice, "req-ev")
        db.execute("select private.log_event('WARNING', 'auth', 'login_failed', 'wrong password', "
                   "'{\"failed_logins\": 1}', %s)", [alice])

    row = log_rows(db, "action = 'login_failed'")[0]
    assert (row["component"], row["message"], row["details"]) == ("auth", "wrong password", {"failed_logins": 1})
    assert (row["user_id"], row["actor_id"], row["request_id"]) == (alice, alice, "req-ev")


def test_deleting_a_user_named_by_a_log_row_is_refused_so_no_log_row_is_rewritten(db):
    alice = make_user(db, "alice")
    db.execute("select private.log_event('INFO', 'auth', 'login_ok', 'logged in', null, %s)", [alice])

    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute("delete from public.users where id = %s", [alice])


def test_deleting_an_order_with_a_history_is_refused_orders_are_cancelled_instead(db):
    order = db.execute("insert into public.orders (description) values ('x') returning id").fetchone()[0]

    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute("delete from public.orders where id = %s", [order])
    assert db.execute("select count(*) from public.order_logs where order_id = %s", [order]).fetchone()[0] == 1


def test_a_change_of_the_sensitive_field_is_an_order_event_without_its_value(db):
    db.execute("alter table public.orders add column sensitive_data bytea")
    db.execute("select audit.enable_tracking('public.orders')")
    order = db.execute("insert into public.orders (description) values ('x') returning id").fetchone()[0]

    db.execute("update public.orders set sensitive_data = '\\xfeedface' where id = %s", [order])

    events = db.execute(
        "select action, details from public.order_logs where order_id = %s order by id", [order]
    ).fetchall()
    assert events == [("created", '{"status": "pending"}'), ("sensitive_changed", None)]
    everything = db.execute("select string_agg(t::text, ' ') from public.logs t").fetchone()[0]
    assert "feedface" not in everything


def test_making_a_plain_order_sensitive_is_an_order_event_without_its_value(db, connect):
    from tests.sql.accounts_support import begin_request
    from tests.sql.accounts_support import make_user as make_account
    from tests.sql.crypto_support import MASTER_KEY, ensure_key

    key = ensure_key(db)
    alice = make_account(db, "alice")
    api = connect("strongroom_authenticator")
    with api.transaction():
        begin_request(api, alice, request_id="req-plain")
        order = api.execute("select id from api.create_order('ten bolts', false)").fetchone()[0]
    # No api function changes an order's sensitivity: the DBA does it, in the order owner's name.
    with db.transaction():
        in_request(db, alice, "req-secret")
        db.execute("select set_config('strongroom.master_key', %s, true)", [MASTER_KEY])
        db.execute("update public.orders set sensitive = true, description = '', description_key_id = %s,"
                   " description_enc = private.encrypt('secret-bolts-marker-6d1f', %s,"
                   "                                   private.place('orders', 'description', null, id))"
                   " where id = %s", [key, key, order])

    events = db.execute(
        "select action, details::jsonb, actor_id, request_id from public.order_logs where order_id = %s order by id",
        [order],
    ).fetchall()
    assert events == [("created", {"status": "pending"}, alice, "req-plain"),
                      ("sensitive_changed", None, alice, "req-secret")]
    ciphertext = db.execute("select encode(description_enc, 'hex') from public.orders where id = %s",
                            [order]).fetchone()[0]
    for table in LOG_TABLES:
        text = db.execute(f"select coalesce(string_agg(t::text, ' '), '') from public.{table} t").fetchone()[0]
        assert "secret-bolts-marker-6d1f" not in text and ciphertext not in text, table


def test_a_failed_login_and_the_lockout_it_causes_leave_rows_with_the_callers_address(db, connect):
    from tests.sql.accounts_support import PEPPER, register, set_auth_settings

    set_auth_settings(db, lockout_threshold=2)
    alice = register(db, "alice")
    api = connect("strongroom_authenticator")  # what the API logs in as, before there is a caller
    for attempt in range(2):
        api.execute("select * from api.login('alice', 'not her password', %s, '198.51.100.23', %s)",
                    [PEPPER, f"req-login-{attempt}"])
        api.commit()

    rows = db.execute(
        "select action, user_id, actor_id, host(client_addr), request_id, db_role from public.logs"
        " where component = 'auth' and user_id = %s order by id", [alice]
    ).fetchall()
    assert rows[-2:] == [
        ("login_failed", alice, None, "198.51.100.23", "req-login-0", "strongroom_authenticator"),
        ("account_locked", alice, None, "198.51.100.23", "req-login-1", "strongroom_authenticator"),
    ]
