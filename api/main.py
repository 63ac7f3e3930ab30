"""The FastAPI application: validate, call one SQL function, map the answer.

`create_app(settings)` builds it (tests pass their own settings); `app` is what `strongroom serve` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from api import errors
from api.db import make_pool
from api.edge import Edge, configure_logging, docs_csp
from api.migrate import code_files, migration_ids, sha256
from api.routes import ROUTERS
from api.security import Tokens
from api.settings import Settings, get_settings
from api.throttle import Throttle

log = logging.getLogger("strongroom.api")

# What an un-migrated database answers when asked for api.installed_code().
NOT_MIGRATED = (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName,
                psycopg.errors.InsufficientPrivilege)

TITLE = "Strongroom"


def _swagger_html() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{TITLE} API",
                               oauth2_redirect_url="/docs/oauth2-redirect",
                               swagger_ui_parameters={"persistAuthorization": False})


def _inline_script(html: HTMLResponse) -> str:
    found = re.findall(r"<script>(.*?)</script>", bytes(html.body).decode(), flags=re.S)
    return found[0] if found else ""


async def _housekeeping(app: FastAPI, every: float) -> None:
    """Seal the audit logs and purge expired sessions, every few seconds, for as long as the app runs."""
    calls = ("select api.purge_expired_sessions()",)
    while True:
        await asyncio.sleep(every)
        for statement in (*app.state.periodic, *calls):
            try:
                async with app.state.pool.connection() as conn:
                    await conn.execute(statement)
            except (psycopg.Error, TimeoutError) as error:
                log.warning("housekeeping failed", extra={"statement": statement.split("(")[0],
                                                          "error": type(error).__name__})


async def _load_error_codes(app: FastAPI) -> None:
    try:
        async with app.state.pool.connection() as conn:
            rows = await (await conn.execute("select sqlstate, name, http_status from api.error_codes()")).fetchall()
            errors.load_codes(rows)
            found = await (await conn.execute(
                "select to_regprocedure('audit.seal()') is not null")).fetchone()
            app.state.periodic = ("select audit.seal()",) if found and found[0] else ()
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
    app.add_middleware(Edge, settings=settings, docs_policy=policies)
    return app


configure_logging()
app = create_app()
