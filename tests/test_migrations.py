"""Migrations apply on an empty database, are a no-op the second time, and roll back completely."""

import threading

import psycopg
import pytest
from psycopg import sql
from yoyo import get_backend, read_migrations

from api.postgres import migrate as migrations


@pytest.fixture
def empty_db(pg):
    """A brand-new database (not the template), dropped afterwards."""
    name = "strongroom_empty"
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield pg.dsn(name)
    with psycopg.connect(pg.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def our_tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            select n.nspname || '.' || c.relname from pg_catalog.pg_class c
              join pg_catalog.pg_namespace n on n.oid = c.relnamespace
             where c.relkind in ('r', 'p', 'v', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
               and c.relname not like '%yoyo%'
            """
        ).fetchall()
    return sorted(name for (name,) in rows)


def test_migrate_on_an_empty_database_creates_the_seed_tables_and_records_the_code(empty_db):
    done = migrations.migrate(empty_db, say=lambda _: None)

    assert done.migrations == migrations.migration_ids()
    assert {f"public.{t}" for t in ("users", "aes_keys", "key_logs", "entries", "orders", "order_logs", "logs")} \
        <= set(our_tables(empty_db))
    with psycopg.connect(empty_db) as conn:
        recorded = dict(conn.execute("select file_name, sha256 from private.installed_code").fetchall())
    assert recorded == {p.name: migrations.sha256(p) for p in migrations.code_files()}


def test_migrate_twice_in_a_row_is_a_no_op(empty_db):
    migrations.migrate(empty_db, say=lambda _: None)
    with psycopg.connect(empty_db) as conn:
        before = conn.execute("select max(applied_at) from private.installed_code").fetchone()

    again = migrations.migrate(empty_db, say=lambda _: None)

    assert again.nothing
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("select max(applied_at) from private.installed_code").fetchone() == before


def test_dry_run_lists_pending_work_and_changes_nothing(empty_db):
    plan = migrations.plan(empty_db)

    assert plan.migrations == migrations.migration_ids()
    assert plan.code == [p.name for p in migrations.code_files()]
    assert our_tables(empty_db) == []


def test_dry_run_after_migrate_has_nothing_to_do(empty_db):
    migrations.migrate(empty_db, say=lambda _: None)
    assert migrations.plan(empty_db).nothing


def test_a_changed_code_file_is_reapplied(empty_db):
    migrations.migrate(empty_db, say=lambda _: None)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("update private.installed_code set sha256 = repeat('0', 64) where file_name = '00_schemas.sql'")

    assert "00_schemas.sql" in migrations.plan(empty_db).code
    assert migrations.migrate(empty_db, say=lambda _: None).code


def test_full_rollback_leaves_no_table_of_ours(empty_db):
    migrations.migrate(empty_db, say=lambda _: None)
    backend = get_backend(migrations._yoyo_uri(empty_db))
    with backend.lock():
        backend.rollback_migrations(backend.to_rollback(read_migrations(str(migrations.MIGRATIONS))))
    backend.connection.close()

    assert our_tables(empty_db) == []
    with psycopg.connect(empty_db) as conn:
        schemas = conn.execute(
            "select nspname from pg_catalog.pg_namespace where nspname in ('api', 'private', 'audit')"
        ).fetchall()
    assert schemas == []


def test_rollback_then_migrate_again_restores_everything(empty_db):
    migrations.migrate(empty_db, say=lambda _: None)
    backend = get_backend(migrations._yoyo_uri(empty_db))
    with backend.lock():
        backend.rollback_migrations(backend.to_rollback(read_migrations(str(migrations.MIGRATIONS))))
    backend.connection.close()

    done = migrations.migrate(empty_db, say=lambda _: None)

    assert done.migrations == migrations.migration_ids()
    assert "public.orders" in our_tables(empty_db)


def test_every_migration_has_a_rollback():
    missing = [m for m in migrations.migration_ids() if not (migrations.MIGRATIONS / f"{m}.rollback.sql").exists()]
    assert missing == []


def test_two_migrates_at_once_both_succeed_and_apply_each_migration_once(empty_db):
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrations.migrate(empty_db, say=lambda _: None)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with psycopg.connect(empty_db) as conn:
        applied = conn.execute("select migration_id, count(*) from _yoyo_migration group by 1").fetchall()
    assert sorted(applied) == [(m, 1) for m in migrations.migration_ids()]


def test_a_stale_lock_gives_a_clear_message(empty_db, monkeypatch):
    migrations.migrate(empty_db, say=lambda _: None)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("insert into yoyo_lock (locked, ctime, pid) values (1, now(), 999999)")
    monkeypatch.setattr(migrations, "LOCK_TIMEOUT_SECONDS", 1)

    with pytest.raises(migrations.MigrationError, match="break-lock"):
        migrations.migrate(empty_db, say=lambda _: None)

    migrations.break_lock(empty_db)
    assert migrations.migrate(empty_db, say=lambda _: None).nothing
