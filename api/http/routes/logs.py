"""The event log: a user's own events (admin and auditor: all), and a client's own event."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from psycopg.types.json import Jsonb

from api.http.deps import CallerConn
from api.http.errors import PROTECTED, responses
from api.http.models import ClientLevel, Level, Limit, Out, Page, Strict, UtcTime, page_rows, text

router = APIRouter(prefix="/logs", tags=["logs"])

Word = Annotated[str, text(50)]
# Stored as "client:<component>" in a 50-character column: api.log_client_event allows 43.
Component = Annotated[str, text(43)]


class NewEvent(Strict):
    level: ClientLevel = "INFO"
    """How much it matters: DEBUG, INFO, WARNING or ERROR."""
    component: Component
    """Which part of the client it comes from; stored as `client:<component>` (1-43 characters)."""
    message: Annotated[str, text(2000)]
    """What happened, for a person (1-2000 characters; never a secret)."""
    details: dict[str, Any] | None = None
    """Facts about it as a JSON object (at most 4000 bytes)."""


class Event(Out):
    id: int
    """The row's id in logs (the cursor orders by it)."""
    at: UtcTime
    """When it happened (UTC): for an API-call record, when its request arrived."""
    logged_at: UtcTime | None = None
    """When the row was written (UTC): API-call records are written in batches, up to seconds later."""
    level: str | None = None
    """DEBUG, INFO, NOTICE, WARNING or ERROR (rows a DBA wrote may hold other words)."""
    component: str | None = None
    """Who wrote it: auth, authz, audit, api (API-call records), keys, client:<name> (a client's events)."""
    action: str | None = None
    """What kind of event: login_failed, access_refused, not_found, client_event, api_call, insert, ..."""
    message: str | None = None
    """The event for a person."""
    details: dict[str, Any] | None = None
    """The event's facts as a JSON object."""
    table_name: str | None = None
    """The table of the row it is about, if any."""
    row_id: int | None = None
    """The id of that row."""
    user_id: int | None = None
    """The user it is about."""
    username: str | None = None
    """Their name, when the caller may read it (a user: their own; an admin: every one)."""
    actor_id: int | None = None
    """Who was logged in when it happened."""
    actor_name: str | None = None
    """Their name, when the caller may read it."""
    request_id: str | None = None
    """The API request it belongs to (X-Request-ID)."""


class EventPage(Page[Event]):
    """A page of log events, newest first."""


@router.get("", summary="Log events, newest first (own; admin and auditor: all)", responses=PROTECTED)
async def list_logs(
    db: CallerConn, limit: Limit = 50,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="The `next` of the previous page.")] = None,
    level: Annotated[Level | None, Query(description="Only events of this level.")] = None,
    component: Annotated[Word | None, Query(description="Only this component, e.g. auth, client:gui.")] = None,
    action: Annotated[Word | None, Query(description="Only events of this action, e.g. login_failed.")] = None,
    user: Annotated[Word | None, Query(description="Only events by or about this username.")] = None,
    api_calls: Annotated[bool, Query(description="Include the API-call records (one per request).")] = False,
    since: Annotated[datetime | None, Query(description="Only events written at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Only events written before this time.")] = None,
) -> EventPage:
    rows = await db.call_all("api.list_logs", cursor, limit + 1, level, component, action, since, until, user,
                             api_calls)
    items, following = page_rows(rows, limit)
    return EventPage(items=items, next=following)


@router.post("", status_code=204, summary="Record one of the client's own events",
             responses={**PROTECTED, **responses(429)})
async def add_event(body: NewEvent, db: CallerConn) -> Response:
    await db.call_one("api.log_client_event", body.level, body.component, body.message,
                      Jsonb(body.details) if body.details is not None else None)
    return Response(status_code=204)
