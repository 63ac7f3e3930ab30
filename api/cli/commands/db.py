"""`strongroom db ...`: the embedded PostgreSQL (or the one DATABASE_URL names) and migrations."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from api.cli.commands import command_group
from api.cli.errors import CommandFailed
from api.postgres import migrate as migrations
from api.postgres.embedded import EmbeddedServer, check_server, default_bindir, embedded_server
from api.postgres.target import Target, parameter_logging_warnings, resolve
from api.settings import Settings, get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    add = command_group(subparsers, "db", "run and migrate the database", __doc__)
    add("start", start, "initialise (first time) and start the embedded PostgreSQL; idempotent")
    add("stop", stop, "stop the embedded PostgreSQL")
    add("restart", restart, "stop, then start the embedded PostgreSQL")
    add("status", status, "say whether the database is running, its version, port and data directory")
    add("url", url, "print a DSN that psql accepts")
    sql = add("psql", psql, "open psql on the database (what DBAs use); every further argument goes to psql",
              description="Open the bundled psql on the database. Every argument after `psql` is psql's own, "
              "e.g. `strongroom db psql -c '\\dt'` or `strongroom db psql -f audit.sql`.")
    sql.set_defaults(pass_through=True)
    mig = add("migrate", migrate, "apply pending migrations, then re-apply the database code in sql/")
    mig.add_argument("--dry-run", action="store_true", help="list what would run and change nothing")
    mig.add_argument("--break-lock", action="store_true",
                     help="remove a stale migration lock left by a killed migrate, then migrate")


def _target() -> Target:
    return resolve(get_settings())


def _server() -> EmbeddedServer | None:
    return embedded_server(get_settings())


def _external(target: Target) -> str:
    return check_server(target.admin_dsn)


def _require_running() -> None:
    server = _server()
    if server is not None and not server.running():
        raise CommandFailed("the embedded PostgreSQL is not running: start it with `strongroom db start`")


def start(_: argparse.Namespace) -> None:
    print(start_database(get_settings()))


def start_database(settings: Settings) -> str:
    """Start the embedded server (initialising it the first time), or check DATABASE_URL's; one line back."""
    server = embedded_server(settings)
    if server is None:
        return f"DATABASE_URL is set: using that server ({_external(resolve(settings))}); nothing to start"
    return server.start()


def stop(_: argparse.Namespace) -> None:
    server = _server()
    if server is None:
        raise CommandFailed("DATABASE_URL is set: that server is not Strongroom's to stop")
    print(server.stop())


def restart(args: argparse.Namespace) -> None:
    stop(args)
    start(args)


def status(_: argparse.Namespace) -> int:
    server = _server()
    if server is None:
        print(f"running: yes (DATABASE_URL)\nversion: {_external(_target())}")
        return 0
    state = server.status()
    print(f"running: {'yes' if state.running else 'no'}")
    print(f"version: {state.version}")
    print(f"port: {state.port}")
    print(f"data directory: {state.datadir}")
    if state.pid:
        print(f"pid: {state.pid}")
    return 0 if state.running else 3


def url(_: argparse.Namespace) -> None:
    _require_running()
    print(_target().admin_dsn)


def psql_binary() -> str | None:
    """The psql that comes with the bundled PostgreSQL (it matches the server's tools), else the one on PATH."""
    server = _server()
    bindir = server.bindir if server else get_settings().pg_bindir or _bundled_bindir()
    bundled = bindir / "psql" if bindir else None
    return str(bundled) if bundled and bundled.exists() else shutil.which("psql")


def _bundled_bindir() -> Path | None:
    try:
        return default_bindir()
    except ImportError:  # no bundled binaries: psql from PATH
        return None


def psql(args: argparse.Namespace) -> None:
    target = _target()
    binary = psql_binary()
    if binary is None:
        raise CommandFailed("psql is not installed")
    # psql replaces this process, with the caller's arguments after the connection string.
    os.execv(binary, [binary, "--dbname", target.admin_dsn, *getattr(args, "extra", [])])  # noqa: S606


def migrate(args: argparse.Namespace) -> None:
    settings = get_settings()
    if args.dry_run:
        plan = migrations.plan(_running(settings).admin_dsn)
        if plan.nothing:
            print("nothing to do: the database is up to date")
        for name in plan.migrations:
            print(f"would apply migration {name}")
        for name in plan.code:
            print(f"would re-apply sql/{name}")
        return
    if args.break_lock:
        migrations.break_lock(_running(settings).admin_dsn)
        print("removed the migration lock")
    warn_parameter_logging(_running(settings).admin_dsn)
    done = migrate_database(settings)
    if done.nothing:
        print("nothing to do: the database is up to date")
    else:
        print(f"applied {len(done.migrations)} migration(s) and {len(done.code)} code file(s)")


def warn_parameter_logging(dsn: str) -> None:
    """One line on stderr per reason the server would log statement parameters (they carry secrets)."""
    for warning in parameter_logging_warnings(dsn):
        print(f"strongroom: warning: {warning}", file=sys.stderr)


def migrate_database(settings: Settings, say: Callable[[str], None] = print) -> migrations.Plan:
    """Roles, pending migrations, then the database code, on the server the settings name (which must run)."""
    target = _running(settings)
    # Without the master key, migrate still runs; it only cannot re-wrap data keys of an older format.
    master = settings.secret("STRONGROOM_MASTER_KEY") if settings.master_key else None
    return migrations.migrate(target.admin_dsn, master_key=master, say=say)


def _running(settings: Settings) -> Target:
    """The settings' server, refusing an embedded one that is not running or an external one that does not
    answer."""
    target = resolve(settings)
    server = embedded_server(settings)
    if server is None:
        _external(target)
    elif not server.running():
        raise CommandFailed("the embedded PostgreSQL is not running: start it with `strongroom db start`")
    return target
