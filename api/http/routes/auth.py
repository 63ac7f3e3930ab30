"""Accounts and sessions: register, login, refresh, logout, the caller's own account.

Login returns a status row instead of raising (so the audit row of a failed attempt commits); this module
maps each status to HTTP, which is the only decision it makes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from psycopg import AsyncConnection
from pydantic import ValidationError

from api.http.calls import Db
from api.http.deps import CallerConn, Gate, PublicConn, TokenIssuer
from api.http.errors import PROTECTED, PUBLIC, Problem, not_authenticated, responses
from api.http.models import Email, Name, Out, Password, Strict, text
from api.http.security import Issued, Tokens, new_jti, token_hash
from api.rules import ACCOUNT_DISABLED

router = APIRouter(tags=["accounts"])


class Registration(Strict):
    username: Name
    password: Password
    email: Email | None = None


class Credentials(Strict):
    username: Name
    password: Password


class RefreshRequest(Strict):
    refresh_token: Annotated[str, text(4096)]


class LogoutRequest(Strict):
    refresh_token: str | None = None


class NewPassword(Strict):
    current_password: Password
    new_password: Password


class Account(Out):
    user_id: int
    username: str
    email: str | None = None
    role: str
    created_at: datetime | None = None


class Me(Account):
    is_active: bool
    locked_until: datetime | None = None
    last_login_at: datetime | None = None


class TokenPair(Out):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2.0 token type, not a secret
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


LOGIN_REFUSED = {
    "bad_credentials": (401, "bad_credentials", "The username or password is wrong."),
    "disabled": (401, "account_disabled", ACCOUNT_DISABLED),
}


def _refused(status: str, locked_until: datetime | None) -> Problem:
    """The HTTP face of a login (or password check) that did not succeed."""
    if status == "locked":
        wait = max(1, int((locked_until - datetime.now(locked_until.tzinfo)).total_seconds())) if locked_until else 60
        return Problem(429, "account_locked", "Too many failed logins: the account is locked for a while.",
                       headers={"Retry-After": str(wait)})
    code, name, detail = LOGIN_REFUSED.get(status, (401, "bad_credentials", "The username or password is wrong."))
    return Problem(code, name, detail, headers={"WWW-Authenticate": "Bearer"})


def _pair(tokens: Tokens, row: dict[str, Any], refresh: Issued) -> TokenPair:
    access = tokens.access(row["user_id"], row["role"], row["token_version"])
    return TokenPair(access_token=access.token, expires_in=access.expires_in, refresh_token=refresh.token,
                     refresh_expires_in=refresh.expires_in)


async def _credentials(request: Request) -> Credentials:
    """JSON `{username, password}`, or the OAuth2 password form Swagger's Authorize button posts."""
    try:
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            return Credentials.model_validate({"username": form.get("username"), "password": form.get("password")})
        return Credentials.model_validate_json(await request.body())
    except ValidationError as invalid:
        raise RequestValidationError(invalid.errors(include_input=False)) from None


# The body is read by _credentials (two media types), so OpenAPI is told its schema here.
LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": Credentials.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": Credentials.model_json_schema()},
        },
    }
}


def _pepper(db: Db) -> str | None:
    return db.settings.pepper.get_secret_value() if db.settings.pepper else None


@router.post("/register", status_code=201, summary="Create an account (role user)",
             responses={**PUBLIC, **responses(409, 429)})
async def register(body: Registration, db: PublicConn, gate: Gate) -> Account:
    gate.check(db.info.client_addr, body.username)
    pepper = _pepper(db)
    return Account.model_validate(await db.call_one("api.register", body.username, body.password, pepper, body.email))


@router.post("/login", summary="Log in: an access token, a refresh token and expires_in",
             responses={**PUBLIC, **responses(401, 429)}, openapi_extra=LOGIN_BODY)
async def login(body: Annotated[Credentials, Depends(_credentials)], db: PublicConn, gate: Gate,
                tokens: TokenIssuer) -> TokenPair:
    gate.check(db.info.client_addr, body.username)
    pepper = _pepper(db)
    jti = new_jti()
    ttl = f"{tokens.refresh_seconds} seconds"

    async def work(conn: AsyncConnection[Any]) -> dict[str, Any]:
        cur = await conn.execute("select status, user_id, role, token_version, locked_until"
                                 " from api.login(%s, %s, %s, %s::inet, %s)",
                                 [body.username, body.password, pepper, db.info.client_addr, db.info.request_id])
        status, user_id, role, version, until = await cur.fetchone() or ("bad_credentials", None, None, None, None)
        if status == "ok":
            await conn.execute("select api.open_session(%s, %s, %s, %s::interval)",
                               [user_id, version, token_hash(jti), ttl])
        return {"status": status, "user_id": user_id, "role": role, "token_version": version, "locked_until": until}

    row = await db.transaction(work, read_only=False, crypto=False)
    if row["status"] != "ok":
        raise _refused(row["status"], row["locked_until"])
    return _pair(tokens, row, tokens.refresh(row["user_id"], jti))


@router.post("/token/refresh", summary="Exchange a refresh token (single use) for a new pair",
             responses={**PUBLIC, **responses(401)})
async def refresh(body: RefreshRequest, db: PublicConn, tokens: TokenIssuer) -> TokenPair:
    claims = tokens.verify_refresh(body.refresh_token)
    following = tokens.refresh(claims.user_id)
    row = await db.call_one("api.refresh_session", token_hash(claims.jti), token_hash(following.jti),
                            f"{tokens.refresh_seconds} seconds")
    if row["status"] != "ok":
        raise not_authenticated("The refresh token is no longer valid: log in again.")
    return _pair(tokens, row, following)


@router.post("/logout", status_code=204, summary="End this session (its refresh tokens stop working)",
             responses=PROTECTED)
async def logout(body: LogoutRequest, db: CallerConn, tokens: TokenIssuer) -> Response:
    claims = tokens.verify_refresh(body.refresh_token) if body.refresh_token else None
    await db.call_one("api.end_session", token_hash(claims.jti) if claims else None)
    return Response(status_code=204)


@router.post("/logout/all", status_code=204, summary="Revoke every token of the caller, everywhere",
             responses=PROTECTED)
async def logout_all(db: CallerConn) -> Response:
    await db.call_one("api.logout_everywhere")
    return Response(status_code=204)


@router.get("/me", summary="The caller's account", responses=PROTECTED)
async def me(db: CallerConn) -> Me:
    return Me.model_validate(await db.call_one("api.me", read_only=True))


@router.put("/me/password", summary="Change the password; every older token is revoked, new ones returned",
            responses={**PROTECTED, **responses(429)})
async def change_password(body: NewPassword, db: CallerConn, tokens: TokenIssuer) -> TokenPair:
    pepper = _pepper(db)
    assert db.caller is not None
    refresh = tokens.refresh(db.caller.user_id)
    ttl = f"{tokens.refresh_seconds} seconds"
    caller = db.caller

    async def work(conn: AsyncConnection[Any]) -> dict[str, Any]:
        cur = await conn.execute("select status, token_version, locked_until from api.change_password(%s, %s, %s)",
                                 [body.current_password, body.new_password, pepper])
        status, version, until = await cur.fetchone() or ("bad_credentials", None, None)
        if status == "ok":
            await conn.execute("select api.open_own_session(%s, %s::interval)", [token_hash(refresh.jti), ttl])
        return {"status": status, "user_id": caller.user_id, "role": caller.role, "token_version": version,
                "locked_until": until}

    row = await db.transaction(work, read_only=False, crypto=False)
    if row["status"] != "ok":
        raise _refused(row["status"], row["locked_until"])
    return _pair(tokens, row, refresh)

