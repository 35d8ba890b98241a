"""Use cases that move an order along: cancel by the orderer, and the fulfilment partner's picking, shipping and
delivery. Each locks the order row first and then the stock rows in SKU order, like placement, so they cannot
deadlock with it; each moves stock so that on hand + reserved + shipped stays the same."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import cast

from komerbij.contracts.events.materials import (
    OrderCancelled,
    OrderDelivered,
    OrderEvent,
    OrderPicking,
    OrderShipped,
)
from komerbij.materials.adapters import orders, stock
from komerbij.materials.domain.orders import (
    CLOSED,
    KitOrder,
    Status,
    TransitionNotAllowed,
    UnknownOrder,
    check_shipping,
    check_transition,
)
from komerbij.materials.service.orders import event_fields
from komerbij.runtime.service import Runtime, UnitOfWork

FULFILMENT_EVENTS: dict[str, type[OrderEvent]] = {
    "picking": OrderPicking, "shipped": OrderShipped, "delivered": OrderDelivered,
}


def _order_key(order_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(order_id)
    except ValueError:
        raise UnknownOrder(order_id) from None


async def _locked(uow: UnitOfWork, order_id: str) -> KitOrder:
    order = await orders.get(uow.conn, _order_key(order_id), for_update=True)
    if order is None:
        raise UnknownOrder(order_id)
    return order


async def cancel_order(rt: Runtime, order_id: str, now: datetime, *, municipality: str | None) -> KitOrder:
    """Cancel before picking starts; the reserved stock goes back on the shelf and the quota is free again.
    `municipality` (None for admin) is checked under the lock so an order of another municipality stays unknown."""
    async with rt.uow() as uow:
        order = await _locked(uow, order_id)
        if municipality is not None and order.municipality != municipality:
            raise UnknownOrder(order_id)
        check_transition(order.status, "cancelled")
        key = _order_key(order_id)
        await orders.give_back_quota(uow.conn, order.municipality, order.edition_year, order.lines)
        for sku, quantity in (await orders.reservations(uow.conn, key)).items():
            await stock.release(uow.conn, sku, quantity)
        await orders.set_status(uow.conn, key, "cancelled", now, closes=True)
        cancelled = replace(order, status="cancelled", updated_at=now)
        await uow.emit(OrderCancelled(**event_fields(cancelled)))
        return cancelled


async def change_status(
    rt: Runtime, order_id: str, target: str, now: datetime, *, carrier: str | None = None,
    tracking_code: str | None = None,
) -> KitOrder:
    """The fulfilment partner's moves: confirmed → picking → shipped (carrier, tracking code) → delivered."""
    async with rt.uow() as uow:
        order = await _locked(uow, order_id)
        event_class = FULFILMENT_EVENTS.get(target)
        if event_class is None:  # e.g. "cancelled" or "confirmed": not the fulfilment partner's move
            raise TransitionNotAllowed(order.status, target)
        status = cast(Status, target)
        check_transition(order.status, status)
        check_shipping(status, carrier, tracking_code)
        key = _order_key(order_id)
        shipping: dict[str, str] = {}
        if status == "shipped":
            shipping = {"carrier": (carrier or "").strip(), "tracking_code": (tracking_code or "").strip()}
            for sku, quantity in (await orders.reservations(uow.conn, key)).items():
                await stock.ship(uow.conn, sku, quantity)
        await orders.set_status(uow.conn, key, status, now, closes=status in CLOSED, **shipping)
        moved = replace(order, status=status, updated_at=now, **shipping)
        await uow.emit(event_class(**event_fields(moved), **shipping))
        return moved
