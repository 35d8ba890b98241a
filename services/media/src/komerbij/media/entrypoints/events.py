"""What media consumes: the agenda (registration.activities) for the nieuwsflits' "Uitgelicht", and the delivery
progress notifications reports for sent editions. Each handler runs in the runtime's inbox transaction, so a
redelivered event changes nothing twice."""

from __future__ import annotations

from komerbij.contracts.events.newsletter import NewsletterProgress
from komerbij.contracts.events.registration import (
    ActivityCancelled,
    ActivityEvent,
    ActivityPublished,
    ActivityRejected,
    ActivityUpdated,
)
from komerbij.media.service import newsletters
from komerbij.runtime.consumer import EventContext, EventRouter


def make_event_router(group: str = "media") -> EventRouter:
    events = EventRouter(group)

    @events.on(ActivityPublished, ActivityUpdated, ActivityCancelled, ActivityRejected)
    async def on_activity(event: ActivityEvent, ctx: EventContext) -> None:
        await newsletters.take_activity(ctx.conn, event, ctx.attributes.time)

    @events.on(NewsletterProgress)
    async def on_progress(event: NewsletterProgress, ctx: EventContext) -> None:
        await newsletters.take_progress(ctx.conn, event)

    return events
