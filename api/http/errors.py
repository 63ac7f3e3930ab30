"""Every error the API answers with is an RFC 9457 `application/problem+json` document.

One table maps SQLSTATEs to HTTP: our own codes come from `private.error_codes` (read at start-up through
`api.error_codes()`, so the database's table is the one source), falling back to their class (SRA, SRP,
...); PostgreSQL's own codes have a row here. A response never carries SQL text, a stack trace or a secret:
the detail of our own codes is the message the SQL author wrote for users; anything else gets a generic one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.http.pool import connection

log = logging.getLogger("strongroom.api")

PROBLEM_TYPE = "urn:strongroom:problem:"
RETRY_AFTER_SECONDS = "1"


@dataclass(frozen=True)
class Mapping:
    status: int
    name: str
    title: str
    detail: str = ""
    """What the client shows, when the title alone would not say what to do."""


# Our classes (CONTRIBUTING.md), used for a code that private.error_codes does not list.
CLASS_STATUS: dict[str, Mapping] = {
    "SRA": Mapping(401, "not_authenticated", "Not authenticated"),
    "SRP": Mapping(422, "policy_violation", "The request breaks a rule"),
    "SRN": Mapping(404, "not_found", "Not found"),
    "SRF": Mapping(403, "forbidden", "Forbidden"),
    "SRC": Mapping(409, "conflict", "Conflict"),
    "SRK": Mapping(503, "keys_unavailable", "Encryption keys unavailable"),
    "SRL": Mapping(429, "rate_limited", "Too many requests"),
}

# PostgreSQL's own SQLSTATEs that a client can cause or must retry.
PG_STATUS: dict[str, Mapping] = {
    "23505": Mapping(409, "already_exists", "Already exists"),
    "23503": Mapping(409, "referenced", "Conflicts with related data"),
    "23514": Mapping(422, "check_violation", "The value breaks a rule"),
    "23502": Mapping(422, "missing_value", "A required value is missing"),
    "22001": Mapping(422, "value_too_long", "A value is too long"),
    "22003": Mapping(422, "out_of_range", "A number is out of range"),
    "22P02": Mapping(422, "invalid_value", "A value has the wrong form"),
    "22007": Mapping(422, "invalid_value", "A value has the wrong form"),
    "22008": Mapping(422, "out_of_range", "A date is out of range"),
    "22021": Mapping(422, "invalid_text", "Text is not valid UTF-8"),
    "22P05": Mapping(422, "invalid_text", "Text holds a character PostgreSQL cannot store (NUL)"),
    "42501": Mapping(403, "forbidden", "Forbidden"),
    "28000": Mapping(401, "not_authenticated", "Not authenticated"),
    "40001": Mapping(503, "busy", "Busy: retry"),
    "40P01": Mapping(503, "busy", "Busy: retry"),
    "55P03": Mapping(503, "busy", "Busy: retry"),
    "57014": Mapping(503, "timeout", "The database took too long"),
    "57P01": Mapping(503, "unavailable", "Database unavailable"),
    "57P03": Mapping(503, "unavailable", "Database unavailable"),
    "25006": Mapping(500, "internal", "Internal error"),
    # Class 53: the server ran out of something. A full disk needs an operator, so it is no 503 with
    # Retry-After (a client would retry what cannot succeed); each is logged at error level, and /ready
    # reports it (note_resource_error).
    "53100": Mapping(507, "disk_full", "The database server's disk is full",
                     "The database server's disk is full: nothing was saved. Retrying will not help until an "
                     "operator frees space."),
    "53200": Mapping(503, "out_of_memory", "The database server is out of memory"),
    "53300": Mapping(503, "too_many_connections", "The database server has no connection free"),
    "53400": Mapping(503, "configuration_limit_exceeded", "A database server limit was reached"),
}
INSUFFICIENT_RESOURCES = Mapping(503, "insufficient_resources", "The database server is out of a resource")
# How long /ready keeps reporting a class-53 error after the last request that met one.
RESOURCE_ERROR_SECONDS = 30.0

INTERNAL = Mapping(500, "internal", "Internal error")
UNAVAILABLE = Mapping(503, "unavailable", "Database unavailable")

# Filled from private.error_codes at start-up: sqlstate -> Mapping.
OUR_CODES: dict[str, Mapping] = {}

HTTP_TITLES = {
    400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 413: "Request body too large",
    415: "Unsupported media type", 422: "Invalid request", 429: "Too many requests",
    500: "Internal error", 503: "Service unavailable", 507: "Insufficient storage",
}


def load_codes(rows: list[tuple[str, str, int]]) -> None:
    """Take our codes from the database's table (sqlstate, name, http_status)."""
    for sqlstate, name, status in rows:
        OUR_CODES[sqlstate] = Mapping(status, name, name.replace("_", " ").capitalize())


async def load_codes_from(pool: AsyncConnectionPool) -> None:
    """At start-up: our codes from `api.error_codes()`; if the database cannot say, their classes serve."""
    try:
        async with connection(pool) as conn:
            rows = await (await conn.execute("select sqlstate, name, http_status from api.error_codes()")).fetchall()
        load_codes(rows)
    except (psycopg.Error, TimeoutError) as error:
        log.warning("could not load the error codes; using their classes", extra={"error": type(error).__name__})


def mapping_for(sqlstate: str | None) -> Mapping:
    """The one SQLSTATE → HTTP table."""
    if not sqlstate:
        return INTERNAL
    if sqlstate in OUR_CODES:
        return OUR_CODES[sqlstate]
    if sqlstate in PG_STATUS:
        return PG_STATUS[sqlstate]
    if sqlstate.startswith("SR") and sqlstate[:3] in CLASS_STATUS:
        return CLASS_STATUS[sqlstate[:3]]
    if sqlstate.startswith("53"):
        return INSUFFICIENT_RESOURCES
    if sqlstate.startswith(("08", "57P")):
        return UNAVAILABLE
    if sqlstate.startswith("22"):  # data exceptions: the input's value, whatever the exact code
        return PG_STATUS["22P02"]
    if sqlstate.startswith("23"):  # integrity constraints not listed above
        return PG_STATUS["23503"]
    return INTERNAL


class Problem(Exception):
    """An error raised by API code; the handler renders it."""

    def __init__(self, status: int, name: str, detail: str, *, title: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.name = name
        self.detail = detail
        self.title = title or HTTP_TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extra = extra or {}


def not_authenticated(detail: str = "A valid bearer token is required.") -> Problem:
    return Problem(401, "not_authenticated", detail, headers={"WWW-Authenticate": "Bearer"})


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem_body(status: int, name: str, title: str, detail: str, instance: str, request_id: str | None,
                 extra: dict[str, Any] | None = None) -> bytes:
    """The one builder of an RFC 9457 problem document: the handlers here and the edge middleware use it."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE + name, "title": title, "status": status, "detail": detail,
                            "code": name, "instance": instance, "request_id": request_id, **(extra or {})}
    return json.dumps(body, ensure_ascii=False).encode()


def problem_response(request: Request, status: int, name: str, title: str, detail: str,
                     headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> Response:
    body = problem_body(status, name, title, detail, request.url.path, request_id_of(request), extra)
    all_headers = dict(headers or {})
    if status in (503, 429) and "Retry-After" not in all_headers:
        all_headers["Retry-After"] = RETRY_AFTER_SECONDS
    return Response(body, status_code=status, headers=all_headers,
                    media_type="application/problem+json")


def from_database(error: psycopg.Error) -> Problem:
    """A psycopg error as a Problem: our own messages are for users, PostgreSQL's are not shown."""
    sqlstate = error.sqlstate
    mapping = mapping_for(sqlstate)
    if isinstance(error, psycopg.OperationalError) and not sqlstate:
        mapping = UNAVAILABLE
    ours = bool(sqlstate and sqlstate.startswith("SR"))
    if ours and error.diag.message_primary:
        detail = error.diag.message_primary
        if error.diag.message_hint:
            detail += f" ({error.diag.message_hint})"
    else:
        detail = mapping.detail or mapping.title + "."
    headers = {"WWW-Authenticate": "Bearer"} if mapping.status == 401 else None
    return Problem(mapping.status, mapping.name, detail, title=mapping.title, headers=headers,
                   extra={"sqlstate": sqlstate} if ours else None)


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without the offending input (it may be a password) or internals."""
    cleaned = []
    for error in errors:
        cleaned.append({"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")),
                        "type": str(error.get("type", ""))})
    return cleaned


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(request, exc.status, exc.name, exc.title, exc.detail, exc.headers, exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = _clean_errors(exc.errors())
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(request, 400, "malformed_json", "Malformed JSON",
                                    "The body is not valid JSON.", extra={"errors": errors})
        return problem_response(request, 422, "invalid_request", "Invalid request",
                                "The request does not match the schema.", extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = HTTP_TITLES.get(exc.status_code, "Error")
        name = title.lower().replace(" ", "_")
        detail = exc.detail if isinstance(exc.detail, str) else title
        return problem_response(request, exc.status_code, name, title, detail, dict(exc.headers or {}))

    @app.exception_handler(UnicodeEncodeError)
    async def _unencodable(request: Request, exc: UnicodeEncodeError) -> Response:
        return problem_response(request, 422, "invalid_text", "Invalid text",
                                "Text holds a character that is not valid Unicode (a lone surrogate).")

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, exc: PoolTimeout) -> Response:
        return problem_response(request, 503, "unavailable", "Service unavailable",
                                "No database connection is free; retry shortly.")

    @app.exception_handler(psycopg.Error)
    async def _database(request: Request, exc: psycopg.Error) -> Response:
        problem = from_database(exc)
        if exc.sqlstate and exc.sqlstate.startswith("53"):
            note_resource_error(request.app, problem.name, exc.sqlstate)
            log.error("database out of resources: an operator must act",
                      extra={"sqlstate": exc.sqlstate, "code": problem.name, "request_id": request_id_of(request)})
        elif problem.status >= 500:
            log.warning("database error", extra={"sqlstate": exc.sqlstate, "error": type(exc).__name__,
                                                  "request_id": request_id_of(request)})
        return problem_response(request, problem.status, problem.name, problem.title, problem.detail,
                                problem.headers, problem.extra)


def note_resource_error(app: FastAPI, name: str, sqlstate: str) -> None:
    """Remember the last class-53 error (disk full, out of memory, ...) for /ready to report."""
    app.state.resource_error = {"code": name, "sqlstate": sqlstate, "at": time.monotonic(),
                                "seen": datetime.now(UTC).isoformat(timespec="seconds")}


def recent_resource_error(app: FastAPI) -> dict[str, Any] | None:
    """The last class-53 error if a request met one in the last RESOURCE_ERROR_SECONDS, else None."""
    seen = getattr(app.state, "resource_error", None)
    if seen is None or time.monotonic() - seen["at"] > RESOURCE_ERROR_SECONDS:
        return None
    return {k: v for k, v in seen.items() if k != "at"}


def problem_schema() -> dict[str, Any]:
    def field(kind: Any, description: str) -> dict[str, Any]:
        return {"type": kind, "description": description}

    return {
        "type": "object",
        "description": "An RFC 9457 problem: what went wrong, for a person (detail) and a program (code).",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": field("string", "urn:strongroom:problem:<code>."),
            "title": field("string", "A short summary of the kind of problem."),
            "status": field("integer", "The HTTP status code."),
            "detail": field("string", "What went wrong this time, for a person."),
            "code": field("string", "A stable name for the problem, for programs (e.g. order_status_admin_only)."),
            "instance": field("string", "The request's path."),
            "request_id": field(["string", "null"], "The request's id (X-Request-ID): quote it to an administrator."),
            "sqlstate": field("string", "The database's error code (SRxxx), when the database refused."),
            "errors": {"type": "array", "items": {"type": "object"},
                       "description": "For an invalid request: each field that is wrong (loc, msg, type)."},
        },
    }


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the problem responses a route can give."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {status: {"description": HTTP_TITLES.get(status, "Error"),
                     "content": {"application/problem+json": {"schema": schema}}} for status in statuses}


COMMON = (400, 413, 422, 500, 503)
PUBLIC = responses(*COMMON)
PROTECTED = responses(401, 403, *COMMON)
