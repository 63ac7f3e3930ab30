"""An external server (DATABASE_URL): the README's login (CREATEROLE, CREATEDB, owner of the database)
migrates a fresh one; a server that logs statement parameters (which carry the master key and passwords)
makes `strongroom db migrate` and `strongroom serve` warn, naming the setting to change; one that does not
(like the embedded server) gets no warning."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from api.postgres.embedded import EmbeddedServer, default_bindir
from api.testing.plugin import free_port
from tests.api.conftest import serve_env


def log_parameters(db: psycopg.Connection) -> None:
    """What a DBA chasing slow queries does: log every statement, and parameters in full (the defaults)."""
    name = sql.Identifier(db.info.dbname)
    db.execute(sql.SQL("alter database {} set log_min_duration_statement = 0").format(name))
    db.execute(sql.SQL("alter database {} set log_parameter_max_length = -1").format(name))
    db.execute(sql.SQL("alter database {} set log_parameter_max_length_on_error = -1").format(name))


def migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", "db", "migrate"], env=env, capture_output=True,
                          text=True, timeout=300)


def test_migrate_warns_naming_the_settings_when_the_server_logs_parameters(db, api_settings, api_secrets):
    log_parameters(db)

    result = migrate(serve_env(api_settings, api_secrets))

    assert result.returncode == 0, result.stderr
    assert "log_min_duration_statement = 0" in result.stderr
    assert "set log_parameter_max_length = 0" in result.stderr
    assert "set log_parameter_max_length_on_error = 0" in result.stderr


def test_migrate_gives_no_warning_when_parameters_are_not_logged(db, api_settings, api_secrets):
    result = migrate(serve_env(api_settings, api_secrets))

    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


def test_serve_warns_naming_the_setting_when_the_server_logs_parameters(db, api_settings, api_secrets):
    log_parameters(db)
    serve = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(free_port()), "--workers", "1"],
                             env=serve_env(api_settings, api_secrets), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and serve.stderr is not None:
            line = serve.stderr.readline()
            lines.append(line)
            if "set log_parameter_max_length = 0" in line or not line:
                break
    finally:
        serve.terminate()
        serve.wait(30)

    assert any("warning" in line and "set log_parameter_max_length = 0" in line for line in lines), lines


def test_a_login_with_createrole_and_createdb_migrates_a_fresh_external_server(tmp_path):
    """The README's set-up of an external server: one login (not a superuser) with CREATEROLE and CREATEDB
    that owns the database. A fresh cluster, so that the roles do not exist yet, as on a new server."""
    server = EmbeddedServer(home=Path(tempfile.mkdtemp(prefix="strongroom-external-")), port=free_port(),
                            bindir=default_bindir(), database="postgres")
    try:
        server.start()
        with psycopg.connect(server.dsn("postgres"), autocommit=True) as admin:
            admin.execute("create role strongroom_migrator login createrole createdb password 'migrator-pw-1'")
            admin.execute("create database strongroom owner strongroom_migrator")
        url = f"postgresql://strongroom_migrator:migrator-pw-1@127.0.0.1:{server.port}/strongroom"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
        env.update(DATABASE_URL=url, STRONGROOM_HOME=str(tmp_path / "home"))

        result = migrate(env)

        assert result.returncode == 0, result.stderr
        with psycopg.connect(url) as conn:
            assert conn.execute("select to_regproc('api.create_order') is not null").fetchone() == (True,)
    finally:
        server.remove()
        shutil.rmtree(server.home, ignore_errors=True)
