"""Consumed events: the runtime hands over runs of parsed events; routing records their deliveries set-based, in the
inbox transaction (one by one, the same rows cost ~7× the round trips; see BENCHMARKS.md, scenario 3)."""

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
    SignupActivityChanged,
    SignupCancelled,
    SignupConfirmed,
    SignupPromoted,
    SignupWaitlisted,
)
from komerbij.notifications.service.routing import record_deliveries_many
from komerbij.runtime.consumer import EventContext, EventRouter

ROUTED: tuple[type[Event], ...] = (
    ActivityPublished, ActivityCancelled, MentionRecorded,
    SignupConfirmed, SignupWaitlisted, SignupPromoted, SignupCancelled, SignupActivityChanged,
    OrderPlaced, OrderConfirmed, OrderRejected, OrderPicking, OrderShipped, OrderDelivered, OrderCancelled,
    StockLow,
)


def make_event_router(group: str) -> EventRouter:
    events = EventRouter(group)

    @events.on_batch(*ROUTED)
    async def on_events(batch: list[tuple[Event, EventContext]]) -> None:
        await record_deliveries_many(batch[0][1].conn, [(event, ctx.attributes, ctx.topic) for event, ctx in batch])

    return events
