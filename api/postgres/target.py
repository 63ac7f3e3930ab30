"""Which PostgreSQL server the programs talk to, and as whom: the embedded one, or the one `DATABASE_URL` names.

Computing where the embedded server listens needs only the settings, not its launcher (`embedded.py`): the
API resolves its DSN here without importing the code that starts and stops PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psycopg import conninfo

from api.settings import Settings

SUPERUSER = "postgres"
AUTHENTICATOR = "strongroom_authenticator"


def socket_dir(home: Path) -> Path:
    """Where the embedded server's unix socket lives (mode 0700; trust authentication)."""
    return home / "run"


def socket_dsn(home: Path, port: int, dbname: str, user: str = SUPERUSER) -> str:
    """A libpq DSN over the embedded server's unix socket: what `psql` and our own tools use."""
    return conninfo.make_conninfo(host=str(socket_dir(home)), port=str(port), user=user, dbname=dbname)


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
    home, port, dbname = settings.home, settings.pg_port, settings.database
    return Target(admin_dsn=socket_dsn(home, port, dbname), api_dsn=socket_dsn(home, port, dbname, AUTHENTICATOR),
                  embedded=True)
