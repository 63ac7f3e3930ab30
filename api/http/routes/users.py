"""User administration (administrators): list, disable, enable, unlock, set role. The SQL checks the role."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter

from api.http.deps import CallerConn
from api.http.errors import PROTECTED, responses
from api.http.models import ObjectId, Out, Strict, text

router = APIRouter(prefix="/users", tags=["users"])


class UserAccount(Out):
    user_id: int
    username: str
    email: str | None = None
    role: str
    is_active: bool
    failed_logins: int | None = None
    locked_until: datetime | None = None
    locked_until_unlocked: bool = False
    last_login_at: datetime | None = None
    created_at: datetime | None = None


class RoleChange(Strict):
    role: Annotated[str, text(20)]


ADMIN = {**PROTECTED, **responses(404)}


@router.get("", summary="Every account", responses=PROTECTED)
async def list_users(db: CallerConn) -> list[UserAccount]:
    return [UserAccount.model_validate(r) for r in await db.call_all("api.list_users")]


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
