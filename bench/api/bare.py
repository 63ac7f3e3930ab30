"""The baselines of bench/api, served by uvicorn as the API is.

`app`: a bare FastAPI app with one empty route. With BENCH_STATEMENTS set (a JSON object: name -> [statement,
parameters]) and BENCH_DATABASE_URL, it also answers /sql/<name> by running that statement with psycopg's
async pool (autocommit, prepared) and returning its rows as FastAPI returns any list of dicts: what the
least FastAPI app that runs the API's SQL for a route costs, with no token, no context, no headers, no
validation and no log. No API built on FastAPI and psycopg can beat it.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

STATEMENTS: dict[str, list[Any]] = json.loads(os.environ.get("BENCH_STATEMENTS", "{}"))
pool = (AsyncConnectionPool(os.environ["BENCH_DATABASE_URL"], min_size=2, max_size=10, open=False,
                            kwargs={"autocommit": True}) if STATEMENTS else None)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    if pool is None:
        yield
        return
    await pool.open()
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def empty() -> dict[str, str]:
    return {"status": "ok"}


@app.api_route("/sql/{name}", methods=["GET", "POST"])
async def run(name: str) -> list[dict[str, Any]]:
    assert pool is not None
    statement, params = STATEMENTS[name]
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(statement, params, prepare=True)
        return await cur.fetchall()
