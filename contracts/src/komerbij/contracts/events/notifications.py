"""Events of the notifications service: the outcome of each delivery (no addresses, only ids)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from komerbij.contracts.events.base import Event
from komerbij.contracts.topics import NOTIFICATIONS_DELIVERIES


class DeliveryEvent(Event):
    TOPIC: ClassVar[str] = NOTIFICATIONS_DELIVERIES.name
    KEY_FIELD: ClassVar[str] = "delivery_id"

    delivery_id: str
    event_id: str
    event_type: str
    channel: Literal["email", "webhook"]
    partner_id: str | None
    attempts: int
    at: datetime


class NotificationDelivered(DeliveryEvent):
    TYPE: ClassVar[str] = "nl.komerbij.notifications.delivery.delivered.v1"


class NotificationFailed(DeliveryEvent):
    TYPE: ClassVar[str] = "nl.komerbij.notifications.delivery.failed.v1"

    error: str


EVENTS: tuple[type[Event], ...] = (NotificationDelivered, NotificationFailed)
