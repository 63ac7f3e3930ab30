"""Which PostgreSQL server the commands talk to: the embedded one, or the one `DATABASE_URL` names."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import conninfo

from api.postgres.embedded import EmbeddedServer, default_bindir
from api.settings import Settings

AUTHENTICATOR = "strongroom_authenticator"


@dataclass(frozen=True)
class Target:
    """Where to connect, and as whom."""

    admin_dsn: str
    """Runs migrations and DBA tools (the embedded superuser, or DATABASE_URL's user)."""
    api_dsn: str
    """What the API logs in as: the authenticator role, which can only switch to caller roles."""
    embedded: EmbeddedServer | None


def embedded_server(settings: Settings) -> EmbeddedServer:
    return EmbeddedServer(
        home=settings.home,
        port=settings.pg_port,
        bindir=settings.pg_bindir or default_bindir(),
        run_as=settings.pg_user,
        database=settings.database,
    )


def resolve(settings: Settings) -> Target:
    if settings.database_url:
        api = settings.api_database_url or settings.database_url
        return Target(admin_dsn=settings.database_url, api_dsn=api, embedded=None)
    server = embedded_server(settings)
    return Target(admin_dsn=server.dsn(), api_dsn=server.dsn(user=AUTHENTICATOR), embedded=server)


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    params = conninfo.conninfo_to_dict(dsn)
    if "password" in params:
        params["password"] = "********"  # noqa: S105 - the mask, not a password
    return conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
