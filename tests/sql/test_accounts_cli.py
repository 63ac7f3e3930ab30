"""`strongroom admin ...` run as a DBA runs it: a real process against the test database."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.sql.accounts_support import PASSWORD, PEPPER, login, register

ADMIN_PASSWORD = "a long and private admin phrase"


def strongroom(
    args: list[str],
    db_dsn: str,
    home: Path,
    stdin: int | None = subprocess.DEVNULL,
    extra_env: dict[str, str] | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update({"DATABASE_URL": db_dsn, "STRONGROOM_HOME": str(home), "STRONGROOM_PEPPER": PEPPER, **(extra_env or {})})
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )


def test_admin_create_reads_the_password_from_the_environment_without_a_terminal(db, db_dsn, tmp_path):
    done = strongroom(
        ["admin", "create", "first-admin", "--email", "ops@example.org"],
        db_dsn,
        tmp_path,
        extra_env={"STRONGROOM_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )
    assert done.returncode == 0, done.stderr
    assert "created administrator first-admin" in done.stdout
    assert ADMIN_PASSWORD not in done.stdout + done.stderr
    assert login(db, "first-admin", ADMIN_PASSWORD)["role"] == "admin"


def on_a_terminal(args: list[str], db_dsn: str, home: Path, answers: list[tuple[str, str]]) -> tuple[int, str]:
    """Run a command whose stdin is a terminal, typing each answer once its prompt appears.

    getpass flushes pending input when it turns echo off, then prompts: each answer waits for its prompt.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update({"DATABASE_URL": db_dsn, "STRONGROOM_HOME": str(home), "STRONGROOM_PEPPER": PEPPER})
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(terminal)
    assert process.stderr is not None and process.stdout is not None
    seen = b""
    deadline = time.monotonic() + 60
    try:
        for prompt, answer in answers:
            while prompt.encode() not in seen:
                ready, _, _ = select.select([process.stderr], [], [], max(0.0, deadline - time.monotonic()))
                assert ready, f"no prompt {prompt!r}; saw {seen!r}"
                chunk = os.read(process.stderr.fileno(), 4096)
                assert chunk, f"the command ended before {prompt!r}; saw {seen!r}"
                seen += chunk
            seen = seen.split(prompt.encode(), 1)[1]
            os.write(controller, f"{answer}\n".encode())
        _, err = process.communicate(timeout=60)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, (seen + err).decode()


def test_admin_create_asks_twice_on_a_terminal(db, db_dsn, tmp_path):
    code, err = on_a_terminal(
        ["admin", "create", "first-admin"],
        db_dsn,
        tmp_path,
        [("new administrator: ", ADMIN_PASSWORD), ("Repeat the password: ", ADMIN_PASSWORD)],
    )
    assert code == 0, err
    assert login(db, "first-admin", ADMIN_PASSWORD)["role"] == "admin"


def test_admin_create_refuses_two_different_passwords_on_a_terminal(db, db_dsn, tmp_path):
    code, err = on_a_terminal(
        ["admin", "create", "first-admin"],
        db_dsn,
        tmp_path,
        [("new administrator: ", ADMIN_PASSWORD), ("Repeat the password: ", "different")],
    )
    assert code == 1
    assert "the two passwords differ" in err
    assert db.execute("select count(*) from public.users").fetchone() == (0,)


def test_admin_create_without_terminal_or_variable_says_what_to_set(db, db_dsn, tmp_path):
    done = strongroom(["admin", "create", "first-admin"], db_dsn, tmp_path)
    assert done.returncode == 1
    assert "STRONGROOM_ADMIN_PASSWORD" in done.stderr


def test_admin_create_applies_the_password_policy_in_one_line(db, db_dsn, tmp_path):
    done = strongroom(
        ["admin", "create", "first-admin"], db_dsn, tmp_path, extra_env={"STRONGROOM_ADMIN_PASSWORD": "short"}
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "too short" in done.stderr


def test_admin_unlock_disable_enable_and_set_role_by_username(db, db_dsn, tmp_path):
    db.execute("select private.set_auth_settings(p_lockout_threshold => 1)")
    user_id = register(db, "alice")
    assert login(db, "alice", "wrong wrong wrong")["status"] == "locked"
    assert strongroom(["admin", "unlock", "ALICE"], db_dsn, tmp_path).returncode == 0
    assert login(db, "alice", PASSWORD)["status"] == "ok"
    assert strongroom(["admin", "disable", "alice"], db_dsn, tmp_path).returncode == 0
    assert login(db, "alice", PASSWORD)["status"] == "disabled"
    assert strongroom(["admin", "enable", "alice"], db_dsn, tmp_path).returncode == 0
    assert strongroom(["admin", "set-role", "alice", "auditor"], db_dsn, tmp_path).returncode == 0
    assert db.execute("select role, is_active from public.users where id = %s", [user_id]).fetchone() == (
        "auditor",
        True,
    )
    listing = strongroom(["admin", "list"], db_dsn, tmp_path)
    assert "alice" in listing.stdout and "auditor" in listing.stdout


def test_admin_commands_name_an_unknown_user(db, db_dsn, tmp_path):
    done = strongroom(["admin", "unlock", "nobody-here"], db_dsn, tmp_path)
    assert done.returncode == 1
    assert "no user named nobody-here" in done.stderr


def test_the_last_admin_locked_until_unlocked_is_listed_so_and_recovered_by_admin_unlock(db, db_dsn, tmp_path):
    db.execute("select private.set_auth_settings(p_lockout_threshold => 1000, p_lockout_hard_limit => 2)")
    root = register(db, "root")
    db.execute("update public.users set role = 'admin' where id = %s", [root])
    assert [login(db, "root", "wrong wrong wrong")["status"] for _ in range(2)] == ["bad_credentials", "locked"]
    assert login(db, "root", PASSWORD)["status"] == "locked"
    assert "locked until unlocked" in strongroom(["admin", "list"], db_dsn, tmp_path).stdout

    assert strongroom(["admin", "unlock", "root"], db_dsn, tmp_path).returncode == 0

    assert login(db, "root", PASSWORD)["status"] == "ok"
