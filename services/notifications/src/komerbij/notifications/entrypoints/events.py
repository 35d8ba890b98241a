"""Consumed events: each handler parses (the runtime did) and calls the routing use case in the inbox transaction."""

from __future__ import annotations

from komerbij.contracts.events.base import Event
from komerbij.contracts.events.materials import (
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderPicking,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    StockLow,
)
from komerbij.contracts.events.media import MentionRecorded
from komerbij.contracts.events.registration import (
    ActivityCancelled,
    ActivityPublished,
    SignupCancelled,
    SignupConfirmed,
    SignupPromoted,
    SignupWaitlisted,
)
from komerbij.notifications.service.routing import record_deliveries
from komerbij.runtime.consumer import EventContext, EventRouter

ROUTED: tuple[type[Event], ...] = (
    ActivityPublished, ActivityCancelled, MentionRecorded,
    SignupConfirmed, SignupWaitlisted, SignupPromoted, SignupCancelled,
    OrderPlaced, OrderConfirmed, OrderRejected, OrderPicking, OrderShipped, OrderDelivered, OrderCancelled,
    StockLow,
)


def make_event_router(group: str) -> EventRouter:
    events = EventRouter(group)

    @events.on(*ROUTED)
    async def on_event(event: Event, ctx: EventContext) -> None:
        await record_deliveries(ctx.conn, event, ctx.attributes, event.TOPIC)

    return events
