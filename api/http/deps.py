"""The typed dependencies routes declare: who calls, the database handle, the Idempotency-Key.

    CurrentUser     the verified access token (401 with WWW-Authenticate: Bearer otherwise)
    CallerConn      a Db whose calls run as that caller (api.begin_request first in each transaction)
    PublicConn      a Db for the routes that come before a token: register, login, refresh
    IdempotencyKey  the optional Idempotency-Key header, checked for form
    CryptGate       the gate every call that can run crypt() passes (budgets, hashing slots)

Every dependency is `async def`: FastAPI runs a plain `def` one in a worker thread, a hop that cost about a
tenth of a request's Python time; none of these blocks.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer

from api.http.calls import Db, RequestInfo
from api.http.errors import not_authenticated
from api.http.security import Caller, Tokens
from api.http.throttle import Gate

# The lock in Swagger UI, and its Authorize form posting username/password to /login.
oauth2 = OAuth2PasswordBearer(tokenUrl="login", auto_error=False, scheme_name="bearer",
                              description="Log in with your username and password; the API returns a bearer token.")


def request_info(request: Request) -> RequestInfo:
    """The request id and the client's address (only if it is an IP address: it goes to an inet)."""
    client = request.client.host if request.client else None
    try:
        address = str(ipaddress.ip_address(client)) if client else None
    except ValueError:
        address = None
    return RequestInfo(request_id=request.state.request_id, client_addr=address,
                       client_request_id=getattr(request.state, "client_request_id", None))


async def tokens(request: Request) -> Tokens:
    issuer: Tokens = request.app.state.tokens
    return issuer


async def current_user(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Caller:
    if not token:
        raise not_authenticated()
    issuer: Tokens = request.app.state.tokens
    caller = issuer.verify_access(token)
    request.state.user_id = caller.user_id  # for the API-call record, never for a decision
    return caller


CurrentUser = Annotated[Caller, Depends(current_user)]


async def caller_db(request: Request, caller: CurrentUser) -> Db:
    return Db(request.app.state.pool, request.app.state.settings, caller, request_info(request))


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
