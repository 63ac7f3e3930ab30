"""Secure notes: the title in clear, the content encrypted in PostgreSQL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response

from api.http.deps import CallerConn, IdempotencyKey
from api.http.errors import PROTECTED, responses
from api.http.models import Cursor, Limit, ObjectId, Out, Page, Short, Strict, UtcTime, page_rows, text

router = APIRouter(tags=["entries"])

Content = Annotated[str, text(1_000_000, 0)]


class NewEntry(Strict):
    title: Short
    """The note's title, stored in clear (1-255 characters)."""
    content: Content
    """The note's text, stored only encrypted (up to 1,000,000 characters)."""


class EntryChange(Strict):
    title: Short | None = None
    """A new title; leave out to keep it."""
    content: Content | None = None
    """A new text; leave out to keep it."""


class EntryCreated(Out):
    """What creating a note answers (and what a retry with its Idempotency-Key gets): never the content."""

    id: int
    """The note's id."""
    title: str
    """The note's title."""
    created_at: UtcTime
    """When the note was created (UTC)."""
    updated_at: UtcTime | None = None
    """When it was last changed (UTC); null if never."""


class Entry(EntryCreated):
    content: str
    """The note's text, decrypted."""


class EntryPage(Page[EntryCreated]):
    """A page of notes (titles only), newest first."""


@router.post("/entries", status_code=201, summary="Create a note (Idempotency-Key: safe to retry)",
             responses={**PROTECTED, **responses(409)})
async def create_entry(body: NewEntry, db: CallerConn, key: IdempotencyKey = None) -> EntryCreated:
    return await db.create(EntryCreated, key, "api.create_entry", body.title, body.content, crypto=True)


@router.get("/entries", summary="The caller's notes (titles), newest first", responses=PROTECTED)
async def list_entries(db: CallerConn, limit: Limit = 50, cursor: Cursor = None) -> EntryPage:
    rows, following = page_rows(await db.call_all("api.list_entries", cursor, limit + 1), limit)
    return EntryPage(items=rows, next=following)


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
