"""`/health` (the process answers) and `/ready` (the database answers, its code is the code we ship, and
the master key is the one its data keys are wrapped with)."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.http.errors import recent_resource_error
from api.http.pool import connection
from api.postgres.migrate import code_files, migration_ids, sha256

router = APIRouter(tags=["operations"])

# What an un-migrated database answers when asked for api.installed_code().
NOT_MIGRATED = (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName,
                psycopg.errors.InsufficientPrivilege)


# One line for the operator, naming the setting and never the key: `strongroom serve` refuses to start with
# it, /ready answers it while it holds (e.g. after a re-wrap under another master key while we run).
WRONG_MASTER_KEY = ("STRONGROOM_MASTER_KEY does not match the active data key's check value: it is not the master "
                    "key this database's data keys are wrapped with, so no encrypted field can be read or written")
MASTER_KEY_MATCHES = "select api.master_key_matches(%s)"


def _unavailable(body: dict[str, object]) -> JSONResponse:
    return JSONResponse({"status": "unavailable", **body}, status_code=503, headers={"Retry-After": "5"})


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the database answers, its code is current, the master key is right",
            responses={503: {"description": "Not ready; the reason is in the body"}})
async def ready(request: Request) -> JSONResponse:
    key = request.app.state.settings.master_key
    try:
        async with connection(request.app.state.pool, timeout=5) as conn:
            version = (await (await conn.execute("show server_version")).fetchone())[0]
            rows = await (await conn.execute("select kind, name, sha256 from api.installed_code()")).fetchall()
            stale = _stale(rows)
            matches = None
            if not stale:  # the function is there only in current code
                answer = await (await conn.execute(MASTER_KEY_MATCHES,
                                                   [key.get_secret_value() if key else ""])).fetchone()
                matches = answer[0] if answer else None
    except (psycopg.Error, TimeoutError) as error:
        not_migrated = isinstance(error, NOT_MIGRATED)
        return _unavailable({"reason": "database not migrated: run `strongroom db migrate`" if not_migrated
                             else "database unreachable"})
    if stale:
        return _unavailable({"reason": "migrations not current: run `strongroom db migrate`", "stale": stale})
    if matches is False:  # None: no active key yet, nothing to check against
        return _unavailable({"reason": WRONG_MASTER_KEY})
    resource = recent_resource_error(request.app)
    if resource is not None:  # the database answers, but a write just failed for want of disk (or memory)
        return _unavailable({"reason": f"the database server ran out of a resource ({resource['code']}, "
                                       f"SQLSTATE {resource['sqlstate']}): an operator must act", **resource})
    return JSONResponse({"status": "ready", "postgresql": version})


def _stale(installed: list[Any]) -> list[str]:
    """The code files and migrations of this version the database does not have as they are."""
    code = {name: digest for kind, name, digest in installed if kind == "code"}
    applied = {name for kind, name, _ in installed if kind == "migration"}
    stale = [p.name for p in code_files() if code.get(p.name) != sha256(p)]
    return stale + [m for m in migration_ids() if m not in applied]
