"""The API's connection pool (the authenticator role), and `connection()`, the one way code takes from it."""

from __future__ import annotations

import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.postgres.target import resolve
from api.settings import Settings


def make_pool(settings: Settings) -> AsyncConnectionPool:
    target = resolve(settings)
    timeouts = ("-c timezone=UTC"
                f" -c statement_timeout={settings.statement_timeout_ms}"
                f" -c lock_timeout={settings.statement_timeout_ms}"
                f" -c idle_in_transaction_session_timeout={settings.statement_timeout_ms * 2}")
    return AsyncConnectionPool(
        target.api_dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        open=False,
        timeout=settings.pool_timeout_seconds,
        # No `check=`: the pool's own check is a round trip on every checkout, and after a failed check it
        # sleeps (1 s, 2 s, ...) before trying the next connection. `connection()` below checks for free.
        # The pool retries a lost connection about once a second and gives up after this long; a request
        # that then finds the pool short starts a new attempt at once, so a long outage heals as fast as a
        # short one (see the README's "When PostgreSQL restarts").
        reconnect_timeout=settings.pool_timeout_seconds,
        # Autocommit: a call with a caller is one statement, its own transaction (api/http/calls.py); the
        # calls that need more open an explicit one (conn.transaction() sends BEGIN and COMMIT).
        kwargs={"application_name": "strongroom-api", "options": timeouts, "autocommit": True},
    )


def _hung_up(conn: AsyncConnection[Any]) -> bool:
    """Whether an idle connection has something to read: a server that shut down or crashed has sent its
    FATAL message or closed the socket. A system call, no round trip; an idle, healthy one has nothing."""
    if conn.closed:
        return True
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    return bool(readable)


@asynccontextmanager
async def connection(pool: AsyncConnectionPool, timeout: float | None = None) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection that has not been hung up on.

    A connection the server hung up on (a restart, a crash) is closed and handed back, which makes the
    pool replace it, and the next one is tried at once; the rare idle connection with something else to
    read (a notice) gets the pool's real check before it is used.
    """
    for _ in range(pool.max_size + 1):
        conn = await pool.getconn(timeout)
        if _hung_up(conn):
            try:
                await AsyncConnectionPool.check_connection(conn)
            except psycopg.Error:
                await conn.close()
                await pool.putconn(conn)
                continue
        try:
            async with conn:  # as the pool's own connection(): commit on success, roll back on an error
                yield conn
        finally:
            await pool.putconn(conn)
        return
    raise PoolTimeout("every pooled connection was lost; new ones are on their way")
