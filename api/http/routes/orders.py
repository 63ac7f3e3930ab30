"""Orders: create (idempotent), list (status filter, keyset pages), get, change status, history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.http.deps import CallerConn, IdempotencyKey
from api.http.errors import PROTECTED, responses
from api.http.models import Cursor, Limit, ObjectId, Out, Strict, text
from api.rules import DESCRIPTION_MAX

router = APIRouter(tags=["orders"])

Status = Annotated[str, text(50)]


class NewOrder(Strict):
    description: Annotated[str, text(DESCRIPTION_MAX)]
    sensitive: bool = False


class StatusChange(Strict):
    status: Status


class Order(Out):
    id: int
    user_id: int | None
    description: str | None
    sensitive: bool
    status: str
    created_at: datetime
    updated_at: datetime | None = None


class OrderPage(Out):
    items: list[Order]
    next: int | None


class OrderEvent(Out):
    id: int
    order_id: int | None = None
    timestamp: datetime | None = None
    action: str
    details: str | None = None
    actor_id: int | None = None
    request_id: str | None = None


@router.post("/orders", status_code=201, summary="Create an order (Idempotency-Key: safe to retry)",
             responses={**PROTECTED, **responses(409)})
async def create_order(body: NewOrder, db: CallerConn, key: IdempotencyKey = None) -> Order:
    return await db.create(Order, key, "api.create_order", body.description, body.sensitive, crypto=True)


@router.get("/orders", summary="The caller's orders (an admin: all), newest first", responses=PROTECTED)
async def list_orders(db: CallerConn, status: Annotated[Status | None, Query()] = None, limit: Limit = 50,
                      cursor: Cursor = None) -> OrderPage:
    rows = await db.call_all("api.list_orders", status, cursor, limit, crypto=True)
    return OrderPage(items=[Order.model_validate(r) for r in rows],
                     next=rows[-1]["id"] if len(rows) == limit else None)


@router.get("/orders/{order_id}", summary="One order", responses={**PROTECTED, **responses(404)})
async def get_order(order_id: ObjectId, db: CallerConn) -> Order:
    return Order.model_validate(await db.call_one("api.get_order", order_id, crypto=True))


@router.patch("/orders/{order_id}", summary="Change an order's status",
              responses={**PROTECTED, **responses(404, 409)})
async def set_order_status(order_id: ObjectId, body: StatusChange, db: CallerConn) -> Order:
    return Order.model_validate(await db.call_one("api.set_order_status", order_id, body.status, crypto=True))


@router.get("/orders/{order_id}/history", summary="The order's events (order_logs), oldest first",
            responses={**PROTECTED, **responses(404)})
async def order_history(order_id: ObjectId, db: CallerConn) -> list[OrderEvent]:
    return [OrderEvent.model_validate(r) for r in await db.call_found("api.order_history", order_id)]
