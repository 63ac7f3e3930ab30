"""`strongroom db psql` as a DBA uses it: psql's own arguments pass through to the bundled psql."""

from __future__ import annotations

import os
import subprocess
import sys


def psql(db_dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env["DATABASE_URL"] = db_dsn
    return subprocess.run([sys.executable, "-m", "api.cli", "db", "psql", *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_psql_takes_a_command_and_its_options(db, db_dsn):
    answer = psql(db_dsn, "-X", "-A", "-t", "-c", "select count(*) from public.orders")
    assert (answer.returncode, answer.stdout.strip()) == (0, "0"), answer.stderr


def test_psql_backslash_commands_work_from_the_command_line(db, db_dsn):
    answer = psql(db_dsn, "-X", "-c", r"\dt public.*")
    assert answer.returncode == 0, answer.stderr
    assert "orders" in answer.stdout and "order_logs" in answer.stdout


def test_other_commands_still_refuse_unknown_arguments(db, db_dsn):
    env = {**os.environ, "DATABASE_URL": db_dsn}
    answer = subprocess.run([sys.executable, "-m", "api.cli", "db", "status", "--bogus"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert answer.returncode == 2 and "unrecognized arguments: --bogus" in answer.stderr


def test_dt_shows_the_tables_not_one_row_per_log_month(db, db_dsn):
    listed = psql(db_dsn, "-X", "-A", "-t", "-c", r"\dt")
    names = {line.split("|")[1] for line in listed.stdout.splitlines() if "|" in line}

    assert listed.returncode == 0, listed.stderr
    assert {"users", "aes_keys", "key_logs", "entries", "orders", "order_logs", "logs"} <= names
    assert not [n for n in names if "_y20" in n or n.endswith("_default")]


def test_new_log_months_are_made_in_their_own_schema_and_read_through_the_parent(db):
    db.execute("select audit.ensure_partitions(6)")
    where = db.execute("select distinct n.nspname from pg_inherits p join pg_class c on c.oid = p.inhrelid"
                       " join pg_namespace n on n.oid = c.relnamespace"
                       " where p.inhparent = 'public.logs'::regclass").fetchall()
    db.execute("insert into public.logs (level, component, action, message) values ('INFO', 't', 't', 'through')")

    assert where == [("log_partitions",)]
    assert db.execute("select count(*) from audit.audit_trail where message = 'through'").fetchone() == (1,)
