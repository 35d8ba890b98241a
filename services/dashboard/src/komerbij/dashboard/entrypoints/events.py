"""Consumed events: every event that changes a figure, from the four topics the dashboard reads. The runtime gives
each run of them to `projection.apply` with the inbox in the same transaction, so a redelivered event has no second
effect; the rows' versions make the order of arrival irrelevant (domain/entities.py).

Not read: `SignupActivityChanged` (a new time or place changes no figure), materials' stock events and the
notifications' deliveries."""

from __future__ import annotations

from komerbij.contracts.events import materials as mat
from komerbij.contracts.events import media as med
from komerbij.contracts.events import registration as reg
from komerbij.contracts.events.base import Event
from komerbij.dashboard.service import projection
from komerbij.runtime.consumer import EventRouter

CONSUMED: tuple[type[Event], ...] = (
    reg.ActivitySubmitted, reg.ActivityPublished, reg.ActivityRejected, reg.ActivityUpdated, reg.ActivityCancelled,
    reg.SignupConfirmed, reg.SignupWaitlisted, reg.SignupPromoted, reg.SignupCancelled,
    mat.OrderPlaced, mat.OrderConfirmed, mat.OrderRejected, mat.OrderPicking, mat.OrderShipped, mat.OrderDelivered,
    mat.OrderCancelled,
    med.MentionRecorded, med.MentionUpdated, med.MentionFeatured,
)


def make_event_router(group: str) -> EventRouter:
    events = EventRouter(group)
    events.on_batch(*CONSUMED)(projection.apply)
    return events
