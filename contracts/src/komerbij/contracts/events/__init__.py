"""All event models, and the lookup from CloudEvents type to model that consumers route on."""

from __future__ import annotations

from komerbij.contracts.events import materials, media, newsletter, notifications, registration
from komerbij.contracts.events.base import Event

ALL_EVENTS: tuple[type[Event], ...] = (
    registration.EVENTS + materials.EVENTS + media.EVENTS + notifications.EVENTS
    + newsletter.EVENTS
)
EVENT_TYPES: dict[str, type[Event]] = {cls.TYPE: cls for cls in ALL_EVENTS}
BY_NAME: dict[str, type[Event]] = {cls.__name__: cls for cls in ALL_EVENTS}


def event_class(type_name: str) -> type[Event] | None:
    return EVENT_TYPES.get(type_name)


__all__ = ["ALL_EVENTS", "BY_NAME", "EVENT_TYPES", "Event", "event_class"]
