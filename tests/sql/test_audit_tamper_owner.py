"""What the owner of the log tables (and a superuser) can still try, and what verify() and the triggers say.

The owner, strongroom_owner, may detach and drop partitions, write audit.retired_partitions, call every
function and disable triggers; the append-only triggers refuse plain UPDATE/DELETE/TRUNCATE, and verify()
catches the rest once it is sealed.
"""

from __future__ import annotations

import psycopg
import pytest

from api.postgres import migrate as migrations
from tests.sql.test_audit_seal import LOG_TABLES, RUNTIME_ROLES, history, old_month_with_rows, seal, tamper, verify


def as_owner(connect) -> psycopg.Connection:
    conn = connect(autocommit=True)
    conn.execute("set role strongroom_owner")
    return conn


def current_partition(db: psycopg.Connection, table: str) -> str:
    return db.execute("select audit.partition_name(%s, date_trunc('month', now(), 'UTC'))", [table]).fetchone()[0]


def reapply_code(dsn: str) -> None:
    """What an upgrade does: a changed sql/ file makes migrate re-apply every file in sql/."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("update private.installed_code set sha256 = repeat('0', 64) where file_name = '40_audit.sql'")
    assert migrations.migrate(dsn, say=lambda _: None).code


def drop_month(owner: psycopg.Connection, table: str, part: str) -> None:
    where = owner.execute("select audit.partition_of(%s)::text", [part]).fetchone()[0]  # log_partitions, or public
    owner.execute(f"alter table public.{table} detach partition {where}")
    owner.execute(f"drop table {where}")


def record_retirement(owner: psycopg.Connection, table: str, month: str, rows: int, archived_as: str) -> None:
    owner.execute(
        "insert into audit.retired_partitions (log_table, month, archived_as, row_count) values (%s, %s, %s, %s)",
        [table, month, archived_as, rows],
    )


def log_retirement(owner: psycopg.Connection, table: str, month: str, rows: int, archived_as: str) -> None:
    """The partition_retired event as audit.retire_partitions writes it."""
    owner.execute("set timezone = 'UTC'")
    owner.execute(
        """select private.log_event('NOTICE', 'audit', 'partition_retired', 'forged',
                                    jsonb_build_object('log_table', %s::text, 'month', %s::timestamptz,
                                                       'rows', %s::bigint, 'archived_as', %s::text))""",
        [table, month, rows, archived_as],
    )


# Retired partitions ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "change",
    ["update audit.retired_partitions set row_count = 0", "update audit.retired_partitions set month = month - "
     "interval '1 month'", "update audit.retired_partitions set archived_as = 'audit_archive.elsewhere'",
     "delete from audit.retired_partitions", "truncate audit.retired_partitions"],
)
def test_even_the_owner_cannot_rewrite_the_record_of_retired_partitions(db, connect, change):
    old_month_with_rows(db)
    seal(db)
    db.execute("call audit.retire_partitions(24)")
    owner = as_owner(connect)

    with pytest.raises(psycopg.Error) as refused:
        owner.execute(change)
    assert refused.value.sqlstate == "SRF90"


def test_the_archive_record_may_be_filled_in_until_the_table_is_dropped_and_not_after(db, connect):
    old_month_with_rows(db)
    seal(db)
    db.execute("call audit.retire_partitions(24)")
    owner = as_owner(connect)
    table = owner.execute("select split_part(archived_as, '.', 2) from audit.retired_partitions").fetchone()[0]

    owner.execute("call audit.record_archive(%s, 'first.dump', %s)", [table, "a" * 64])
    owner.execute("call audit.record_archive(%s, 'again.dump', %s)", [table, "b" * 64])  # a later dump replaces it
    owner.execute("call audit.drop_archived(%s, %s)", [table, "b" * 64])

    with pytest.raises(psycopg.Error) as refused:
        owner.execute("update audit.retired_partitions set archive_file = 'forged.dump'")
    assert refused.value.sqlstate == "SRF90"
    assert owner.execute("select archive_file, dropped_at is not null from audit.retired_partitions"
                         ).fetchall() == [("again.dump", True)]


@pytest.mark.parametrize("change", ["update audit_archive.{t} set message = 'edited'", "delete from audit_archive.{t}",
                                    "truncate audit_archive.{t}"])
def test_a_retired_month_waiting_in_the_archive_schema_stays_append_only(db, connect, change):
    old_month_with_rows(db)
    seal(db)
    db.execute("call audit.retire_partitions(24)")
    owner = as_owner(connect)
    table = owner.execute("select split_part(archived_as, '.', 2) from audit.retired_partitions"
                          " where log_table = 'logs'").fetchone()[0]

    with pytest.raises(psycopg.Error) as refused:
        owner.execute(change.format(t=table))
    assert refused.value.sqlstate == "SRF90"


def test_a_dropped_current_month_recorded_as_retired_is_still_missing(db, connect):
    history(db)
    seal(db)
    owner = as_owner(connect)
    part = current_partition(db, "order_logs")
    month = db.execute("select date_trunc('month', now(), 'UTC')").fetchone()[0]
    rows = db.execute(f"select count(*) from log_partitions.{part}").fetchone()[0]
    drop_month(owner, "order_logs", part)
    assert verify(db)["problem"] == "every row of the block is missing"

    record_retirement(owner, "order_logs", month, rows, f"audit_archive.{part}")

    result = verify(db)
    assert (result["ok"], result["kind"], result["log_table"]) == (False, "retirement", "order_logs")
    assert result["problem"].endswith("is not recorded in the sealed log")


def test_a_dropped_current_month_is_caught_even_with_a_sealed_retirement_event(db, connect):
    history(db)
    owner = as_owner(connect)
    part = current_partition(db, "order_logs")
    month = db.execute("select date_trunc('month', now(), 'UTC')").fetchone()[0]
    rows = db.execute(f"select count(*) from log_partitions.{part}").fetchone()[0]
    log_retirement(owner, "order_logs", month, rows, f"audit_archive.{part}")
    seal(db)
    drop_month(owner, "order_logs", part)
    record_retirement(owner, "order_logs", month, rows, f"audit_archive.{part}")

    result = verify(db)
    assert (result["ok"], result["kind"]) == (False, "retirement")
    assert result["problem"].endswith("is of the current or a future month")


def test_a_dropped_old_month_recorded_as_retired_without_the_event_is_named(db, connect):
    part = old_month_with_rows(db)
    seal(db)
    owner = as_owner(connect)
    drop_month(owner, "logs", part)

    record_retirement(owner, "logs", "2020-01-01 00:00+00", 3, f"audit_archive.{part}")

    result = verify(db)
    assert (result["ok"], result["kind"], result["log_table"]) == (False, "retirement", "logs")
    assert result["problem"] == "retirement of logs month 2020-01 is not recorded in the sealed log"


def test_a_retirement_event_that_is_not_sealed_does_not_count(db, connect):
    part = old_month_with_rows(db)
    seal(db)
    owner = as_owner(connect)
    drop_month(owner, "logs", part)
    record_retirement(owner, "logs", "2020-01-01 00:00+00", 3, f"audit_archive.{part}")

    log_retirement(owner, "logs", "2020-01-01 00:00+00", 3, f"audit_archive.{part}")

    result = verify(db)
    assert (result["ok"], result["kind"]) == (False, "retirement")
    assert result["problem"] == "retirement of logs month 2020-01 is not sealed yet (run audit.seal())"


def test_a_retirement_that_claims_fewer_rows_than_were_sealed_is_named(db, connect):
    part = old_month_with_rows(db)
    seal(db)
    owner = as_owner(connect)
    log_retirement(owner, "logs", "2020-01-01 00:00+00", 2, f"audit_archive.{part}")
    seal(db)
    drop_month(owner, "logs", part)

    record_retirement(owner, "logs", "2020-01-01 00:00+00", 2, f"audit_archive.{part}")

    result = verify(db)
    assert (result["ok"], result["kind"]) == (False, "retirement")
    assert result["problem"] == "retirement of logs month 2020-01 claims 2 rows, its blocks sealed 3"


def test_a_retirement_whose_event_names_another_archive_does_not_count(db, connect):
    part = old_month_with_rows(db)
    seal(db)
    owner = as_owner(connect)
    log_retirement(owner, "logs", "2020-01-01 00:00+00", 3, "audit_archive.elsewhere")
    seal(db)
    drop_month(owner, "logs", part)

    record_retirement(owner, "logs", "2020-01-01 00:00+00", 3, f"audit_archive.{part}")

    assert verify(db)["problem"] == "retirement of logs month 2020-01 is not recorded in the sealed log"


def test_a_genuine_retirement_counts_once_its_event_is_sealed(db):
    old_month_with_rows(db)
    seal(db)
    db.execute("call audit.retire_partitions(24)")

    before = verify(db)
    seal(db)
    after = verify(db)

    assert before["problem"] == "retirement of logs month 2020-01 is not sealed yet (run audit.seal())"
    assert after["ok"] is True


def test_a_retirement_whose_event_was_itself_retired_still_counts(db):
    # order_logs of 2019-12, retired in February 2020: its event lies in logs of 2020-02 ...
    db.execute("create table public.order_logs_y2019m12 partition of public.order_logs "
               "for values from ('2019-12-01 00:00+00') to ('2020-01-01 00:00+00')")
    db.execute("create table public.logs_y2020m02 partition of public.logs "
               "for values from ('2020-02-01 00:00+00') to ('2020-03-01 00:00+00')")
    for part in ("order_logs_y2019m12", "logs_y2020m02"):
        db.execute(f"alter table public.{part} owner to strongroom_owner")
    order = db.execute("insert into public.orders (description) values ('old') returning id").fetchone()[0]
    db.execute("insert into public.order_logs (order_id, action, logged_at) values (%s, 'created', '2019-12-02')",
               [order])
    seal(db)
    db.execute("alter table public.order_logs detach partition public.order_logs_y2019m12")
    db.execute("alter table public.order_logs_y2019m12 set schema audit_archive")
    record_retirement(db, "order_logs", "2019-12-01 00:00+00", 1, "audit_archive.order_logs_y2019m12")
    db.execute(
        """insert into public.logs (level, component, action, message, details, logged_at)
           values ('NOTICE', 'audit', 'partition_retired', 'order_logs 2019-12 retired',
                   jsonb_build_object('log_table', 'order_logs', 'month', '2019-12-01 00:00+00'::timestamptz,
                                      'rows', 1, 'archived_as', 'audit_archive.order_logs_y2019m12'),
                   '2020-02-03 00:00+00')"""
    )
    seal(db)
    assert verify(db)["ok"] is True

    # ... which retention takes away later, recording that in turn.
    db.execute("call audit.retire_partitions(24)")
    seal(db)

    assert db.execute("select to_regclass('public.logs_y2020m02')").fetchone()[0] is None
    assert verify(db)["ok"] is True


# Partitions --------------------------------------------------------------------------------------------

def test_every_log_partition_has_a_trigger_refusing_truncate(db):
    db.execute("create table public.logs_y2019m01 partition of public.logs "
               "for values from ('2019-01-01 00:00+00') to ('2019-02-01 00:00+00')")
    db.execute("alter table public.logs_y2019m01 owner to strongroom_owner")

    db.execute("select audit.ensure_partitions(6)")

    unguarded = db.execute(
        """
        select i.inhrelid::regclass::text from pg_catalog.pg_inherits i
        where i.inhparent in ('public.logs'::regclass, 'public.order_logs'::regclass, 'public.key_logs'::regclass)
          and not exists (select from pg_catalog.pg_trigger t
                          where t.tgrelid = i.inhrelid and t.tgenabled = 'O'
                            and t.tgfoid = 'audit.tg_log__refuse_change'::regproc
                            and t.tgtype & 32 <> 0)  -- TRUNCATE
        """
    ).fetchall()
    assert unguarded == []
    assert db.execute("select count(*) from pg_catalog.pg_inherits where inhparent = 'public.logs'::regclass"
                      ).fetchone()[0] >= 8  # this month, six ahead, the default, 2019-01


@pytest.mark.parametrize("role", ("strongroom_owner", *RUNTIME_ROLES))
@pytest.mark.parametrize("table", LOG_TABLES)
@pytest.mark.parametrize("which", ["current", "default"])
def test_no_role_can_truncate_a_log_partition(db, connect, role, table, which):
    history(db, orders=1)
    part = current_partition(db, table) if which == "current" else f"{table}_default"
    conn = connect(autocommit=True)
    conn.execute(f"set role {role}")

    with pytest.raises(psycopg.Error) as refused:
        conn.execute(f"truncate log_partitions.{part}")
    # the owner meets the trigger; a runtime role has no privilege on a partition at all
    assert refused.value.sqlstate == ("SRF90" if role == "strongroom_owner" else "42501")


@pytest.mark.parametrize("table", LOG_TABLES)
@pytest.mark.parametrize("change", ["update log_partitions.{p} set action = 'x'", "delete from log_partitions.{p}"])
def test_even_the_owner_cannot_update_or_delete_through_a_partition(db, connect, table, change):
    history(db, orders=1)
    owner = as_owner(connect)

    with pytest.raises(psycopg.Error) as refused:
        owner.execute(change.format(p=current_partition(db, table)))
    assert refused.value.sqlstate == "SRF90"


def test_a_partition_created_later_refuses_truncate_even_for_a_superuser(db):
    db.execute("select audit.ensure_partitions(5)")  # as migrate and audit.seal() run it
    part = db.execute("select audit.partition_name('logs', date_trunc('month', now(), 'UTC') + interval '5 months')"
                      ).fetchone()[0]

    with pytest.raises(psycopg.Error) as refused:
        db.execute(f"truncate log_partitions.{part}")
    assert refused.value.sqlstate == "SRF90"


def test_applying_the_code_turns_a_disabled_partition_guard_back_on(db, db_dsn, connect):
    part = current_partition(db, "logs")
    db.execute(f"alter table log_partitions.{part} disable trigger _010_append_only_truncate")

    reapply_code(db_dsn)

    with pytest.raises(psycopg.Error) as refused:
        as_owner(connect).execute(f"truncate log_partitions.{part}")
    assert refused.value.sqlstate == "SRF90"


# Rows from before the audit trail ----------------------------------------------------------------------

def test_rows_without_a_hash_are_hashed_by_the_seal_that_takes_them(db):
    # As migration 20261126_31 copied the rows from before the audit trail, and as every row is written now.
    history(db, orders=1)
    assert db.execute("select count(*) from audit.log_rows where row_hash is not null").fetchone() == (0,)

    seal(db)

    assert db.execute("select count(*) from audit.log_rows where row_hash is null").fetchone() == (0,)
    assert verify(db)["ok"] is True


def test_once_sealed_a_row_without_a_hash_is_never_hashed_again(db, db_dsn):
    history(db, orders=1)
    seal(db)
    row = db.execute("select max(id) from public.logs").fetchone()[0]
    tamper(db, "delete from audit.row_hashes where log_table = 'logs' and id = %s", [row])

    reapply_code(db_dsn)
    seal(db)

    result = verify(db)
    assert (result["kind"], result["item_id"], result["problem"]) == ("row", row, "row has no hash")


def test_applying_the_code_leaves_the_append_only_trigger_on(db, db_dsn, connect):
    history(db, orders=1)

    reapply_code(db_dsn)

    with pytest.raises(psycopg.Error) as refused:
        as_owner(connect).execute("update public.logs set action = 'x'")
    assert refused.value.sqlstate == "SRF90"
