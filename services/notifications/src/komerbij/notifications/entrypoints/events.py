"""Consumed events: the runtime hands over runs of parsed events; routing records their deliveries set-based, in the
inbox transaction (one by one, the same rows cost ~7× the round trips; see BENCHMARKS.md, scenario 3).

An event whose id marks it as the replay of one of our delivery letters (`komerbij dlq replay`) is not routed to
everyone again: it sends the one delivery that failed again (adapters/deadletters.py)."""

from __future__ import annotations

from datetime import UTC, datetime

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
from komerbij.contracts.events.newsletter import NewsletterSent
from komerbij.contracts.events.registration import (
    ActivityCancelled,
    ActivityPublished,
    SignupActivityChanged,
    SignupCancelled,
    SignupConfirmed,
    SignupPromoted,
    SignupWaitlisted,
)
from komerbij.notifications.adapters.deadletters import redeliver, redelivery_of
from komerbij.notifications.service.newsletters import take_edition
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
        conn = batch[0][1].conn
        routed = []
        for event, ctx in batch:
            failed = redelivery_of(ctx.attributes.id)
            if failed is None:
                routed.append((event, ctx.attributes, ctx.topic))
            else:
                await redeliver(conn, *failed, data=event.model_dump(mode="json"), attributes=ctx.attributes,
                                now=datetime.now(UTC))
        await record_deliveries_many(conn, routed)

    @events.on(NewsletterSent)
    async def on_newsletter(event: NewsletterSent, ctx: EventContext) -> None:
        """An edition of the nieuwsflits: its recipients are recorded here, released at the relay's pace by a job."""
        failed = redelivery_of(ctx.attributes.id)
        if failed is not None:  # a replayed letter of one failed mail: that mail again, not the whole edition
            await redeliver(ctx.conn, *failed, data=event.model_dump(mode="json"), attributes=ctx.attributes,
                            now=datetime.now(UTC))
            return
        await take_edition(ctx.conn, event, ctx.attributes, ctx.topic, datetime.now(UTC))

    return events
