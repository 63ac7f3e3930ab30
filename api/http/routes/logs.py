"""The event log: a user's own events (admin and auditor: all), and a client's own event."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from psycopg.types.json import Jsonb

from api.http.deps import CallerConn
from api.http.errors import PROTECTED, responses
from api.http.models import Limit, Out, Strict, text

router = APIRouter(prefix="/logs", tags=["logs"])

Word = Annotated[str, text(50)]
# Stored as "client:<component>" in a 50-character column: api.log_client_event allows 43.
Component = Annotated[str, text(43)]


class NewEvent(Strict):
    level: Word = "INFO"
    component: Component
    message: Annotated[str, text(2000)]
    details: dict[str, Any] | None = None


class Event(Out):
    id: int
    at: datetime
    level: str | None = None
    component: str | None = None
    action: str | None = None
    message: str | None = None
    details: Any = None
    table_name: str | None = None
    row_id: int | None = None
    user_id: int | None = None
    actor_id: int | None = None
    request_id: str | None = None


class EventPage(Out):
    items: list[Event]
    next: int | None


@router.get("", summary="Log events, newest first (own; admin and auditor: all)", responses=PROTECTED)
async def list_logs(db: CallerConn, limit: Limit = 50,
                    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
                    level: Annotated[Word | None, Query()] = None,
                    component: Annotated[Word | None, Query()] = None,
                    action: Annotated[Word | None, Query()] = None,
                    since: datetime | None = None, until: datetime | None = None) -> EventPage:
    rows = await db.call_all("api.list_logs", cursor, limit, level, component, action, since, until)
    return EventPage(items=[Event.model_validate(r) for r in rows], next=rows[-1]["id"] if len(rows) == limit else None)


@router.post("", status_code=204, summary="Record one of the client's own events",
             responses={**PROTECTED, **responses(429)})
async def add_event(body: NewEvent, db: CallerConn) -> Response:
    await db.call_one("api.log_client_event", body.level, body.component, body.message,
                      Jsonb(body.details) if body.details is not None else None)
    return Response(status_code=204)

