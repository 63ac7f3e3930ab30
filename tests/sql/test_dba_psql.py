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
