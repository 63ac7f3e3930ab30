"""The one way a request reaches PostgreSQL (through the pool of api/http/pool.py).

A call with a caller is one statement, `select * from request.<name>(context..., arguments...)`, prepared,
on a connection in autocommit: one round trip. request.<name> (sql/92_request.sql) runs
`api.begin_request(...)` (switches to the caller's role, refuses a stale token), sets the master key only
for calls that decrypt or encrypt and `transaction_read_only` for reads that write no log row, then calls
api.<name> in the caller's role. PostgreSQL commits the statement's transaction before it reports the
statement complete, and psycopg reads every result up to then, so a failed commit reaches the route as an
error, never as rows of lost work. Serialization failures and deadlocks re-run the call a bounded number
of times (the failed attempt was rolled back whole).

Calls without a caller (register, login, refresh) and creates with an Idempotency-Key are one explicit
transaction: BEGIN, `api.begin_anonymous_request(...)` or `api.begin_request(...)` with the settings, the
work, COMMIT, pipelined so that the rows are read only after the COMMIT is queued (one round trip; the
Idempotency-Key path takes two: it decides on the claim's answer). The COMMIT has succeeded before a route
returns. Secrets (the master key, passwords) only ever travel as bound parameters, never in statement text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg
import psycopg.errors
from psycopg import AsyncConnection, AsyncCursor, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from api.http.errors import Problem
from api.http.pool import connection
from api.http.security import Caller
from api.settings import Settings

RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)

CONTEXT = (
    "select api.begin_request(%s, %s, %s, %s, %s::inet, %s::uuid, %s),"
    " pg_catalog.set_config('strongroom.master_key', %s, true),"
    " pg_catalog.set_config('transaction_read_only', %s, true)"
)
ANONYMOUS_CONTEXT = (
    "select api.begin_anonymous_request(%s, %s::inet, %s),"
    " pg_catalog.set_config('strongroom.master_key', %s, true),"
    " pg_catalog.set_config('transaction_read_only', %s, true)"
)
CLAIM = "select state, status, response from api.claim_idempotency_key(%s, %s, %s::interval)"
SAVE = "select api.save_idempotent_response(%s, %s, %s::jsonb)"


# The arguments of every request.<name> before the function's own (sql/92_request.sql).
REQUEST_CONTEXT = 9


@cache
def call_sql(function: str, nargs: int) -> str:
    """`select * from schema.fn(%s, ...)`; the name is always a literal of our code, never input. Rendered
    once: psycopg would compose it again on every execute."""
    schema, name = function.split(".")
    placeholders = sql.SQL(", ").join([sql.Placeholder()] * nargs)
    return sql.SQL("select * from {}.{}({})").format(sql.Identifier(schema), sql.Identifier(name),
                                                      placeholders).as_string()


@cache
def request_sql(function: str, nargs: int) -> str:
    """`select * from request.fn(%s, ...)`: the one statement of a call of api.fn with a caller."""
    schema, name = function.split(".")
    if schema != "api":
        raise ValueError(f"{function}: a caller calls api functions only")
    return call_sql(f"request.{name}", REQUEST_CONTEXT + nargs)


@dataclass
class RequestInfo:
    request_id: str
    client_addr: str | None
    client_request_id: str | None = None


Work = Callable[[AsyncConnection[Any]], Awaitable[Any]]


class Db:
    """What a route talks to: the pool, the caller (if any) and the request's id and address."""

    def __init__(self, pool: AsyncConnectionPool, settings: Settings, caller: Caller | None,
                 info: RequestInfo) -> None:
        self.pool = pool
        self.settings = settings
        self.caller = caller
        self.info = info

    def _key(self, crypto: bool) -> str:
        return self.settings.master_key.get_secret_value() if crypto and self.settings.master_key else ""

    def _context(self, read_only: bool, crypto: bool) -> tuple[str, list[Any]]:
        """The context statement of an explicit transaction, and its parameters."""
        key, flag, info = self._key(crypto), "on" if read_only else "off", self.info
        if self.caller is None:
            return ANONYMOUS_CONTEXT, [info.request_id, info.client_addr, info.client_request_id, key, flag]
        c = self.caller
        return CONTEXT, [c.user_id, c.role, c.token_version, info.request_id, info.client_addr, c.session_id,
                         info.client_request_id, key, flag]

    def request_params(self, read_only: bool, crypto: bool) -> list[Any]:
        """The REQUEST_CONTEXT first arguments of request.<name>: the caller, the request, the settings."""
        c, info = self.caller, self.info
        assert c is not None
        return [c.user_id, c.role, c.token_version, info.request_id, info.client_addr, c.session_id,
                info.client_request_id, self._key(crypto), read_only]

    async def _retrying[T](self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()`, again after a serialization failure or a deadlock (which rolled it back), a bounded
        number of times with a little jitter."""
        attempts = self.settings.transaction_retries + 1
        for n in range(attempts):
            try:
                return await attempt()
            except RETRYABLE:
                if n == attempts - 1:
                    raise
                await asyncio.sleep(random.uniform(0.005, 0.02) * (n + 1))  # noqa: S311 - jitter, not a secret
        raise AssertionError("unreachable")

    async def transaction(self, work: Work, *, read_only: bool, crypto: bool) -> Any:
        """Run `work` in one committed transaction with the request context set; retry what may be retried."""
        query, params = self._context(read_only, crypto)

        async def attempt() -> Any:
            async with connection(self.pool) as conn:
                async with conn.pipeline(), conn.transaction():
                    await conn.execute(query, params)
                    result = await work(conn)
                # Leaving the pipeline block has synced the COMMIT: it succeeded.
                return result

        return await self._retrying(attempt)

    async def call_all(self, function: str, *args: Any, read_only: bool = True,
                       crypto: bool = False) -> list[dict[str, Any]]:
        """Every row the function returns."""
        if self.caller is not None:
            query, params = request_sql(function, len(args)), [*self.request_params(read_only, crypto), *args]

            async def attempt() -> list[dict[str, Any]]:
                async with connection(self.pool) as conn:
                    cur = conn.cursor(row_factory=dict_row)
                    await cur.execute(query, params)  # autocommit: it has committed once it returns
                    return await cur.fetchall()

            return await self._retrying(attempt)

        async def work(conn: AsyncConnection[Any]) -> AsyncCursor[Any, dict[str, Any]]:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(call_sql(function, len(args)), args)
            return cur  # not fetched here: fetching would sync the pipeline before the COMMIT is queued

        cur: AsyncCursor[Any, dict[str, Any]] = await self.transaction(work, read_only=read_only, crypto=crypto)
        return await cur.fetchall()  # the COMMIT's sync brought the rows with it

    async def call_found(self, function: str, *args: Any, read_only: bool = False,
                         crypto: bool = False) -> list[dict[str, Any]]:
        """The function's rows for one object; no row is a 404 (the SQL decided the caller may not see it).

        Read-write by default even for a read: a function that refuses an object logs the refusal, and
        that row must commit with the request (a read-only transaction could not write it).
        """
        rows = await self.call_all(function, *args, read_only=read_only, crypto=crypto)
        if not rows:
            raise Problem(404, "not_found", "Not found.")
        return rows

    async def call_one(self, function: str, *args: Any, read_only: bool = False,
                       crypto: bool = False) -> dict[str, Any]:
        """The function's one row; no row is a 404 (see call_found)."""
        return (await self.call_found(function, *args, read_only=read_only, crypto=crypto))[0]

    async def create[M: BaseModel](self, model: type[M], key: str | None, function: str, *args: Any,
                                   crypto: bool = False) -> M:
        """Call a function that creates something, at most once per Idempotency-Key.

        The key is claimed in the same transaction as the write and the answer stored with it, so a retry
        gets the first answer and creates nothing; the stored answer is the response model (no secret).
        """
        if key is None:
            return model.model_validate(await self.call_one(function, *args, crypto=crypto))
        fingerprint = hashlib.sha256(json.dumps([function, *args], default=str).encode()).digest()
        ttl = f"{self.settings.idempotency_hours} hours"

        async def work(conn: AsyncConnection[Any]) -> M:
            claim = await conn.execute(CLAIM, [key, fingerprint, ttl])
            state, _status, response = await claim.fetchone() or (None, None, None)
            if state == "replay":
                return model.model_validate(response)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(call_sql(function, len(args)), args)
            row = await cur.fetchone()
            if row is None:
                raise Problem(404, "not_found", "Not found.")
            answer = model.model_validate(row)
            await conn.execute(SAVE, [key, 201, answer.model_dump_json()])
            return answer

        result: M = await self.transaction(work, read_only=False, crypto=crypto)
        return result
