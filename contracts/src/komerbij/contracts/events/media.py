"""Events of the media service: mentions of the week in the press and on social media."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from komerbij.contracts.events.base import Event
from komerbij.contracts.topics import MEDIA_MENTIONS


class MentionEvent(Event):
    TOPIC: ClassVar[str] = MEDIA_MENTIONS.name
    KEY_FIELD: ClassVar[str] = "mention_id"

    mention_id: str
    title: str
    url: str | None
    outlet_id: str
    outlet_name: str
    medium: str
    scope: str
    published_at: datetime
    municipalities: list[str]
    provinces: list[str] = []
    original_id: str | None = None
    # Estimated reach: the mention's own figure, else its outlet's (None: unknown). An estimate, never ad value.
    reach: int | None = None


class MentionRecorded(MentionEvent):
    TYPE: ClassVar[str] = "nl.komerbij.media.mention.recorded.v1"


class MentionUpdated(MentionEvent):
    TYPE: ClassVar[str] = "nl.komerbij.media.mention.updated.v1"

    sentiment: str | None = None
    tags: list[str] = []
    featured: bool = False


class MentionFeatured(MentionEvent):
    """Whether the mention is picked for the newsletter. `deleted`: the mention is gone for good (sent for every
    deleted mention, featured or not, with `featured` false): whoever keeps mentions drops it."""

    TYPE: ClassVar[str] = "nl.komerbij.media.mention.featured.v1"

    featured: bool
    deleted: bool = False


EVENTS: tuple[type[Event], ...] = (MentionRecorded, MentionUpdated, MentionFeatured)
