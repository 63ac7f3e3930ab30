"""`strongroom serve`: run the API with uvicorn."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psycopg

from api.cli.errors import CommandFailed
from api.postgres.target import parameter_logging_warnings, resolve
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
    parser.add_argument("--tls-cert", type=Path, metavar="PEM",
                        help="serve HTTPS with this certificate (default: STRONGROOM_TLS_CERT_FILE); "
                        "`strongroom tls self-signed` makes one for a LAN")
    parser.add_argument("--tls-key", type=Path, metavar="PEM",
                        help="the certificate's private key (default: STRONGROOM_TLS_KEY_FILE)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="API worker processes (default: one per core, here %(default)s)")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = get_settings()
    cert, key = tls_files(args.tls_cert or settings.tls_cert_file, args.tls_key or settings.tls_key_file)
    settings.require_secrets()
    check_master_key(settings)
    warn_parameter_logging(settings)
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    if cert is not None:
        # The workers read the settings themselves: HSTS and the https scheme follow the certificate.
        os.environ["STRONGROOM_TLS_CERT_FILE"], os.environ["STRONGROOM_TLS_KEY_FILE"] = str(cert), str(key)
    scheme = "https" if cert else "http"
    print(f"Strongroom API on {scheme}://{host}:{port} — Swagger UI at {scheme}://{host}:{port}/docs "
          "(Ctrl-C stops it)")
    # The API writes its own JSON access log (api/http/edge.py); a stop (Ctrl-C, SIGTERM) lets in-flight
    # requests finish for up to 30 seconds. The API's CPU is the usual limit, so one process per core. Each
    # worker has its own pool, password-attempt budgets and API-call buffer; sealing takes a table lock, so
    # the workers' seals queue up instead of overlapping. Each worker learns how many there are, so that
    # together they allow the configured login rate, not that many times it (api/http/throttle.py).
    os.environ["STRONGROOM_API_WORKERS"] = str(max(1, args.workers))
    # proxy_headers=False: X-Forwarded-* are believed only from STRONGROOM_TRUSTED_PROXIES (api/http/app.py).
    # http: uvicorn's httptools protocol writing each response in one piece (api/http/serving.py).
    uvicorn.run("api.http.app:app", host=host, port=port, workers=args.workers, log_level="info",
                http="api.http.serving:Protocol",
                server_header=False, proxy_headers=False, access_log=False, timeout_graceful_shutdown=30,
                ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(key) if key else None)


def tls_files(cert: Path | None, key: Path | None) -> tuple[Path | None, Path | None]:
    """Both or neither, and both readable: a one-line reason naming the setting otherwise."""
    if cert is None and key is None:
        return None, None
    if cert is None or key is None:
        missing = "STRONGROOM_TLS_CERT_FILE (--tls-cert)" if cert is None else "STRONGROOM_TLS_KEY_FILE (--tls-key)"
        raise CommandFailed(f"HTTPS needs a certificate and its key: set {missing} too")
    for path, name in ((cert, "STRONGROOM_TLS_CERT_FILE"), (key, "STRONGROOM_TLS_KEY_FILE")):
        if not path.is_file() or not os.access(path, os.R_OK):
            raise CommandFailed(f"{name}: cannot read {path}")
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as error:
        raise CommandFailed(f"the certificate {cert} and key {key} do not form a pair ({error.reason})") from None
    return cert, key


def warn_parameter_logging(settings: Settings) -> None:
    """Warn, naming the setting, when the server logs statement parameters for the API's login; a server
    that does not answer yet is left to /ready."""
    try:
        warnings = parameter_logging_warnings(resolve(settings).api_dsn)
    except psycopg.Error:
        return
    for warning in warnings:
        print(f"strongroom: warning: {warning}", file=sys.stderr)


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
