"""Events of the nieuwsflits, the programme's newsletter: media sends an edition, notifications reports how far its
delivery has come. The edition travels whole (content and the bodies media rendered), so notifications writes the
mails without asking media anything, and a reader gets exactly what comms previewed."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from pydantic import BaseModel

from komerbij.contracts.events.base import Event
from komerbij.contracts.topics import MEDIA_NEWSLETTERS, NOTIFICATIONS_NEWSLETTERS


class NewsletterSection(BaseModel):
    heading: str
    text: str


class NewsletterMention(BaseModel):
    mention_id: str
    outlet: str
    published_at: datetime
    title: str
    url: str | None = None


class NewsletterActivity(BaseModel):
    activity_id: str
    title: str
    starts_at: datetime
    place: str
    url: str | None = None


class NewsletterDate(BaseModel):
    day: date
    label: str


class NewsletterSent(Event):
    """Comms sent an edition. `body_html` and `body_text` are the edition as media rendered it for its preview:
    notifications puts each reader's greeting before it and the unsubscribe and preferences links after it."""

    TYPE: ClassVar[str] = "nl.komerbij.media.newsletter.sent.v1"
    TOPIC: ClassVar[str] = MEDIA_NEWSLETTERS.name
    KEY_FIELD: ClassVar[str] = "edition_id"

    edition_id: str
    number: int
    title: str
    intro: str
    sections: list[NewsletterSection] = []
    mentions: list[NewsletterMention] = []
    activities: list[NewsletterActivity] = []
    dates: list[NewsletterDate] = []
    sent_at: datetime
    archive_url: str | None = None
    body_html: str
    body_text: str


class NewsletterProgress(Event):
    """How far notifications is with delivering an edition: `total` contacts, of which `sent` have it and `failed`
    and `skipped` (unsubscribed meanwhile) never will. Counts only, no addresses; a later event replaces an earlier."""

    TYPE: ClassVar[str] = "nl.komerbij.notifications.newsletter.progress.v1"
    TOPIC: ClassVar[str] = NOTIFICATIONS_NEWSLETTERS.name
    KEY_FIELD: ClassVar[str] = "edition_id"

    edition_id: str
    total: int
    sent: int
    failed: int = 0
    skipped: int = 0
    at: datetime


EVENTS: tuple[type[Event], ...] = (NewsletterSent, NewsletterProgress)
