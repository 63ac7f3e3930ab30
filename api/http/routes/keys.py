"""Data keys (administrators): status, rotation, re-encryption in batches, retirement. Never key material."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from api.http.deps import CallerConn
from api.http.errors import PROTECTED, responses
from api.http.models import ObjectId, Out, Strict

router = APIRouter(prefix="/aes", tags=["keys"])


class KeyStatus(Out):
    id: int
    key_label: str
    state: str
    created_at: datetime | None = None
    rotated_at: datetime | None = None
    retired_at: datetime | None = None
    entries_rows: int
    orders_rows: int
    vault_rows: int
    total_rows: int


class Rotated(Out):
    old_key_id: int | None
    new_key_id: int


class ReencryptRequest(Strict):
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    sweep: bool = Field(default=False, description="Wait for rows writers hold instead of skipping them.")
    count: bool = Field(default=True, description="Count the rows left (a scan of what is still to do).")


class BatchDone(Out):
    key_id: int
    moved: int
    rows_left: int | None = None


class Retired(Out):
    id: int
    state: str
    retired_at: datetime | None = None


@router.get("/keys", summary="Every data key's state and how many rows use it", responses=PROTECTED)
async def key_status(db: CallerConn) -> list[KeyStatus]:
    return [KeyStatus.model_validate(r) for r in await db.call_all("api.key_status")]


@router.post("/rotate", summary="Make a new active data key; old ciphertext still decrypts",
             responses={**PROTECTED, **responses(409)})
async def rotate(db: CallerConn) -> Rotated:
    return Rotated.model_validate(await db.call_one("api.rotate_key", crypto=True))


@router.post("/reencrypt", summary="One committed batch of re-encryption; the client drives the job",
             responses=PROTECTED)
async def reencrypt(body: ReencryptRequest, db: CallerConn) -> BatchDone:
    # One batch per request, so a job stops with its client; api/reencryption.py's Plan says what to ask next.
    return BatchDone.model_validate(
        await db.call_one("api.reencrypt_batch", body.batch_size, body.sweep, body.count, crypto=True))


@router.post("/keys/{key_id}/retire", summary="Destroy a decrypt-only key that no row uses",
             responses={**PROTECTED, **responses(404, 409)})
async def retire(key_id: ObjectId, db: CallerConn) -> Retired:
    return Retired.model_validate(await db.call_one("api.retire_key", key_id))
