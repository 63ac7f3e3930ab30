"""The API's background work: every few seconds, hand the buffered API-call records to the audit log, seal
the audit logs and purge expired sessions. Requests never wait for it; a failure is logged and tried again.

The buffer (`app.state.calls`) is filled by the edge middleware, one record per routed request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from fastapi import FastAPI
from psycopg.types.json import Jsonb

from api.http.pool import connection

log = logging.getLogger("strongroom.api")

# The housekeeping calls, run when the database has them (the audit area may be absent on old databases).
PERIODIC = ["audit.record_api_calls(jsonb)", "audit.seal()", "api.purge_expired_sessions()"]
BATCH = 1000
BUFFERED = 20_000  # API-call records waiting for the audit log; the oldest are dropped beyond this


def call_buffer() -> deque[dict[str, Any]]:
    return deque(maxlen=BUFFERED)


async def present_calls(pool: Any) -> tuple[str, ...]:
    """The housekeeping functions this database has."""
    async with connection(pool) as conn:
        present = await (await conn.execute(
            "select p from unnest(%s::text[]) p where to_regprocedure(p) is not null", [PERIODIC])).fetchall()
    return tuple(p.split("(")[0] for (p,) in present)


async def _record(app: FastAPI, batch: list[dict[str, Any]]) -> None:
    async with connection(app.state.pool) as conn:
        await conn.execute("select audit.record_api_calls(%s)", [Jsonb(batch)])


async def flush_calls(app: FastAPI) -> None:
    """Hand the buffered API-call records to the audit log, in batches of at most BATCH.

    A batch leaves the buffer only once the database has it: when the call fails (database down, pool
    exhausted, a privilege missing) the batch goes back to the front and the error propagates, to be
    tried again next time. A batch the database refuses as data is written record by record, so one bad
    record cannot hold back the others; only that record is dropped, with a warning.
    """
    calls: deque[dict[str, Any]] = app.state.calls
    if len(calls) == calls.maxlen:
        log.warning("API-call buffer full: the oldest records are being dropped", extra={"kept": calls.maxlen})
    while calls:
        batch = [calls.popleft() for _ in range(min(len(calls), BATCH))]
        try:
            await _record(app, batch)
        except psycopg.errors.DataError:
            for record in batch:
                try:
                    await _record(app, [record])
                except psycopg.errors.DataError:
                    log.warning("API-call record refused by the database; dropped",
                                extra={"route": record.get("route"), "request_id": record.get("request_id")})
        except BaseException:
            calls.extendleft(reversed(batch))
            raise


async def _every(app: FastAPI, seconds: float) -> None:
    """For as long as the app runs: each housekeeping call in turn, then sleep."""
    while True:
        await asyncio.sleep(seconds)
        if "audit.record_api_calls" not in app.state.periodic:
            app.state.calls.clear()  # a database without the audit area: nothing to send them to
        for name in app.state.periodic:
            try:
                if name == "audit.record_api_calls":
                    await flush_calls(app)
                else:
                    async with connection(app.state.pool) as conn:
                        await conn.execute(f"select {name}()")
            except (psycopg.Error, TimeoutError) as error:
                log.warning("housekeeping failed", extra={"call": name, "error": type(error).__name__,
                                                         "sqlstate": getattr(error, "sqlstate", None)})


@contextlib.asynccontextmanager
async def running(app: FastAPI, every: float, shutdown_timeout: float) -> AsyncIterator[None]:
    """Run the housekeeping task while the block runs; at the end, flush the last calls so that a restart
    loses none, bounded so that a dead database cannot hold the shutdown up."""
    task = asyncio.create_task(_every(app, every))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await asyncio.wait_for(flush_calls(app), timeout=shutdown_timeout)
        except (psycopg.Error, TimeoutError) as error:
            log.warning("API-call records lost at shutdown", extra={"lost": len(app.state.calls),
                                                                   "error": type(error).__name__})
