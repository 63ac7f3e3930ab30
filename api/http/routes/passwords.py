"""The password vault: site, login and secret, all encrypted in PostgreSQL; a password generator."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.http.deps import CallerConn, IdempotencyKey
from api.http.errors import PROTECTED, responses
from api.http.models import NO_NUL, Long, ObjectId, Out, Short, Strict, text
from api.rules import GENERATED_MAX, GENERATED_MIN

router = APIRouter(tags=["passwords"])

Site = Annotated[str, text(255)]


class NewItem(Strict):
    website: Site
    username: Short
    password: Annotated[str, text(1024)]
    notes: Long | None = None


class ItemSaved(Out):
    """What saving answers (and what a retry with its Idempotency-Key gets): never the secret."""

    id: int
    site: str
    login: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Item(ItemSaved):
    secret: str
    notes: str | None = None


class Generated(Out):
    password: str


@router.post("/passwords", status_code=201, summary="Save a login for a site (Idempotency-Key: safe to retry)",
             responses={**PROTECTED, **responses(409)})
async def save_item(body: NewItem, db: CallerConn, key: IdempotencyKey = None) -> ItemSaved:
    return await db.create(ItemSaved, key, "api.save_vault_item", body.website, body.username, body.password,
                           body.notes, crypto=True)


@router.get("/passwords", summary="The caller's sites and logins (no secrets)", responses=PROTECTED)
async def list_sites(db: CallerConn) -> list[ItemSaved]:
    return [ItemSaved.model_validate(r) for r in await db.call_all("api.list_vault_sites", crypto=True)]


@router.get("/passwords/generate", summary="A random password from the chosen character classes",
            responses=PROTECTED)
async def generate(db: CallerConn, length: Annotated[int, Query(ge=GENERATED_MIN, le=GENERATED_MAX)] = 20,
                   lower: bool = True, upper: bool = True, digits: bool = True, symbols: bool = True,
                   exclude_lookalikes: bool = False) -> Generated:
    row = await db.call_one("api.generate_password", length, lower, upper, digits, symbols, exclude_lookalikes,
                            read_only=True)
    return Generated(password=row["generate_password"])


@router.get("/passwords/{website}", summary="The caller's logins for a site, decrypted",
            responses={**PROTECTED, **responses(404)})
async def lookup(website: Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL)],
                 db: CallerConn) -> list[Item]:
    return [Item.model_validate(r) for r in await db.call_all("api.lookup_vault", website, crypto=True)]


@router.delete("/passwords/{item_id}", status_code=204, summary="Delete a vault item",
               responses={**PROTECTED, **responses(404)})
async def delete_item(item_id: ObjectId, db: CallerConn) -> Response:
    await db.call_one("api.delete_vault_item", item_id)
    return Response(status_code=204)
