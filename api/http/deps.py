"""The typed dependencies routes declare: who calls, the database handle, the Idempotency-Key.

    CallerConn      a Db whose calls run as the caller of the verified access token (401 with
                    WWW-Authenticate: Bearer otherwise); api.begin_request first in each call
    PublicConn      a Db for the routes that come before a token: register, login, refresh
    IdempotencyKey  the optional Idempotency-Key header, checked for form
    CryptGate       the gate every call that can run crypt() passes (budgets, hashing slots)

Every dependency is `async def`: FastAPI runs a plain `def` one in a worker thread, a hop that cost about a
tenth of a request's Python time; none of these blocks. CallerConn is one dependency, not a chain of three
(bearer token, caller, Db): FastAPI's solving costs about as much per dependency as the work in it.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer

from api.http.calls import Db, RequestInfo
from api.http.errors import not_authenticated
from api.http.security import Tokens
from api.http.throttle import Gate


class CallerBearer(OAuth2PasswordBearer):
    """The lock in Swagger UI (its Authorize form posts username/password to /login), and the dependency
    of every route with a caller: a Db for the caller the bearer token names, once it is verified."""

    async def __call__(self, request: Request) -> Db:  # type: ignore[override]
        token = await super().__call__(request)  # the bearer scheme's own reading of Authorization
        if not token:
            raise not_authenticated()
        issuer: Tokens = request.app.state.tokens
        caller = issuer.verify_access(token)
        request.state.user_id = caller.user_id  # for the API-call record, never for a decision
        return Db(request.app.state.pool, request.app.state.settings, caller, request_info(request))


caller_db = CallerBearer(tokenUrl="login", scheme_name="bearer", auto_error=False,
                         description="Log in with your username and password; the API returns a bearer token.")


@lru_cache(maxsize=4096)
def _inet(host: str) -> str | None:
    """The address as PostgreSQL's inet reads it, or None for anything that is not an IP address."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def request_info(request: Request) -> RequestInfo:
    """The request id and the client's address (only if it is an IP address: it goes to an inet)."""
    state = request.scope["state"]
    client = request.client.host if request.client else None
    return RequestInfo(request_id=state["request_id"], client_addr=_inet(client) if client else None,
                       client_request_id=state.get("client_request_id"))


async def tokens(request: Request) -> Tokens:
    issuer: Tokens = request.app.state.tokens
    return issuer


async def public_db(request: Request) -> Db:
    return Db(request.app.state.pool, request.app.state.settings, None, request_info(request))


async def gate(request: Request) -> Gate:
    crypt_gate: Gate = request.app.state.gate
    return crypt_gate


CallerConn = Annotated[Db, Depends(caller_db)]
PublicConn = Annotated[Db, Depends(public_db)]
TokenIssuer = Annotated[Tokens, Depends(tokens)]
CryptGate = Annotated[Gate, Depends(gate)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", pattern=r"^[\x21-\x7e]{1,255}$",
           description="Makes a creating POST safe to retry: the same key and body return the first answer."),
]
