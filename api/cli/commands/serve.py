"""`strongroom serve`: run the API with uvicorn."""

from __future__ import annotations

import argparse
import os

from api.settings import get_settings


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
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    print(f"Strongroom API on http://{host}:{port} — Swagger UI at http://{host}:{port}/docs (Ctrl-C stops it)")
    # The API writes its own JSON access log (api/http/edge.py); a stop (Ctrl-C, SIGTERM) lets in-flight
    # requests finish for up to 30 seconds. The API's CPU is the usual limit, so one process per core. Each
    # worker has its own pool, login throttle and API-call buffer; sealing takes a table lock, so the
    # workers' seals queue up instead of overlapping.
    uvicorn.run("api.http.app:app", host=host, port=port, workers=args.workers, log_level="info",
                server_header=False, proxy_headers=False, access_log=False, timeout_graceful_shutdown=30)
