"""Which PostgreSQL server the programs talk to, and as whom: the embedded one, or the one `DATABASE_URL` names.

Computing where the embedded server listens needs only the settings, not its launcher (`embedded.py`): the
API resolves its DSN here without importing the code that starts and stops PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from psycopg import conninfo

from api.settings import Settings

SUPERUSER = "postgres"
AUTHENTICATOR = "strongroom_authenticator"
DEFAULT_PG_ROOT = Path("/var/lib/strongroom")


def instance_key(home: Path) -> str:
    """A short, stable, readable name for the instance whose settings live in `home`."""
    label = home.name.lstrip(".") or "home"
    if label == "strongroom" and home.parent.name:
        label = home.parent.name.lstrip(".") or label
    label = re.sub(r"[^A-Za-z0-9_-]", "-", label)[:24]
    return f"{label}-{hashlib.sha256(str(home).encode()).hexdigest()[:10]}"


def cluster_root(home: Path, pg_root: Path = DEFAULT_PG_ROOT) -> Path:
    """The folder holding the embedded cluster (`pgdata/`) and its socket (`run/`). Run by an ordinary
    user: the home. Run by root, PostgreSQL runs as an unprivileged user that usually cannot enter the home
    (`/root`, `mktemp -d` folders are 0700), so: `pg_root/<instance-key>/`, unless a cluster that an older
    release made is already in the home."""
    if os.geteuid() != 0 or (home / "pgdata" / "PG_VERSION").exists():
        return home
    return pg_root / instance_key(home.absolute())


def socket_dir(home: Path, pg_root: Path = DEFAULT_PG_ROOT) -> Path:
    """Where the embedded server's unix socket lives (mode 0700; trust authentication)."""
    return cluster_root(home, pg_root) / "run"


def socket_dsn(home: Path, port: int, dbname: str, user: str = SUPERUSER, pg_root: Path = DEFAULT_PG_ROOT) -> str:
    """A libpq DSN over the embedded server's unix socket: what `psql` and our own tools use."""
    return conninfo.make_conninfo(host=str(socket_dir(home, pg_root)), port=str(port), user=user, dbname=dbname)


@dataclass(frozen=True)
class Target:
    """Where to connect, and as whom."""

    admin_dsn: str
    """Runs migrations and DBA tools (the embedded superuser, or DATABASE_URL's user)."""
    api_dsn: str
    """What the API logs in as: the authenticator role, which can only switch to caller roles."""
    embedded: bool
    """True for the embedded server (`api.postgres.embedded.embedded_server` starts and stops it)."""


def resolve(settings: Settings) -> Target:
    if settings.database_url:
        api = settings.api_database_url or settings.database_url
        return Target(admin_dsn=settings.database_url, api_dsn=api, embedded=False)
    home, port, dbname, root = settings.home, settings.pg_port, settings.database, settings.pg_root
    return Target(admin_dsn=socket_dsn(home, port, dbname, pg_root=root),
                  api_dsn=socket_dsn(home, port, dbname, AUTHENTICATOR, pg_root=root), embedded=True)


# The server settings that write statement parameters (the master key, passwords) to the server's log.
_PARAMETER_LOGGING = """
select name, setting from pg_catalog.pg_settings
where name in ('log_parameter_max_length', 'log_parameter_max_length_on_error', 'log_statement',
               'log_min_duration_statement')
"""


def parameter_logging_warnings(dsn: str) -> list[str]:
    """Why the server behind `dsn`, as this login sees it (role and database settings included), would write
    statement parameters to its log, one sentence per cause naming the setting to change; empty when it
    would not. The embedded server sets both lengths to 0; an external one usually logs them in full (-1)
    as soon as statements are logged."""
    import psycopg

    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        settings = dict(conn.execute(_PARAMETER_LOGGING).fetchall())
    found = []
    why = "statement parameters carry the master key and passwords"
    if settings.get("log_parameter_max_length_on_error", "0") != "0":
        found.append(f"this PostgreSQL server logs the parameters of failing statements "
                     f"(log_parameter_max_length_on_error = {settings['log_parameter_max_length_on_error']}); "
                     f"{why}: set log_parameter_max_length_on_error = 0")
    logged = [f"{name} = {settings[name]}" for name, off in (("log_statement", "none"),
                                                              ("log_min_duration_statement", "-1"))
              if settings.get(name, off) not in (off, "ddl")]
    if logged and settings.get("log_parameter_max_length", "0") != "0":
        found.append(f"this PostgreSQL server logs statements with their parameters ({', '.join(logged)}, "
                     f"log_parameter_max_length = {settings["log_parameter_max_length"]}); {why}: set "
                     "log_parameter_max_length = 0")
    return found
