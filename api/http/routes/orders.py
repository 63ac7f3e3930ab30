"""Orders: create (idempotent, in a status the caller may create), list, get, change status, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.http.deps import CallerConn, IdempotencyKey
from api.http.errors import PROTECTED, responses
from api.http.models import Cursor, Limit, ObjectId, OrderStatus, Out, Page, Strict, UtcTime, page_rows, text
from api.rules import DESCRIPTION_MAX

router = APIRouter(tags=["orders"])


class NewOrder(Strict):
    description: Annotated[str, text(DESCRIPTION_MAX)]
    """What is ordered (1-10000 characters)."""
    sensitive: bool = False
    """Store the description only encrypted (the seed's "encrypt" toggle); it is decrypted for its readers."""
    status: OrderStatus = "pending"
    """The status the order starts in. Anyone may create a pending order; an admin also a processing one
    (`GET /order-statuses` says what the caller may choose)."""


class StatusChange(Strict):
    status: OrderStatus
    """The new status: pending -> processing -> shipped, or cancelled from pending or processing. A user may
    only cancel; an admin may make any allowed move."""


class Order(Out):
    id: int
    """The order's id."""
    user_id: int | None
    """The owner's user id (null once the owner's account was deleted)."""
    description: str | None
    """What is ordered, decrypted when the order is sensitive."""
    sensitive: bool
    """Whether the description is stored only encrypted."""
    status: OrderStatus
    """Where the order is in its lifecycle."""
    created_at: UtcTime
    """When the order was created (UTC)."""
    updated_at: UtcTime | None = None
    """The last status or description change (UTC); null if none."""


class OrderPage(Page[Order]):
    """A page of orders, newest first."""


class OrderStatusInfo(Out):
    status: OrderStatus
    """The status."""
    description: str
    """What the status means."""
    may_create: bool
    """Whether the caller may create an order in this status."""
    may_set: bool
    """Whether the caller may move an order to this status (along the allowed transitions)."""


class OrderStatusPage(Page[OrderStatusInfo]):
    """Every order status in lifecycle order, with what the caller may do with each (never paged)."""


class OrderEvent(Out):
    id: int
    """The event's id in order_logs."""
    order_id: int | None = None
    """The order it is about."""
    timestamp: UtcTime | None = None
    """When it happened (UTC)."""
    action: str
    """What happened: `created` or `status_changed`."""
    details: dict[str, Any] | None = None
    """The event's facts as an object, e.g. `{"from": "pending", "to": "cancelled"}`."""
    actor_id: int | None = None
    """Who did it (user id); null for a change made directly in the database."""
    actor_name: str | None = None
    """Who did it (username), when the caller may read it: a user reads their own, an admin every one."""
    actor_role: str | None = None
    """The role it was done as: `user`, `admin`, or a database login for a change made in psql."""
    request_id: str | None = None
    """The API request that did it (its X-Request-ID)."""


class OrderEventPage(Page[OrderEvent]):
    """An order's events, oldest first (never paged)."""


@router.post("/orders", status_code=201, summary="Create an order (Idempotency-Key: safe to retry)",
             responses={**PROTECTED, **responses(409)})
async def create_order(body: NewOrder, db: CallerConn, key: IdempotencyKey = None) -> Order:
    return await db.create(Order, key, "api.create_order", body.description, body.sensitive, body.status,
                           crypto=True)


@router.get("/order-statuses", summary="The order statuses, and which the caller may create or set",
            responses=PROTECTED)
async def order_statuses(db: CallerConn) -> OrderStatusPage:
    return OrderStatusPage(items=await db.call_all("api.order_statuses"), next=None)


@router.get("/orders", summary="The caller's orders (an admin: all), newest first", responses=PROTECTED)
async def list_orders(db: CallerConn,
                      status: OrderStatus | None = Query(None, description="Only orders in this status."),  # noqa: B008
                      limit: Limit = 50, cursor: Cursor = None) -> OrderPage:
    rows, following = page_rows(await db.call_all("api.list_orders", status, cursor, limit + 1, crypto=True), limit)
    return OrderPage(items=rows, next=following)


@router.get("/orders/{order_id}", summary="One order", responses={**PROTECTED, **responses(404)})
async def get_order(order_id: ObjectId, db: CallerConn) -> Order:
    return Order.model_validate(await db.call_one("api.get_order", order_id, crypto=True))


@router.patch("/orders/{order_id}", summary="Change an order's status",
              responses={**PROTECTED, **responses(404, 409)})
async def set_order_status(order_id: ObjectId, body: StatusChange, db: CallerConn) -> Order:
    return Order.model_validate(await db.call_one("api.set_order_status", order_id, body.status, crypto=True))


@router.get("/orders/{order_id}/history", summary="The order's events (order_logs), oldest first",
            responses={**PROTECTED, **responses(404)})
async def order_history(order_id: ObjectId, db: CallerConn) -> OrderEventPage:
    return OrderEventPage(items=await db.call_found("api.order_history", order_id), next=None)
