"""Events of the materials service: kit orders through their lifecycle, and stock changes."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import BaseModel

from komerbij.contracts.events.base import Event
from komerbij.contracts.topics import MATERIALS_ORDERS, MATERIALS_STOCK


class OrderLine(BaseModel):
    sku: str
    quantity: int


class OrderEvent(Event):
    """The orderer's contact travels with the order so notifications can mail without calling back."""

    TOPIC: ClassVar[str] = MATERIALS_ORDERS.name
    KEY_FIELD: ClassVar[str] = "order_id"

    order_id: str
    municipality: str
    edition_year: int
    status: str
    lines: list[OrderLine]
    organisation: str
    contact_email: str | None
    contact_phone: str | None = None
    wanted_by: date | None = None


class OrderPlaced(OrderEvent):
    TYPE: ClassVar[str] = "nl.komerbij.materials.order.placed.v1"


class OrderConfirmed(OrderEvent):
    TYPE: ClassVar[str] = "nl.komerbij.materials.order.confirmed.v1"


class OrderRejected(OrderEvent):
    TYPE: ClassVar[str] = "nl.komerbij.materials.order.rejected.v1"

    reason: Literal["out_of_stock", "quota_exceeded", "window_closed"]
    message: str | None = None  # the reason in Dutch for the organiser (e.g. the date the order window closed)


class OrderPicking(OrderEvent):
    TYPE: ClassVar[str] = "nl.komerbij.materials.order.picking.v1"


class OrderShipped(OrderEvent):
    TYPE: ClassVar[str] = "nl.komerbij.materials.order.shipped.v1"

    carrier: str
    tracking_code: str


class OrderDelivered(OrderEvent):
    TYPE: ClassVar[str] = "nl.komerbij.materials.order.delivered.v1"


class OrderCancelled(OrderEvent):
    TYPE: ClassVar[str] = "nl.komerbij.materials.order.cancelled.v1"


class StockEvent(Event):
    TOPIC: ClassVar[str] = MATERIALS_STOCK.name
    KEY_FIELD: ClassVar[str] = "sku"

    sku: str
    name: str
    stock_on_hand: int
    reserved: int


class StockAdjusted(StockEvent):
    TYPE: ClassVar[str] = "nl.komerbij.materials.stock.adjusted.v1"

    delta: int
    reason: str


class StockLow(StockEvent):
    TYPE: ClassVar[str] = "nl.komerbij.materials.stock.low.v1"

    threshold: int


EVENTS: tuple[type[Event], ...] = (
    OrderPlaced,
    OrderConfirmed,
    OrderRejected,
    OrderPicking,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    StockAdjusted,
    StockLow,
)
