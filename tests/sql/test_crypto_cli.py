"""`strongroom keys ...` drives the same SQL functions, and Ctrl-C during reencrypt leaves a resumable state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from api.cli import main
from api.settings import ROOT, get_settings
from tests.sql.crypto_support import MASTER_KEY, OTHER_MASTER_KEY, caller, ensure_key, make_user, one


@pytest.fixture
def cli_env(db_dsn, tmp_path, monkeypatch) -> dict[str, str]:
    """The CLI pointed at this test's database, with the test master key."""
    env = {"DATABASE_URL": db_dsn, "STRONGROOM_MASTER_KEY": MASTER_KEY, "STRONGROOM_HOME": str(tmp_path)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


@pytest.fixture
def alice(db) -> int:
    ensure_key(db)
    user = make_user(db, "alice")
    with caller(db, user):
        for i in range(12):
            db.execute("select api.create_entry('t', %s)", [f"note {i}"])
    return user


def rows_on(db: psycopg.Connection, key: int) -> int:
    return int(one(db, "select count(*) from entries where content_key_id = %s", [key])[0])


def test_rotate_reencrypt_retire_from_the_command_line(db, cli_env, alice, capsys):
    assert main(["keys", "rotate"]) == 0
    assert "key 2 is now active; key 1 is decrypt-only" in capsys.readouterr().out
    assert main(["keys", "reencrypt", "--batch-size", "5"]) == 0
    captured = capsys.readouterr()
    assert "12 rows moved, 0 left" in captured.out
    assert "left" in captured.err and "rows/s" in captured.err  # the progress bar
    assert (rows_on(db, 1), rows_on(db, 2)) == (0, 12)
    assert main(["keys", "retire", "1"]) == 0
    assert "key 1 is retired" in capsys.readouterr().out
    assert main(["keys", "status"]) == 0
    status = capsys.readouterr().out.splitlines()
    assert status[0].split()[:3] == ["id", "label", "state"]
    assert status[1].split()[2] == "retired" and status[2].split()[2] == "active"


def test_keys_status_shows_each_key_label_as_the_api_does(db, cli_env, alice, capsys):
    assert main(["keys", "rotate"]) == 0
    capsys.readouterr()
    labels = [row[0] for row in db.execute("select key_label from api.key_status() order by id").fetchall()]
    assert all(len(label) > 19 for label in labels)  # longer than a timestamp's width

    assert main(["keys", "status"]) == 0

    shown = [line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]]
    assert shown == labels


def test_rewrap_master_from_the_command_line(db, cli_env, alice, monkeypatch, capsys):
    monkeypatch.setenv("STRONGROOM_NEW_MASTER_KEY", OTHER_MASTER_KEY)
    assert main(["keys", "rewrap-master"]) == 0
    assert "1 data keys are now wrapped by the new master key" in capsys.readouterr().out
    with caller(db, alice, master_key=OTHER_MASTER_KEY):
        assert one(db, "select content from api.get_entry(1)")[0] == "note 0"


def test_a_wrong_master_key_fails_in_one_line_and_changes_nothing(db, cli_env, alice, monkeypatch, capsys):
    monkeypatch.setenv("STRONGROOM_MASTER_KEY", OTHER_MASTER_KEY)
    get_settings.cache_clear()
    assert main(["keys", "rotate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("strongroom: database error: wrong master key") and err.count("\n") == 1
    assert one(db, "select count(*) from aes_keys")[0] == 1


def default_sigint() -> None:
    """Ctrl-C as a terminal gives it: a suite started in the background by a non-interactive shell ignores
    SIGINT, children inherit that, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_reencrypt_leaves_every_row_readable_and_a_second_run_finishes(db, connect, cli_env, alice):
    ensure_key(db)
    with caller(db, None, "admin"):
        db.execute("select * from api.rotate_key()")
    blocker = connect()
    blocker.execute("lock table key_logs in exclusive mode")  # holds the first batch mid-way
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "keys", "reencrypt", "--batch-size", "4"],
        cwd=ROOT,
        env={**os.environ, **cli_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    for _ in range(1000):
        waiting = one(
            db,
            "select count(*) from pg_stat_activity"
            " where application_name = 'strongroom-reencrypt' and wait_event_type = 'Lock'"
            " and datname = current_database()",  # the test server is shared with other tests' databases
        )[0]
        if waiting:
            break
        time.sleep(0.01)
    assert waiting == 1
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    blocker.rollback()
    assert process.returncode == 130
    assert "interrupted: 12 rows are still on old keys" in err
    assert rows_on(db, 1) == 12
    with caller(db, alice):
        assert one(db, "select content from api.get_entry(12)")[0] == "note 11"
    assert main(["keys", "reencrypt"]) == 0
    assert rows_on(db, 1) == 0
