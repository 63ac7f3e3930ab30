"""User administration (administrators): list, disable, enable, unlock, set role. The SQL checks the role."""

from __future__ import annotations

from fastapi import APIRouter

from api.http.deps import CallerConn
from api.http.errors import PROTECTED, responses
from api.http.models import ObjectId, Out, Page, Role, Strict, UtcTime

router = APIRouter(prefix="/users", tags=["users"])


class UserAccount(Out):
    user_id: int
    """The account's id."""
    username: str
    """The name the account logs in with."""
    email: str | None = None
    """The account's e-mail address, if given."""
    role: Role
    """user (orders, notes, vault), admin (also every order, users and keys) or auditor (reads the logs)."""
    is_active: bool
    """False once disabled: the account cannot log in and its tokens stop working."""
    failed_logins: int | None = None
    """Failed logins since the last success."""
    locked_until: UtcTime | None = None
    """Locked out until then after too many failed logins (UTC); null if not locked."""
    locked_until_unlocked: bool = False
    """Locked until an administrator unlocks it (after the hard limit of consecutive failures)."""
    last_login_at: UtcTime | None = None
    """The last successful login (UTC)."""
    created_at: UtcTime | None = None
    """When the account was made (UTC)."""


class UserPage(Page[UserAccount]):
    """Every account (never paged)."""


class RoleChange(Strict):
    role: Role
    """The new role; the account's tokens stop working, so it logs in again."""


ADMIN = {**PROTECTED, **responses(404)}


@router.get("", summary="Every account", responses=PROTECTED)
async def list_users(db: CallerConn) -> UserPage:
    return UserPage(items=await db.call_all("api.list_users"), next=None)


@router.post("/{user_id}/disable", summary="Disable an account (its tokens stop working)", responses=ADMIN)
async def disable_user(user_id: ObjectId, db: CallerConn) -> UserAccount:
    return UserAccount.model_validate(await db.call_one("api.disable_user", user_id))


@router.post("/{user_id}/enable", summary="Enable an account", responses=ADMIN)
async def enable_user(user_id: ObjectId, db: CallerConn) -> UserAccount:
    return UserAccount.model_validate(await db.call_one("api.enable_user", user_id))


@router.post("/{user_id}/unlock", summary="Lift a lockout", responses=ADMIN)
async def unlock_user(user_id: ObjectId, db: CallerConn) -> UserAccount:
    return UserAccount.model_validate(await db.call_one("api.unlock_user", user_id))


@router.put("/{user_id}/role", summary="Set an account's role (its tokens stop working)", responses=ADMIN)
async def set_role(user_id: ObjectId, body: RoleChange, db: CallerConn) -> UserAccount:
    return UserAccount.model_validate(await db.call_one("api.set_role", user_id, body.role))
