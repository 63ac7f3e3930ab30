"""Accounts and sessions: register, login, refresh, logout, the caller's own account.

Login and password change are one SQL call each (the check, the lockout and the new session decided in
SQL); they return a status row instead of raising (so the audit row of a failed attempt commits), and this
module maps each status to HTTP, which is the only decision it makes. Every call that can run crypt()
passes the CryptGate first (api/http/throttle.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import Field, ValidationError

from api.http.calls import Db
from api.http.deps import CallerConn, CryptGate, PublicConn, TokenIssuer
from api.http.errors import PROTECTED, PUBLIC, Problem, not_authenticated, responses
from api.http.models import Email, Name, Out, Password, Role, Strict, UtcTime, text
from api.http.security import Issued, Tokens, new_jti, token_hash
from api.rules import ACCOUNT_DISABLED

router = APIRouter(tags=["accounts"])


class Registration(Strict):
    username: Name
    """The name to log in with: 3-64 characters (letters, digits, `.`, `_`, `-`), unique regardless of case."""
    password: Password
    """At least 12 characters, not a common password, not containing the username."""
    email: Email | None = None
    """An e-mail address for the account (optional; unique)."""


DeviceToken = Annotated[str | None, text(4096), Field(
    description="The device token an earlier login from this device returned: its attempts are then counted "
    "apart from strangers', whose failures cannot lock this device out.")]


class Credentials(Strict):
    username: Name
    """The account's username."""
    password: Password
    """The account's password."""
    device_token: DeviceToken = None


class RefreshRequest(Strict):
    refresh_token: Annotated[str, text(4096)]
    """The refresh token of the last pair; it works once."""


class LogoutRequest(Strict):
    refresh_token: str | None = None
    """This session's refresh token, so it stops working too (recommended)."""


class NewPassword(Strict):
    current_password: Password
    """The password now (checked like a login: failures count towards the lockout)."""
    new_password: Password
    """The new password (the same policy as at registration)."""
    device_token: DeviceToken = None


class Account(Out):
    user_id: int
    """The account's id."""
    username: str
    """The name the account logs in with."""
    email: str | None = None
    """The account's e-mail address, if given."""
    role: Role
    """user, admin or auditor."""
    created_at: UtcTime | None = None
    """When the account was made (UTC)."""


class Me(Account):
    is_active: bool
    """False once an admin disabled the account."""
    locked_until: UtcTime | None = None
    """Locked out until then after too many failed logins (UTC)."""
    locked_until_unlocked: bool = False
    """Locked until an administrator unlocks it (after the hard limit of consecutive failures)."""
    last_login_at: UtcTime | None = None
    """The last successful login (UTC)."""


class TokenPair(Out):
    access_token: str
    """Send as `Authorization: Bearer <token>`."""
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2.0 token type, not a secret
    """Always `bearer`."""
    expires_in: int
    """Seconds until the access token expires."""
    refresh_token: str
    """Exchange at `/token/refresh` for a new pair (single use)."""
    refresh_expires_in: int
    """Seconds until the refresh token expires."""
    device_token: str | None = Field(default=None, description="Keep it and send it with the next login from "
                                     "this device (login only).")


LOGIN_REFUSED = {
    "bad_credentials": (401, "bad_credentials", "The username or password is wrong."),
    "disabled": (401, "account_disabled", ACCOUNT_DISABLED),
}


def _refused(status: str, locked_until: datetime | None) -> Problem:
    """The HTTP face of a login (or password check) that did not succeed."""
    if status == "locked" and locked_until is None:
        return Problem(429, "account_locked", "Too many failed logins: the account is locked until an "
                       "administrator unlocks it.")
    if status == "locked" and locked_until is not None:
        wait = max(1, int((locked_until - datetime.now(locked_until.tzinfo)).total_seconds()))
        return Problem(429, "account_locked", "Too many failed logins: the account is locked for a while.",
                       headers={"Retry-After": str(wait)})
    code, name, detail = LOGIN_REFUSED.get(status, (401, "bad_credentials", "The username or password is wrong."))
    return Problem(code, name, detail, headers={"WWW-Authenticate": "Bearer"})


def _pair(tokens: Tokens, user_id: int, role: str, token_version: int, session_id: object, refresh: Issued,
          device_token: str | None = None) -> TokenPair:
    """The token pair of one session: the access token carries the session's id and dies with it."""
    access = tokens.access(user_id, role, token_version, str(session_id))
    return TokenPair(access_token=access.token, expires_in=access.expires_in, refresh_token=refresh.token,
                     refresh_expires_in=refresh.expires_in, device_token=device_token)


async def _credentials(request: Request) -> Credentials:
    """JSON `{username, password}`, or the OAuth2 password form Swagger's Authorize button posts."""
    try:
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            fields = {"username": form.get("username"), "password": form.get("password")}
            if form.get("device_token"):
                fields["device_token"] = form.get("device_token")
            return Credentials.model_validate(fields)
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
async def register(body: Registration, db: PublicConn, gate: CryptGate) -> Account:
    # Charged like a login attempt, and one crypt() like a login: an answer "email taken" costs as much. Its
    # failures go to a register budget of the name, never to the login budget of the account that has it.
    async with gate.crypt(db.info.client_addr, username=f"register:{body.username}"):
        return Account.model_validate(await db.call_one("api.register", body.username, body.password,
                                                        _pepper(db), body.email))


@router.post("/login", summary="Log in: an access token, a refresh token and expires_in",
             responses={**PUBLIC, **responses(401, 429)}, openapi_extra=LOGIN_BODY)
async def login(body: Annotated[Credentials, Depends(_credentials)], db: PublicConn, gate: CryptGate,
                tokens: TokenIssuer) -> TokenPair:
    device = tokens.device_id(body.device_token, username=body.username)
    jti, new_device = new_jti(), new_jti()
    async with gate.crypt(db.info.client_addr, username=body.username, device_id=device) as attempt:
        row = await db.call_one("api.login", body.username, body.password, _pepper(db), db.info.client_addr,
                                db.info.request_id, token_hash(device) if device else None, token_hash(new_device),
                                token_hash(jti), f"{tokens.refresh_seconds} seconds")
        if row["status"] != "ok":
            attempt.failed()
            raise _refused(row["status"], row["locked_until"])
    user_id = row["user_id"]
    issued = tokens.device(user_id, body.username, new_device) if row["device_issued"] else body.device_token
    return _pair(tokens, user_id, row["role"], row["token_version"], row["session_id"], tokens.refresh(user_id, jti),
                 issued)


@router.post("/token/refresh", summary="Exchange a refresh token (single use) for a new pair",
             responses={**PUBLIC, **responses(401)})
async def refresh(body: RefreshRequest, db: PublicConn, tokens: TokenIssuer) -> TokenPair:
    claims = tokens.verify_refresh(body.refresh_token)
    following = tokens.refresh(claims.user_id)
    row = await db.call_one("api.refresh_session", token_hash(claims.jti), token_hash(following.jti),
                            f"{tokens.refresh_seconds} seconds")
    if row["status"] != "ok":
        raise not_authenticated("The refresh token is no longer valid: log in again.")
    return _pair(tokens, row["user_id"], row["role"], row["token_version"], row["session_id"], following)


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
async def change_password(body: NewPassword, db: CallerConn, tokens: TokenIssuer, gate: CryptGate) -> TokenPair:
    assert db.caller is not None
    caller = db.caller
    refresh = tokens.refresh(caller.user_id)
    device = tokens.device_id(body.device_token, user_id=caller.user_id)
    async with gate.crypt(db.info.client_addr, user_id=caller.user_id, device_id=device) as attempt:
        row = await db.call_one("api.change_password", body.current_password, body.new_password, _pepper(db),
                                token_hash(device) if device else None, token_hash(refresh.jti),
                                f"{tokens.refresh_seconds} seconds")
        if row["status"] != "ok":
            attempt.failed()
            raise _refused(row["status"], row["locked_until"])
    return _pair(tokens, caller.user_id, caller.role, row["token_version"], row["session_id"], refresh)
