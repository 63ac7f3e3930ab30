"""Secure notes: the title in clear, the content encrypted in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response

from api.http.deps import CallerConn, IdempotencyKey
from api.http.errors import PROTECTED, responses
from api.http.models import Cursor, Limit, ObjectId, Out, Short, Strict, text

router = APIRouter(tags=["entries"])

Content = Annotated[str, text(1_000_000, 0)]


class NewEntry(Strict):
    title: Short
    content: Content


class EntryChange(Strict):
    title: Short | None = None
    content: Content | None = None


class EntryCreated(Out):
    """What creating a note answers (and what a retry with its Idempotency-Key gets): never the content."""

    id: int
    title: str
    created_at: datetime
    updated_at: datetime | None = None


class Entry(EntryCreated):
    content: str


class EntryPage(Out):
    items: list[EntryCreated]
    next: int | None


@router.post("/entries", status_code=201, summary="Create a note (Idempotency-Key: safe to retry)",
             responses={**PROTECTED, **responses(409)})
async def create_entry(body: NewEntry, db: CallerConn, key: IdempotencyKey = None) -> EntryCreated:
    return await db.create(EntryCreated, key, "api.create_entry", body.title, body.content, crypto=True)


@router.get("/entries", summary="The caller's notes (titles), newest first", responses=PROTECTED)
async def list_entries(db: CallerConn, limit: Limit = 50, cursor: Cursor = None) -> EntryPage:
    rows = await db.call_all("api.list_entries", cursor, limit)
    return EntryPage(items=[EntryCreated.model_validate(r) for r in rows],
                     next=rows[-1]["id"] if len(rows) == limit else None)


@router.get("/entries/{entry_id}", summary="One note, decrypted", responses={**PROTECTED, **responses(404)})
async def get_entry(entry_id: ObjectId, db: CallerConn) -> Entry:
    return Entry.model_validate(await db.call_one("api.get_entry", entry_id, crypto=True))


@router.put("/entries/{entry_id}", summary="Change a note's title and/or content",
            responses={**PROTECTED, **responses(404)})
async def update_entry(entry_id: ObjectId, body: EntryChange, db: CallerConn) -> Entry:
    return Entry.model_validate(await db.call_one("api.update_entry", entry_id, body.title, body.content,
                                                  crypto=True))


@router.delete("/entries/{entry_id}", status_code=204, summary="Delete a note",
               responses={**PROTECTED, **responses(404)})
async def delete_entry(entry_id: ObjectId, db: CallerConn) -> Response:
    await db.call_one("api.delete_entry", entry_id)
    return Response(status_code=204)
