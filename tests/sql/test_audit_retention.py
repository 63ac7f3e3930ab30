"""Retention drops a retired log partition only after a recorded, checked archive, and logs each step.

SQL level: audit.record_archive / audit.drop_archived refuse what was never archived; then
`strongroom audit retire` end to end: retire, pg_dump, check, record, drop, against the test database.
"""

from __future__ import annotations

import hashlib
import stat
import subprocess

import psycopg
import pytest

from api.cli import main
from api.settings import get_settings

SHA = "ab" * 32
OLD = "logs_y2020m01"


def old_month(db: psycopg.Connection, month: str = "2020-01", rows: int = 3) -> str:
    """A logs partition for a month long past (as retention finds them), with rows in it, all sealed."""
    name = f"logs_y{month.replace('-', 'm')}"
    year, mon = (int(part) for part in month.split("-"))
    after = f"{year + mon // 12}-{mon % 12 + 1:02d}"
    db.execute(f"create table public.{name} partition of public.logs for values "
               f"from ('{month}-01 00:00+00') to ('{after}-01 00:00+00')")
    db.execute(f"alter table public.{name} owner to strongroom_owner")
    for n in range(rows):
        db.execute("insert into public.logs (message, logged_at) values (%s, %s)", [f"old {n}", f"{month}-15 12:00+00"])
    db.execute("select * from audit.seal()")
    return name


def retired(db: psycopg.Connection) -> str:
    name = old_month(db)
    db.execute("call audit.retire_partitions(24)")
    return name


def in_archive(db: psycopg.Connection, table: str) -> bool:
    return db.execute("select to_regclass(%s) is not null", [f"audit_archive.{table}"]).fetchone()[0]


def events(db: psycopg.Connection, action: str) -> list[dict]:
    return [r[0] for r in db.execute("select details from public.logs where action = %s order by id", [action])]


# SQL level ------------------------------------------------------------------------------------------------

def test_a_retired_table_without_a_recorded_archive_is_not_dropped(db):
    table = retired(db)

    with pytest.raises(psycopg.Error) as refused:
        db.execute("call audit.drop_archived(%s, %s)", [table, SHA])

    assert refused.value.sqlstate == "SRC93"
    assert in_archive(db, table)
    assert events(db, "partition_dropped") == []


def test_a_table_never_retired_cannot_be_recorded_as_archived_nor_dropped(db):
    db.execute("create table audit_archive.stray (id int)")

    with pytest.raises(psycopg.Error) as not_retired:
        db.execute("call audit.record_archive('stray', 'stray.dump', %s)", [SHA])
    with pytest.raises(psycopg.Error) as not_archived:
        db.execute("call audit.drop_archived('stray', %s)", [SHA])

    assert (not_retired.value.sqlstate, not_archived.value.sqlstate) == ("SRC93", "SRC93")
    assert in_archive(db, "stray")


def test_dropping_needs_the_hash_of_the_recorded_archive(db):
    table = retired(db)
    db.execute("call audit.record_archive(%s, 'a.dump', %s)", [table, SHA])

    with pytest.raises(psycopg.Error) as refused:
        db.execute("call audit.drop_archived(%s, %s)", [table, "cd" * 32])

    assert refused.value.sqlstate == "SRC93"
    assert in_archive(db, table)


def test_an_archive_is_recorded_only_with_a_sha256_in_hex(db):
    table = retired(db)

    with pytest.raises(psycopg.Error) as refused:
        db.execute("call audit.record_archive(%s, 'a.dump', 'not a hash')", [table])

    assert refused.value.sqlstate == "SRP50"


def test_dropping_an_archived_table_records_and_logs_it_and_verify_stays_ok(db):
    table = retired(db)
    db.execute("call audit.record_archive(%s, 'logs_y2020m01.dump', %s)", [table, SHA])

    db.execute("call audit.drop_archived(%s, %s)", [table, SHA])

    assert not in_archive(db, table)
    assert db.execute("select archive_file, archive_sha256, dropped_at is not null, dropped_by "
                      "from audit.retired_partitions where archived_as = %s", [f"audit_archive.{table}"]
                      ).fetchone() == ("logs_y2020m01.dump", SHA, True, "postgres")
    [logged] = events(db, "partition_dropped")
    assert logged["archived_as"] == f"audit_archive.{table}" and logged["archive_sha256"] == SHA
    assert logged["rows"] == 3
    db.execute("select * from audit.seal()")
    assert db.execute("select ok from audit.verify()").fetchone() == (True,)


def test_a_dropped_table_cannot_be_dropped_or_recorded_again(db):
    table = retired(db)
    db.execute("call audit.record_archive(%s, 'a.dump', %s)", [table, SHA])
    db.execute("call audit.drop_archived(%s, %s)", [table, SHA])

    with pytest.raises(psycopg.Error) as again:
        db.execute("call audit.drop_archived(%s, %s)", [table, SHA])

    assert again.value.sqlstate == "SRC93"


def test_retirable_partitions_names_what_retire_would_move_and_nothing_recent(db):
    old_month(db)

    names = db.execute("select log_table, partition_name from audit.retirable_partitions(24)").fetchall()

    assert names == [("logs", OLD)]


def test_only_the_owner_may_retire_record_or_drop(db):
    grantees = db.execute(
        """
        select p.oid::regprocedure::text, r.rolname
        from pg_catalog.pg_proc p, pg_catalog.pg_roles r
        where p.oid in ('audit.retire_partitions(integer)'::regprocedure,
                        'audit.record_archive(text, text, text)'::regprocedure,
                        'audit.drop_archived(text, text)'::regprocedure,
                        'audit.retirable_partitions(integer)'::regprocedure)
          and r.rolname like 'strongroom\\_%%' and r.rolname <> 'strongroom_owner'
          and has_function_privilege(r.oid, p.oid, 'execute')
        """
    ).fetchall()
    assert grantees == []


# `strongroom audit retire` ----------------------------------------------------------------------------------

@pytest.fixture
def cli(db_dsn, pg, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_dsn)
    monkeypatch.setenv("STRONGROOM_HOME", str(tmp_path / "home"))
    if pg.bindir is not None:
        monkeypatch.setenv("STRONGROOM_PG_BINDIR", str(pg.bindir))
    get_settings.cache_clear()
    yield main
    get_settings.cache_clear()


def test_retire_archives_checks_records_and_drops_each_old_month(db, cli, capsys, tmp_path, pg):
    old_month(db)
    old_month(db, month="2020-02", rows=2)

    status = cli(["audit", "retire", "--keep-months", "24"])

    out = capsys.readouterr().out
    archive = tmp_path / "home" / "audit-archive"
    dumps = sorted(archive.iterdir())
    assert status == 0
    assert [p.name for p in dumps] == ["logs_y2020m01.dump", "logs_y2020m02.dump"]
    assert stat.S_IMODE(archive.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in dumps} == {0o600}
    recorded = dict(db.execute("select archived_as, archive_sha256 from audit.retired_partitions "
                               "where dropped_at is not null").fetchall())
    for dump in dumps:
        digest = hashlib.sha256(dump.read_bytes()).hexdigest()
        assert recorded[f"audit_archive.{dump.stem}"] == digest
        assert f"dropped audit_archive.{dump.stem}" in out and digest in out
    assert not in_archive(db, "logs_y2020m01") and not in_archive(db, "logs_y2020m02")
    assert [e["archived_as"] for e in events(db, "partition_dropped")] == [
        "audit_archive.logs_y2020m01", "audit_archive.logs_y2020m02"]
    listing = subprocess.run([str(pg.bindir / "pg_restore"), "--list", str(dumps[0])],
                             capture_output=True, text=True, check=True).stdout
    assert "TABLE DATA audit_archive logs_y2020m01" in listing


def test_an_archive_restores_the_month_it_holds(db, db_dsn, cli, tmp_path, pg):
    old_month(db)
    cli(["audit", "retire", "--keep-months", "24"])
    dump = tmp_path / "home" / "audit-archive" / f"{OLD}.dump"

    env = {"PGPASSWORD": pg.password} if pg.password else None
    subprocess.run([str(pg.bindir / "pg_restore"), "--dbname", db_dsn, str(dump)], check=True, env=env)

    assert db.execute(f"select message from audit_archive.{OLD} order by id").fetchall() == [
        ("old 0",), ("old 1",), ("old 2",)]


def test_retire_dry_run_lists_what_it_would_do_and_changes_nothing(db, cli, capsys, tmp_path):
    old_month(db)
    db.execute("call audit.retire_partitions(24)")
    old_month(db, month="2020-02", rows=2)
    before = db.execute("select count(*) from public.logs").fetchone()[0]

    status = cli(["audit", "retire", "--keep-months", "24", "--dry-run"])

    out = capsys.readouterr().out
    assert status == 0
    assert "would retire logs_y2020m02" in out
    assert f"would dump audit_archive.{OLD}" in out and "would dump audit_archive.logs_y2020m02" in out
    assert db.execute("select to_regclass('public.logs_y2020m02') is not null").fetchone()[0]
    assert in_archive(db, OLD)
    assert db.execute("select count(*) from public.logs").fetchone()[0] == before
    assert not (tmp_path / "home" / "audit-archive").exists()


def test_a_failed_dump_leaves_the_table_in_the_archive_schema_and_a_rerun_finishes(db, cli, capsys, connect, tmp_path):
    table = retired(db)
    holder = connect()
    holder.execute(f"lock table audit_archive.{table} in access exclusive mode")

    status = cli(["audit", "retire", "--keep-months", "24", "--lock-wait", "1"])

    err = capsys.readouterr().err
    assert status == 1
    assert f"audit_archive.{table} (logs 2020-01, 3 row(s)) kept: pg_dump failed" in err
    assert in_archive(db, table)
    assert db.execute("select archive_sha256 from audit.retired_partitions").fetchone() == (None,)
    assert list((tmp_path / "home" / "audit-archive").iterdir()) == []

    holder.rollback()
    assert cli(["audit", "retire", "--keep-months", "24"]) == 0
    assert not in_archive(db, table)


def test_retire_with_unsealed_old_rows_moves_nothing_and_says_why(db, cli, capsys):
    db.execute("create table public.logs_y2020m01 partition of public.logs "
               "for values from ('2020-01-01 00:00+00') to ('2020-02-01 00:00+00')")
    db.execute("insert into public.logs (message, logged_at) values ('unsealed', '2020-01-15 12:00+00')")

    status = cli(["audit", "retire", "--keep-months", "24"])

    assert status == 1
    assert "unsealed rows" in capsys.readouterr().err
    assert db.execute("select to_regclass('public.logs_y2020m01') is not null").fetchone()[0]


def test_an_archive_directory_others_can_read_is_refused(db, cli, capsys, tmp_path):
    retired(db)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)

    status = cli(["audit", "retire", "--archive-dir", str(shared)])

    assert status == 1
    assert "chmod 700" in capsys.readouterr().err
    assert in_archive(db, OLD)


def test_retire_writes_into_the_archive_dir_it_is_given(db, cli, tmp_path):
    retired(db)
    target = tmp_path / "elsewhere" / "archive"

    assert cli(["audit", "retire", "--archive-dir", str(target)]) == 0

    assert [p.name for p in target.iterdir()] == [f"{OLD}.dump"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_a_recorded_archive_whose_file_is_gone_is_dumped_again_before_the_drop(db, cli, capsys, tmp_path):
    table = retired(db)
    db.execute("call audit.record_archive(%s, 'lost.dump', %s)", [table, SHA])

    assert cli(["audit", "retire"]) == 0

    dump = tmp_path / "home" / "audit-archive" / f"{table}.dump"
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    assert db.execute("select archive_file, archive_sha256 from audit.retired_partitions").fetchone() == (
        str(dump), digest)
    assert not in_archive(db, table)
    assert f"archived audit_archive.{table}" in capsys.readouterr().out
