"""The FastAPI application, assembled: settings, pool, error handlers, docs, routes, middleware, housekeeping.

`create_app(settings)` builds it (tests pass their own settings); `app` is what `strongroom serve` runs.
Each part lives in its own module: `readiness` (/health, /ready), `housekeeping` (audit flush, seal,
purge), `log_lines` (the process's JSON log), `edge` (request id, limits, headers), `docs`, `routes/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.http import docs, errors, housekeeping, readiness
from api.http.edge import Edge
from api.http.log_lines import configure_logging
from api.http.pool import make_pool
from api.http.routes import ROUTERS
from api.http.security import Tokens
from api.http.throttle import Gate
from api.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.require_secrets()
        app.state.tokens = Tokens(settings)
        app.state.pool = pool = make_pool(settings)
        await pool.open(wait=False)
        await errors.load_codes_from(pool)
        try:
            app.state.periodic = await housekeeping.present_calls(pool)
        except (psycopg.Error, TimeoutError):
            app.state.periodic = ()
        try:
            async with housekeeping.running(app, every=settings.audit_seal_seconds,
                                            shutdown_timeout=settings.statement_timeout_ms / 1000):
                yield
        finally:
            await pool.close()

    app = FastAPI(
        title="Strongroom",
        summary="A secure data-entry system whose logic lives in PostgreSQL.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.gate = Gate(settings.login_rate_per_worker, settings.crypt_concurrency, settings.pool_timeout_seconds)
    app.state.periodic = ()
    app.state.calls = housekeeping.call_buffer()
    errors.install(app)
    for router in (readiness.router, *ROUTERS):
        add_routes(app, router)
    policies = docs.install(app)  # after the API's routes: /docs is asked for far less often

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Retry-After"])
    app.add_middleware(Edge, settings=settings, docs_policy=policies, calls=app.state.calls)
    if settings.trusted_proxies:
        # Outermost: the client address (throttling, audit, access log) and the scheme (HSTS) come from
        # X-Forwarded-For/-Proto only when the peer is one of these proxies; anyone else's headers are ignored.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, as the app's own. FastAPI's include_router adds a router as a wrapper that
    works out its routes' settings on every request (about 10 µs a request measured here); ours set
    nothing at inclusion (each route's path already carries its router's prefix, its tags and responses
    are its own), so their routes can be the app's, and /openapi.json is byte for byte the same."""
    assert not (router.dependencies or router.dependency_overrides_provider or router.callbacks), router
    app.router.routes.extend(router.routes)


configure_logging()
app = create_app()
