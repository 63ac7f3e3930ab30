"""`strongroom serve`: run the API with uvicorn."""

from __future__ import annotations

import argparse
import os

import psycopg

from api.cli.errors import CommandFailed
from api.postgres.target import resolve
from api.settings import Settings, get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the API (uvicorn)",
        description="Serve the REST API with uvicorn on STRONGROOM_API_HOST:STRONGROOM_API_PORT "
        "(default 127.0.0.1:8000). Stops with a message naming any missing or weak secret.",
    )
    parser.add_argument("--host", help="address to listen on (default: STRONGROOM_API_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default: STRONGROOM_API_PORT)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="API worker processes (default: one per core, here %(default)s)")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = get_settings()
    settings.require_secrets()
    check_master_key(settings)
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    print(f"Strongroom API on http://{host}:{port} — Swagger UI at http://{host}:{port}/docs (Ctrl-C stops it)")
    # The API writes its own JSON access log (api/http/edge.py); a stop (Ctrl-C, SIGTERM) lets in-flight
    # requests finish for up to 30 seconds. The API's CPU is the usual limit, so one process per core. Each
    # worker has its own pool, password-attempt budgets and API-call buffer; sealing takes a table lock, so
    # the workers' seals queue up instead of overlapping. Each worker learns how many there are, so that
    # together they allow the configured login rate, not that many times it (api/http/throttle.py).
    os.environ["STRONGROOM_API_WORKERS"] = str(max(1, args.workers))
    uvicorn.run("api.http.app:app", host=host, port=port, workers=args.workers, log_level="info",
                server_header=False, proxy_headers=False, access_log=False, timeout_graceful_shutdown=30)


def check_master_key(settings: Settings) -> None:
    """Refuse to serve with a master key that does not match the active data key's check value: every
    encrypted read and write would fail while /ready said 200. A database that does not answer yet, or has
    no such function yet (not migrated), is left to /ready, which says so once the API runs."""
    from api.http.readiness import MASTER_KEY_MATCHES, WRONG_MASTER_KEY

    try:
        with psycopg.connect(resolve(settings).api_dsn, connect_timeout=5, autocommit=True) as conn:
            row = conn.execute(MASTER_KEY_MATCHES, [settings.secret("STRONGROOM_MASTER_KEY")]).fetchone()
    except psycopg.Error:
        return
    if row is not None and row[0] is False:
        raise CommandFailed(WRONG_MASTER_KEY)
