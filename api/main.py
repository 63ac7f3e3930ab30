"""The FastAPI application: validate, call one SQL function, map the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.db import make_pool
from api.migrate import code_files, migration_ids, sha256
from api.settings import get_settings

# What an un-migrated database answers when asked for api.installed_code().
NOT_MIGRATED = (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName,
                psycopg.errors.InsufficientPrivilege)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    settings.require_secrets()
    pool = make_pool(settings)
    await pool.open(wait=False)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(
    title="Strongroom",
    summary="A secure data-entry system whose logic lives in PostgreSQL.",
    version="0.1.0",
    lifespan=lifespan,
)


@app.get("/health", tags=["operations"], summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/ready", tags=["operations"], summary="Readiness: the database answers and its code is current",
         responses={503: {"description": "Not ready; the reason is in the body"}})
async def ready(request: Request) -> JSONResponse:
    try:
        async with request.app.state.pool.connection(timeout=5) as conn:
            version = (await (await conn.execute("show server_version")).fetchone())[0]
            rows = await (await conn.execute("select kind, name, sha256 from api.installed_code()")).fetchall()
    except (psycopg.Error, TimeoutError) as error:
        not_migrated = isinstance(error, NOT_MIGRATED)
        reason = "database not migrated: run `strongroom db migrate`" if not_migrated else "database unreachable"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    code = {name: digest for kind, name, digest in rows if kind == "code"}
    applied = {name for kind, name, _ in rows if kind == "migration"}
    stale = [p.name for p in code_files() if code.get(p.name) != sha256(p)]
    stale += [m for m in migration_ids() if m not in applied]
    if stale:
        return JSONResponse(
            {"status": "unavailable", "reason": "migrations not current: run `strongroom db migrate`",
             "stale": stale}, status_code=503)
    return JSONResponse({"status": "ready", "postgresql": version})
