"""`/health` (the process answers) and `/ready` (the database answers and its code is the code we ship)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.http.pool import connection
from api.postgres.migrate import code_files, migration_ids, sha256

router = APIRouter(tags=["operations"])

# What an un-migrated database answers when asked for api.installed_code().
NOT_MIGRATED = (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName,
                psycopg.errors.InsufficientPrivilege)


def _unavailable(body: dict[str, object]) -> JSONResponse:
    return JSONResponse({"status": "unavailable", **body}, status_code=503, headers={"Retry-After": "5"})


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the database answers and its code is current",
            responses={503: {"description": "Not ready; the reason is in the body"}})
async def ready(request: Request) -> JSONResponse:
    try:
        async with connection(request.app.state.pool, timeout=5) as conn:
            version = (await (await conn.execute("show server_version")).fetchone())[0]
            rows = await (await conn.execute("select kind, name, sha256 from api.installed_code()")).fetchall()
    except (psycopg.Error, TimeoutError) as error:
        not_migrated = isinstance(error, NOT_MIGRATED)
        return _unavailable({"reason": "database not migrated: run `strongroom db migrate`" if not_migrated
                             else "database unreachable"})
    code = {name: digest for kind, name, digest in rows if kind == "code"}
    applied = {name for kind, name, _ in rows if kind == "migration"}
    stale = [p.name for p in code_files() if code.get(p.name) != sha256(p)]
    stale += [m for m in migration_ids() if m not in applied]
    if stale:
        return _unavailable({"reason": "migrations not current: run `strongroom db migrate`", "stale": stale})
    return JSONResponse({"status": "ready", "postgresql": version})
