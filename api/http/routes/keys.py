"""Data keys (administrators): status, rotation, re-encryption in batches, retirement. Never key material."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field

from api.http.deps import CallerConn
from api.http.errors import PROTECTED, responses
from api.http.models import ObjectId, Out, Page, Strict, UtcTime

router = APIRouter(prefix="/aes", tags=["keys"])


KeyState = Literal["active", "decrypt_only", "retired"]


class KeyStatus(Out):
    id: int
    """The key's id (aes_keys.id): what rows, key_logs and the CLI name it by."""
    key_label: str
    """The key's label, as `strongroom keys status` shows it."""
    state: KeyState
    """active (encrypts new rows; exactly one), decrypt_only (still read), retired (its material destroyed)."""
    created_at: UtcTime | None = None
    """When the key was made (UTC)."""
    rotated_at: UtcTime | None = None
    """When a newer key replaced it (UTC)."""
    retired_at: UtcTime | None = None
    """When its material was destroyed (UTC)."""
    entries_rows: int
    """Notes encrypted under this key."""
    orders_rows: int
    """Sensitive orders encrypted under this key."""
    vault_rows: int
    """Vault items encrypted under this key."""
    total_rows: int
    """All rows encrypted under this key: 0 means it may be retired once it is not active."""


class KeyPage(Page[KeyStatus]):
    """Every data key, oldest first (never paged)."""


class Rotated(Out):
    old_key_id: int | None
    """The key that was active before (now decrypt_only); null if there was none."""
    new_key_id: int
    """The new active key."""


class ReencryptRequest(Strict):
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    """Rows moved in this batch, one short transaction (1-10000)."""
    sweep: bool = Field(default=False, description="Wait for rows writers hold instead of skipping them.")
    count: bool = Field(default=True, description="Count the rows left (a scan of what is still to do).")


class BatchDone(Out):
    key_id: int
    """The active key the rows moved to."""
    moved: int
    """Rows moved in this batch."""
    rows_left: int | None = None
    """Rows still on older keys (null when not counted)."""


class Retired(Out):
    id: int
    """The retired key's id."""
    state: KeyState
    """Now retired."""
    retired_at: UtcTime | None = None
    """When (UTC)."""


@router.get("/keys", summary="Every data key's state and how many rows use it", responses=PROTECTED)
async def key_status(db: CallerConn) -> KeyPage:
    return KeyPage(items=await db.call_all("api.key_status"), next=None)


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
