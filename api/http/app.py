"""The FastAPI application: validate, call one SQL function, map the answer.

`create_app(settings)` builds it (tests pass their own settings); `app` is what `strongroom serve` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from psycopg.types.json import Jsonb

from api.http import errors
from api.http.calls import make_pool
from api.http.edge import Edge, configure_logging, docs_csp
from api.http.routes import ROUTERS
from api.http.security import Tokens
from api.http.throttle import Throttle
from api.postgres.migrate import code_files, migration_ids, sha256
from api.settings import Settings, get_settings

log = logging.getLogger("strongroom.api")

# What an un-migrated database answers when asked for api.installed_code().
NOT_MIGRATED = (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName,
                psycopg.errors.InsufficientPrivilege)

TITLE = "Strongroom"
# The housekeeping calls, run when the database has them (the audit area may be absent on old databases).
PERIODIC = ["audit.record_api_calls(jsonb)", "audit.seal()", "api.purge_expired_sessions()"]


def _swagger_html() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{TITLE} API",
                               oauth2_redirect_url="/docs/oauth2-redirect",
                               swagger_ui_parameters={"persistAuthorization": False})


def _inline_script(html: HTMLResponse) -> str:
    found = re.findall(r"<script>(.*?)</script>", bytes(html.body).decode(), flags=re.S)
    return found[0] if found else ""


async def _record(app: FastAPI, batch: list[dict[str, Any]]) -> None:
    async with app.state.pool.connection() as conn:
        await conn.execute("select audit.record_api_calls(%s)", [Jsonb(batch)])


async def _flush_calls(app: FastAPI) -> None:
    """Hand the buffered API-call records to the audit log, in batches of at most 1000.

    A batch leaves the buffer only once the database has it: when the call fails (database down, pool
    exhausted, a privilege missing) the batch goes back to the front and the error propagates, to be
    tried again next time. A batch the database refuses as data is written record by record, so one bad
    record cannot hold back the others; only that record is dropped, with a warning.
    """
    calls: deque[dict[str, Any]] = app.state.calls
    if len(calls) == calls.maxlen:
        log.warning("API-call buffer full: the oldest records are being dropped", extra={"kept": calls.maxlen})
    while calls:
        batch = [calls.popleft() for _ in range(min(len(calls), 1000))]
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


async def _housekeeping(app: FastAPI, every: float) -> None:
    """Every few seconds, for as long as the app runs: record the API calls, seal the audit logs, purge
    expired sessions. A failure is logged and tried again next time; requests never wait for this."""
    while True:
        await asyncio.sleep(every)
        if "audit.record_api_calls" not in app.state.periodic:
            app.state.calls.clear()  # a database without the audit area: nothing to send them to
        for name in app.state.periodic:
            try:
                if name == "audit.record_api_calls":
                    await _flush_calls(app)
                else:
                    async with app.state.pool.connection() as conn:
                        await conn.execute(f"select {name}()")
            except (psycopg.Error, TimeoutError) as error:
                log.warning("housekeeping failed", extra={"call": name, "error": type(error).__name__,
                                                         "sqlstate": getattr(error, "sqlstate", None)})


async def _load_error_codes(app: FastAPI) -> None:
    try:
        async with app.state.pool.connection() as conn:
            rows = await (await conn.execute("select sqlstate, name, http_status from api.error_codes()")).fetchall()
            errors.load_codes(rows)
            present = await (await conn.execute(
                "select p from unnest(%s::text[]) p where to_regprocedure(p) is not null", [PERIODIC])).fetchall()
            app.state.periodic = tuple(p.split("(")[0] for (p,) in present)
    except (psycopg.Error, TimeoutError) as error:
        log.warning("could not load the error codes; using their classes", extra={"error": type(error).__name__})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.require_secrets()
        app.state.tokens = Tokens(settings)
        pool = make_pool(settings)
        await pool.open(wait=False)
        app.state.pool = pool
        app.state.periodic = ()
        await _load_error_codes(app)
        task = asyncio.create_task(_housekeeping(app, settings.audit_seal_seconds))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            # The last calls, so that a restart loses none; bounded, so a dead database cannot hold it up.
            try:
                await asyncio.wait_for(_flush_calls(app), timeout=settings.statement_timeout_ms / 1000)
            except (psycopg.Error, TimeoutError) as error:
                log.warning("API-call records lost at shutdown", extra={"lost": len(app.state.calls),
                                                                       "error": type(error).__name__})
            await pool.close()

    app = FastAPI(
        title=TITLE,
        summary="A secure data-entry system whose logic lives in PostgreSQL.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.throttle = Throttle(settings.login_rate_per_minute)
    errors.install(app)

    swagger = _swagger_html()
    redirect = get_swagger_ui_oauth2_redirect_html()
    policies = {"/docs": docs_csp(_inline_script(swagger)),
                "/docs/oauth2-redirect": docs_csp(_inline_script(redirect))}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return swagger

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def docs_redirect() -> HTMLResponse:
        return redirect

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
            return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503,
                                headers={"Retry-After": "5"})
        code = {name: digest for kind, name, digest in rows if kind == "code"}
        applied = {name for kind, name, _ in rows if kind == "migration"}
        stale = [p.name for p in code_files() if code.get(p.name) != sha256(p)]
        stale += [m for m in migration_ids() if m not in applied]
        if stale:
            return JSONResponse(
                {"status": "unavailable", "reason": "migrations not current: run `strongroom db migrate`",
                 "stale": stale}, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse({"status": "ready", "postgresql": version})

    for router in ROUTERS:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = errors.problem_schema()
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Retry-After"])
    app.state.calls = deque(maxlen=20_000)  # API-call records waiting for the audit log; oldest dropped
    app.add_middleware(Edge, settings=settings, docs_policy=policies, calls=app.state.calls)
    return app


configure_logging()
app = create_app()
