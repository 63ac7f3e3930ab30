"""The API's connection pool: the authenticator role, one pool per process."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from api.database import resolve
from api.settings import Settings


def make_pool(settings: Settings) -> AsyncConnectionPool:
    target = resolve(settings)
    return AsyncConnectionPool(
        target.api_dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        open=False,
        # A connection that died with a database restart is replaced before a request gets it.
        check=AsyncConnectionPool.check_connection,
        kwargs={"application_name": "strongroom-api"},
    )
