"""Append-only log tables, sealing by finished transactions, and verify() naming the first tampered item."""

from __future__ import annotations

import random
import threading

import psycopg
import pytest

LOG_TABLES = ("logs", "order_logs", "key_logs")
RUNTIME_ROLES = ("strongroom_authenticator", "strongroom_user", "strongroom_admin", "strongroom_auditor")
CHANGES = {
    "update": "update public.{t} set action = 'x'",
    "delete": "delete from public.{t}",
    "truncate": "truncate public.{t}",
}


def history(db: psycopg.Connection, orders: int = 3) -> None:
    """A few orders with status changes and a key event: rows in all three log tables."""
    key = db.execute("insert into public.aes_keys (key_label, key_value) values ('k', 'w') returning id").fetchone()[0]
    db.execute("insert into public.key_logs (key_id, action, details) values (%s, 'created', 'first key')", [key])
    for n in range(orders):
        order = db.execute(
            "insert into public.orders (description) values (%s) returning id", [f"order {n}"]
        ).fetchone()[0]
        db.execute("update public.orders set status = 'processing' where id = %s", [order])


def seal(db: psycopg.Connection) -> list[tuple]:
    return db.execute("select * from audit.seal()").fetchall()


def verify(db: psycopg.Connection) -> dict:
    cur = db.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute("select * from audit.verify()").fetchone()


def tamper(db: psycopg.Connection, statement: str, params: list | None = None) -> None:
    """What a superuser can do: triggers off, then any write."""
    db.execute("set session_replication_role = replica")
    db.execute("set timezone = 'UTC'")
    try:
        db.execute(statement, params or [])
    finally:
        db.execute("reset session_replication_role")


# Append-only -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", RUNTIME_ROLES)
@pytest.mark.parametrize("table", LOG_TABLES)
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_no_runtime_role_can_update_delete_or_truncate_a_log_table(db, connect, role, table, change):
    history(db, orders=1)
    conn = connect(autocommit=True)
    conn.execute(f"set role {role}")

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(CHANGES[change].format(t=table))


@pytest.mark.parametrize("table", LOG_TABLES)
@pytest.mark.parametrize("change", ["update", "delete"])
def test_even_the_owner_cannot_update_or_delete_a_log_row(db, connect, table, change):
    history(db, orders=1)
    conn = connect(autocommit=True)
    conn.execute("set role strongroom_owner")

    with pytest.raises(psycopg.Error) as refused:
        conn.execute(CHANGES[change].format(t=table))
    assert refused.value.sqlstate == "SRF90"


@pytest.mark.parametrize("change", ["update public.{t} set row_count = 1", "delete from public.{t}"])
def test_even_the_owner_cannot_rewrite_a_seal_block(db, connect, change):
    history(db, orders=1)
    seal(db)
    conn = connect(autocommit=True)
    conn.execute("set role strongroom_owner")

    with pytest.raises(psycopg.Error) as refused:
        conn.execute(change.replace("public.{t}", "audit.seal_blocks"))
    assert refused.value.sqlstate == "SRF90"


def test_the_owner_cannot_truncate_a_log_table_either(db, connect):
    history(db, orders=1)
    conn = connect(autocommit=True)
    conn.execute("set role strongroom_owner")

    with pytest.raises(psycopg.Error) as refused:
        conn.execute("truncate public.logs")
    assert refused.value.sqlstate == "SRF90"


# Sealing -----------------------------------------------------------------------------------------------

def test_seal_chains_every_committed_row_once_and_verify_is_clean(db):
    history(db)

    blocks = seal(db)

    rows = sum(db.execute(f"select count(*) from public.{t}").fetchone()[0] for t in LOG_TABLES)
    assert sum(b[3] for b in blocks) == rows
    assert seal(db) == []
    result = verify(db)
    assert result["ok"] is True and result["problem"] is None
    assert result["head_hash"] == blocks[-1][4]


def test_a_row_of_a_transaction_still_running_waits_even_when_later_rows_committed(db, connect):
    seal(db)  # whatever the migrated database already logged
    slow = connect()
    slow.execute("insert into public.orders (description) values ('older, still open')")  # holds the older xid
    db.execute("insert into public.orders (description) values ('younger, committed')")

    first = seal(db)
    slow.commit()
    second = seal(db)

    assert first == []  # the younger row's xid is above the open transaction's: not yet safe to seal
    assert sum(b[3] for b in second) == 4  # both orders: one logs row and one order_logs row each
    assert verify(db)["ok"] is True


def test_rows_of_a_rolled_back_transaction_are_never_sealed(db, connect):
    seal(db)  # whatever the migrated database already logged
    conn = connect()
    conn.execute("insert into public.orders (description) values ('undone')")
    conn.rollback()
    db.execute("insert into public.orders (description) values ('kept')")

    blocks = seal(db)

    assert sum(b[3] for b in blocks) == 2
    assert verify(db)["ok"] is True


def test_seal_refuses_a_repeatable_read_transaction(db, connect):
    conn = connect()
    conn.execute("set transaction isolation level repeatable read")

    with pytest.raises(psycopg.Error) as refused:
        conn.execute("select * from audit.seal()")
    assert refused.value.sqlstate == "SRC90"


@pytest.mark.slow
def test_concurrent_writers_while_sealing_runs_every_row_sealed_exactly_once(db, connect):
    writers, per_writer = 4, 60
    done = threading.Event()
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            with connect() as conn:
                for n in range(per_writer):
                    order = conn.execute(
                        "insert into public.orders (description) values (%s) returning id", [f"w{seed}-{n}"]
                    ).fetchone()[0]
                    if rnd.random() < 0.5:
                        conn.execute("update public.orders set status = 'processing' where id = %s", [order])
                    if rnd.random() < 0.3:
                        conn.execute("select pg_sleep(0.002)")  # commits land out of xid order
                    conn.commit()
        except BaseException as error:
            errors.append(error)

    def sealer() -> None:
        try:
            with connect(autocommit=True) as conn:
                while not done.is_set():
                    conn.execute("select * from audit.seal()")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    for thread in sealers + threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    for thread in sealers:
        thread.join()
    seal(db)

    assert errors == []
    # Each row lies in exactly one block's range, and the blocks' counts add up to the rows.
    counted = db.execute(
        """
        select count(*) filter (where n <> 1), count(*) from (
            select (select count(*) from audit.seal_blocks b
                     where b.log_table = r.log_table and b.month = r.month
                       and r.txid >= b.xid_from and r.txid < b.xid_to) as n
            from audit.log_rows r) per_row
        """
    ).fetchone()
    assert counted[0] == 0
    assert db.execute("select sum(row_count) from audit.seal_blocks").fetchone()[0] == counted[1]
    assert counted[1] >= writers * per_writer * 2
    assert verify(db)["ok"] is True


# Tampering ---------------------------------------------------------------------------------------------

@pytest.fixture
def sealed(db):
    history(db)
    seal(db)
    db.execute("insert into public.orders (description) values ('after the seal')")  # unsealed rows too
    return db


def first_sealed_block(db: psycopg.Connection, table: str) -> int:
    return db.execute(
        "select min(id) from audit.seal_blocks where log_table = %s", [table]
    ).fetchone()[0]


def test_a_clean_history_verifies_ok(sealed):
    assert verify(sealed)["ok"] is True


def test_an_edited_row_is_named(sealed):
    tamper(sealed, "update public.logs set message = 'nothing happened' where id = 3")

    result = verify(sealed)
    assert (result["ok"], result["kind"], result["log_table"], result["item_id"]) == (False, "row", "logs", 3)


@pytest.mark.parametrize("edit", [
    "after_image = after_image - 'user_id'",                            # a key whose value was null, removed
    "after_image = after_image || '{\"sensitive_note\": null}'",       # a key with a null value, added
    "details = coalesce(details, '{}') || '{\"reviewed\": null}'",
])
def test_a_null_valued_key_added_or_removed_inside_a_jsonb_column_is_named(sealed, edit):
    # The orders of the history have no owner: their images hold "user_id": null.
    row = sealed.execute("select min(id) from public.logs where table_name = 'orders' and action = 'insert'"
                         " and after_image -> 'user_id' = 'null'").fetchone()[0]

    tamper(sealed, f"update public.logs set {edit} where id = %s", [row])

    result = verify(sealed)
    assert (result["ok"], result["kind"], result["item_id"], result["problem"]) == (
        False, "row", row, "row content does not match its hash")


def test_a_row_is_hashed_when_it_is_sealed_and_an_edit_after_that_is_named(sealed):
    # Until a row is sealed, whoever can edit it could recompute a hash taken at insert just as well: it
    # has none yet, and the seal hashes it as it is then.
    last = sealed.execute("select max(id) from public.logs").fetchone()[0]
    assert sealed.execute("select row_hash from audit.log_rows where log_table = 'logs' and id = %s",
                          [last]).fetchone() == (None,)
    tamper(sealed, "update public.logs set level = 'DEBUG' where id = %s", [last])
    assert verify(sealed)["ok"] is True

    seal(sealed)
    assert sealed.execute("select count(*) from audit.row_hashes where log_table = 'logs' and id = %s",
                          [last]).fetchone() == (1,)
    assert verify(sealed)["ok"] is True
    tamper(sealed, "update public.logs set level = 'INFO' where id = %s", [last])

    result = verify(sealed)
    assert (result["kind"], result["item_id"], result["problem"]) == (
        "row", last, "row content does not match its hash")


def test_an_edited_row_whose_kept_hash_was_recomputed_is_caught_by_its_block(sealed):
    tamper(sealed, "update public.order_logs set action = 'cancelled' where id = 2")
    tamper(sealed, "update audit.row_hashes h set row_hash = audit.row_hash('order_logs', to_jsonb(o))"
                   " from public.order_logs o where h.log_table = 'order_logs' and h.id = 2 and o.id = 2")

    result = verify(sealed)
    assert (result["kind"], result["log_table"], result["item_id"]) == (
        "block", "order_logs", first_sealed_block(sealed, "order_logs"))


def test_a_sealed_row_whose_kept_hash_was_removed_is_named(sealed):
    tamper(sealed, "delete from audit.row_hashes where log_table = 'logs' and id = 2")

    result = verify(sealed)
    assert (result["kind"], result["item_id"], result["problem"]) == ("row", 2, "row has no hash")


@pytest.mark.parametrize("change", ["update audit.row_hashes set row_hash = '\\x00'", "delete from audit.row_hashes",
                                    "truncate audit.row_hashes"])
def test_even_the_owner_cannot_rewrite_the_kept_row_hashes(db, connect, change):
    history(db, orders=1)
    seal(db)
    conn = connect(autocommit=True)
    conn.execute("set role strongroom_owner")

    with pytest.raises(psycopg.Error) as refused:
        conn.execute(change)
    assert refused.value.sqlstate == "SRF90"


# Rows hashed at insert, as every row was before migration 20261202_01 -----------------------------------

def hash_at_insert(db: psycopg.Connection) -> None:
    """Give every row without a hash the one the stamping trigger used to set at insert."""
    for table in LOG_TABLES:
        tamper(db, f"update public.{table} l set row_hash = audit.row_hash('{table}', to_jsonb(l))"
                   " where row_hash is null")


def test_rows_hashed_at_insert_sealed_before_or_after_the_change_still_verify(db):
    history(db, orders=2)
    hash_at_insert(db)
    seal(db)  # blocks over rows hashed at insert, as sealed before the migration
    order = db.execute("insert into public.orders (description) values ('unsealed') returning id").fetchone()[0]
    db.execute("update public.orders set status = 'processing' where id = %s", [order])
    hash_at_insert(db)  # rows hashed at insert, not sealed yet when the migration ran
    db.execute("insert into public.orders (description) values ('after the migration')")

    seal(db)

    assert verify(db)["ok"] is True
    kept = db.execute("select log_table, count(*) from audit.row_hashes group by 1 order by 1").fetchall()
    assert kept == [("logs", 1), ("order_logs", 1)]  # only the rows written since: the others bring theirs


def test_an_edited_unsealed_row_that_brought_its_hash_is_named(db):
    history(db, orders=1)
    hash_at_insert(db)
    last = db.execute("select max(id) from public.logs").fetchone()[0]
    tamper(db, "update public.logs set level = 'DEBUG' where id = %s", [last])

    result = verify(db)
    assert (result["kind"], result["item_id"], result["problem"]) == (
        "row", last, "row content does not match its hash")


def test_an_edited_row_with_a_recomputed_hash_is_caught_by_its_block(sealed):
    tamper(sealed, "update public.order_logs set action = 'cancelled' where id = 2")
    tamper(sealed, "update public.order_logs o set row_hash = audit.row_hash('order_logs', to_jsonb(o)) where id = 2")

    result = verify(sealed)
    assert (result["kind"], result["log_table"], result["item_id"]) == (
        "block", "order_logs", first_sealed_block(sealed, "order_logs"))


def test_a_deleted_row_is_caught_by_its_block(sealed):
    tamper(sealed, "delete from public.logs where id = 2")

    result = verify(sealed)
    assert (result["kind"], result["item_id"]) == ("block", first_sealed_block(sealed, "logs"))
    assert "rows" in result["problem"]


def test_a_forged_row_inserted_into_a_sealed_range_is_caught(sealed):
    tamper(
        sealed,
        """
        insert into public.key_logs (id, key_id, action, details, txid, logged_at)
        select 999, k.key_id, 'retired', 'forged', k.txid, k.logged_at from public.key_logs k where k.id = 1
        """,
    )
    tamper(sealed, "update public.key_logs k set row_hash = audit.row_hash('key_logs', to_jsonb(k)) where id = 999")

    result = verify(sealed)
    assert (result["kind"], result["log_table"], result["item_id"]) == (
        "block", "key_logs", first_sealed_block(sealed, "key_logs"))


def test_a_forged_row_without_a_valid_hash_is_named(sealed):
    tamper(sealed, "insert into public.logs (id, message, txid, row_hash) values (5000, 'forged', '1', '\\x00')")

    result = verify(sealed)
    assert (result["kind"], result["item_id"]) == ("row", 5000)


def test_two_swapped_rows_are_named(sealed):
    tamper(sealed, "update public.logs set id = -2 where id = 2")
    tamper(sealed, "update public.logs set id = 2 where id = 3")
    tamper(sealed, "update public.logs set id = 3 where id = -2")

    result = verify(sealed)
    assert (result["kind"], result["item_id"]) == ("row", 2)


def test_an_edited_block_is_named(sealed):
    block = first_sealed_block(sealed, "order_logs")
    tamper(sealed, "update audit.seal_blocks set sealed_by = 'someone else' where id = %s", [block])

    result = verify(sealed)
    assert (result["kind"], result["item_id"]) == ("block", block)
    assert result["problem"] == "block content does not match its hash"


def test_a_block_whose_hash_was_recomputed_breaks_the_link_to_the_next(sealed):
    sealed.execute("insert into public.orders (description) values ('one more')")
    seal(sealed)
    tamper(sealed, "update audit.seal_blocks set row_count = row_count, sealed_by = 'x' where id = 1")
    tamper(sealed, "update audit.seal_blocks b set block_hash = audit.block_hash(b) where id = 1")

    result = verify(sealed)
    assert (result["kind"], result["item_id"]) == ("block", 2)
    assert result["problem"] == "block does not link to the previous block"


def test_head_is_the_last_block_and_changes_with_every_seal(sealed):
    before = sealed.execute("select block_id, block_hash from audit.head()").fetchone()
    seal(sealed)
    after = sealed.execute("select block_id, block_hash from audit.head()").fetchone()

    last = sealed.execute("select id, encode(block_hash, 'hex') from audit.seal_blocks order by id desc limit 1")
    assert after == last.fetchone()
    assert after[0] > before[0] and after[1] != before[1]


# Partitions and retention ------------------------------------------------------------------------------

def test_monthly_partitions_exist_from_this_month_to_three_months_ahead(db):
    missing = db.execute(
        """
        select t, m from unnest(array['logs', 'order_logs', 'key_logs']) t,
               generate_series(date_trunc('month', now(), 'UTC'), date_trunc('month', now(), 'UTC')
                               + interval '3 months', interval '1 month') m
        where to_regclass('log_partitions.' || audit.partition_name(t, m)) is null
        """
    ).fetchall()
    assert missing == []


def old_month_with_rows(db: psycopg.Connection) -> str:
    db.execute("create table public.logs_y2020m01 partition of public.logs "
               "for values from ('2020-01-01 00:00+00') to ('2020-02-01 00:00+00')")
    db.execute("alter table public.logs_y2020m01 owner to strongroom_owner")
    for n in range(3):
        db.execute("insert into public.logs (message, logged_at) values (%s, '2020-01-15 12:00+00')", [f"old {n}"])
    return "logs_y2020m01"


def test_retention_moves_a_sealed_old_month_to_the_archive_and_logs_it(db):
    part = old_month_with_rows(db)
    history(db, orders=1)
    seal(db)

    db.execute("call audit.retire_partitions(24)")

    assert db.execute("select to_regclass(%s)", [f"public.{part}"]).fetchone()[0] is None
    assert db.execute("select count(*) from audit_archive.logs_y2020m01").fetchone()[0] == 3
    assert db.execute("select row_count from audit.retired_partitions where log_table = 'logs'"
                      ).fetchone()[0] == 3
    assert db.execute("select count(*) from public.logs where action = 'partition_retired'").fetchone()[0] == 1
    seal(db)
    assert verify(db)["ok"] is True


def test_retention_refuses_a_month_with_unsealed_rows(db):
    old_month_with_rows(db)

    with pytest.raises(psycopg.Error) as refused:
        db.execute("call audit.retire_partitions(24)")
    assert refused.value.sqlstate == "SRC91"
