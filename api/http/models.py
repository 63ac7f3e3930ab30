"""The shapes of request and response bodies: strict, closed (`extra="forbid"`), bounded, described.

Input rules that are about form (types, lengths, NUL bytes, PostgreSQL's integer range) are checked here so
bad input gets a clear 4xx before any SQL runs; every rule about meaning lives in SQL.

What a client reads in /openapi.json comes from here: each field's docstring is its description, the
closed sets (order statuses, roles, log levels) are enums, one name per field in requests and responses,
and every list is a page `{items, next}` whose `next` is null on the last page
(tests/api/test_openapi_rules.py walks the document for these rules).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from api.rules import ORDER_STATUSES, PASSWORD_MAX, ROLES, USERNAME_MAX, USERNAME_MIN

PG_INT_MAX = 2**31 - 1
NO_NUL = r"^[^\x00]*$"


class Strict(BaseModel):
    """Request bodies: exact types (no "1" for 1, no true for 1), no unknown field."""

    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)


def _as_utc(value: datetime) -> datetime:
    """The seed's `timestamp` columns have no zone; the API's sessions run in UTC, so they are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


UtcTime = Annotated[datetime, AfterValidator(_as_utc)]
"""Every time in a response body: a naive time from SQL is UTC, and is written with its zone ("...Z").
Only these fields pay for the Python check (one on every field of every row cost a page of 50 orders
about 120 µs); tests/api/test_openapi_rules.py makes sure no response field is a bare datetime."""


class Out(BaseModel):
    """Response bodies, built from SQL rows; each time field is a UtcTime."""

    model_config = ConfigDict(extra="ignore", from_attributes=True, use_attribute_docstrings=True,
                              populate_by_name=True)


def text(max_length: int, min_length: int = 1) -> object:
    """A string without NUL bytes (PostgreSQL cannot store them) of bounded length."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


Name = Annotated[str, text(USERNAME_MAX, USERNAME_MIN)]
Password = Annotated[str, text(PASSWORD_MAX, 1)]  # the minimum is SQL's, with its own message
Email = Annotated[str, text(254, 3)]
Short = Annotated[str, text(255)]
Long = Annotated[str, text(10_000)]

ObjectId = Annotated[int, Path(ge=1, le=PG_INT_MAX, description="The object's id.")]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1-200).")]
Cursor = Annotated[int | None, Query(ge=0, le=PG_INT_MAX,
                                     description="The `next` of the previous page; leave out for the first page.")]

# The closed sets, as enums in the schema: statuses and roles from api/rules.py (pinned to SQL by
# tests/test_rules.py); the levels' home is api.log_client_event's check (pinned by test_openapi_rules.py).
OrderStatus = Literal[ORDER_STATUSES]  # type: ignore[valid-type]
Role = Literal[ROLES]  # type: ignore[valid-type]
ClientLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
"""The levels a client may give its own events."""
Level = Literal["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR"]
"""The levels in logs: the clients' four and NOTICE (audit housekeeping)."""


class Page[T](Out):
    """Every list the API answers: one page of items and the cursor of the next."""

    items: list[T]
    """This page's items, in the route's order."""
    next: int | None
    """Pass as `cursor` to get the next page; null on the last page (also for lists that are never paged)."""


def page_rows[R](rows: list[R], limit: int | None = None) -> tuple[list[R], int | None]:
    """A page of rows fetched with `limit + 1` (the extra row only says that another page exists) and its `next`.

    `next` is the id of the page's last row, and null when no row follows it, so a client never asks for an
    empty page. Without a limit (lists that are not paged) every row is the page and `next` is null.
    """
    if limit is None or len(rows) <= limit:
        return rows, None
    kept = rows[:limit]
    last = kept[-1]
    return kept, int(last["id"] if isinstance(last, dict) else last.id)  # type: ignore[attr-defined]
