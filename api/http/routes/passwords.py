"""The password vault: website, username and password, all encrypted in PostgreSQL; a password generator.

Paths say what their segment is, so none shadows another: `/passwords?website=...` and the seed's
`/passwords/{website}` look a site up (any site that can be saved: a URL with slashes, or one called
"generate"), `/password-items/{item_id}` is one saved item by id, and the generator is `/password-generator`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import AliasChoices, Field

from api.http.deps import CallerConn, IdempotencyKey
from api.http.errors import PROTECTED, responses
from api.http.models import NO_NUL, Cursor, Limit, Long, ObjectId, Out, Page, Short, Strict, UtcTime, page_rows, text
from api.rules import GENERATED_MAX, GENERATED_MIN

router = APIRouter(tags=["passwords"])

Site = Annotated[str, text(255)]
SITE_HELP = "The website, exactly as saved but in any case (`Example.org` finds `example.org`); any text: a URL too."


class NewItem(Strict):
    website: Site
    """The site the login is for: a name or a URL (1-255 characters)."""
    username: Annotated[Short, Field(validation_alias=AliasChoices("username", "email"))]
    """The login at that site. The seed's `email` is accepted in its place (send one of the two)."""
    password: Annotated[str, text(1024)]
    """The password at that site (stored only encrypted; never in a list or a save's answer)."""
    notes: Long | None = None
    """Free notes (stored only encrypted)."""


class ItemSaved(Out):
    """A saved item without its secrets: what saving answers (and a retry with its Idempotency-Key gets)."""

    id: int
    """The item's id (for `DELETE /password-items/{item_id}`)."""
    website: str = Field(validation_alias=AliasChoices("website", "site"))
    """The site, as saved."""
    username: str = Field(validation_alias=AliasChoices("username", "login"))
    """The login at that site."""
    created_at: UtcTime | None = None
    """When the item was first saved (UTC)."""
    updated_at: UtcTime | None = None
    """When its password was last replaced (UTC); null if never."""


class Item(ItemSaved):
    password: str | None = Field(default=None, validation_alias=AliasChoices("password", "secret"))
    """The password at that site, decrypted when a site is looked up; null in the list of every item."""
    notes: str | None = None
    """The notes, decrypted when a site is looked up; null in the list of every item."""


class ItemPage(Page[Item]):
    """Saved items: one site's, decrypted (never paged), or a page of every item without its secrets, newest
    first (the sites are stored encrypted: no index orders by them)."""


class Generated(Out):
    password: str
    """The generated password."""


WebsiteQuery = Annotated[str | None, Query(min_length=1, max_length=255, pattern=NO_NUL, description=(
    "Look this site up: its items with their passwords (404 if nothing is saved for it; `limit` and `cursor` "
    "do not apply). Leave out to list every item without secrets, a page at a time. " + SITE_HELP))]


@router.post("/passwords", status_code=201, summary="Save a login for a site (Idempotency-Key: safe to retry)",
             responses={**PROTECTED, **responses(409)})
async def save_item(body: NewItem, db: CallerConn, key: IdempotencyKey = None) -> ItemSaved:
    return await db.create(ItemSaved, key, "api.save_vault_item", body.website, body.username, body.password,
                           body.notes, crypto=True)


@router.get("/passwords", summary="The caller's saved sites and logins (no secrets), newest first, or one site's items",
            responses={**PROTECTED, **responses(404)})
async def list_or_lookup(db: CallerConn, website: WebsiteQuery = None, limit: Limit = 50,
                         cursor: Cursor = None) -> ItemPage:
    if website is not None:
        return await lookup(website, db)
    rows, following = page_rows(await db.call_all("api.list_vault_sites", cursor, limit + 1, crypto=True), limit)
    return ItemPage(items=rows, next=following)


@router.get("/passwords/{website:path}", summary="The caller's logins for a site, decrypted",
            responses={**PROTECTED, **responses(404)})
async def lookup(website: Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL,
                                              description=SITE_HELP + " Percent-encode it.")],
                 db: CallerConn) -> ItemPage:
    return ItemPage(items=await db.call_all("api.lookup_vault", website, crypto=True), next=None)


@router.delete("/password-items/{item_id}", status_code=204, summary="Delete a saved item",
               responses={**PROTECTED, **responses(404)})
async def delete_item(item_id: ObjectId, db: CallerConn) -> Response:
    await db.call_one("api.delete_vault_item", item_id)
    return Response(status_code=204)


@router.get("/password-generator", summary="A random password from the chosen character classes",
            responses=PROTECTED)
async def generate(db: CallerConn,
                   length: Annotated[int, Query(ge=GENERATED_MIN, le=GENERATED_MAX,
                                                description="How many characters (8-128).")] = 20,
                   lower: Annotated[bool, Query(description="Use lower-case letters.")] = True,
                   upper: Annotated[bool, Query(description="Use upper-case letters.")] = True,
                   digits: Annotated[bool, Query(description="Use digits.")] = True,
                   symbols: Annotated[bool, Query(description="Use symbols (!#$%&()*+,-./:;<=>?@[]^_{|}~).")] = True,
                   exclude_lookalikes: Annotated[bool, Query(
                       description="Leave out characters that look alike (0 O o 1 l I |).")] = False) -> Generated:
    row = await db.call_one("api.generate_password", length, lower, upper, digits, symbols, exclude_lookalikes,
                            read_only=True)
    return Generated(password=row["generate_password"])
