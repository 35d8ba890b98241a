"""Events of the registration service: activities (public agenda) and sign-ups (personal data, short retention)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel

from komerbij.contracts.events.base import Event
from komerbij.contracts.topics import REGISTRATION_ACTIVITIES, REGISTRATION_SIGNUPS


class Venue(BaseModel):
    name: str
    street: str
    postcode: str
    city: str


class ActivityEvent(Event):
    """What a consumer needs to tell people about an activity without calling registration back."""

    TOPIC: ClassVar[str] = REGISTRATION_ACTIVITIES.name
    KEY_FIELD: ClassVar[str] = "activity_id"

    activity_id: str
    edition_year: int
    title: str
    category: str
    starts_at: datetime
    ends_at: datetime
    municipality: str | None
    province: str | None
    online: bool
    venue: Venue | None = None
    online_url: str | None = None
    owner_municipality: str | None = None
    owner_partner_id: str | None = None
    url: str | None = None


class ActivitySubmitted(ActivityEvent):
    TYPE: ClassVar[str] = "nl.komerbij.registration.activity.submitted.v1"


class ActivityPublished(ActivityEvent):
    TYPE: ClassVar[str] = "nl.komerbij.registration.activity.published.v1"


class ActivityRejected(ActivityEvent):
    TYPE: ClassVar[str] = "nl.komerbij.registration.activity.rejected.v1"

    reason: str


class ActivityUpdated(ActivityEvent):
    TYPE: ClassVar[str] = "nl.komerbij.registration.activity.updated.v1"

    changed_fields: list[str]


class ActivityCancelled(ActivityEvent):
    TYPE: ClassVar[str] = "nl.komerbij.registration.activity.cancelled.v1"


class SignupEvent(Event):
    """Carries the participant's contact and cancel link: the topic's retention is bounded for that reason."""

    TOPIC: ClassVar[str] = REGISTRATION_SIGNUPS.name
    KEY_FIELD: ClassVar[str] = "activity_id"

    signup_id: str
    activity_id: str
    activity_title: str
    starts_at: datetime
    ends_at: datetime
    municipality: str | None
    location: str
    name: str
    email: str | None
    phone: str | None
    party_size: int
    cancel_url: str
    owner_municipality: str | None = None
    owner_partner_id: str | None = None
    activity_url: str | None = None


class SignupConfirmed(SignupEvent):
    TYPE: ClassVar[str] = "nl.komerbij.registration.signup.confirmed.v1"


class SignupWaitlisted(SignupEvent):
    TYPE: ClassVar[str] = "nl.komerbij.registration.signup.waitlisted.v1"

    waitlist_position: int


class SignupPromoted(SignupEvent):
    TYPE: ClassVar[str] = "nl.komerbij.registration.signup.promoted.v1"


class SignupCancelled(SignupEvent):
    TYPE: ClassVar[str] = "nl.komerbij.registration.signup.cancelled.v1"

    # "participant" (used the cancel link) or "activity_cancelled" (the organiser called the activity off)
    reason: str | None = None


EVENTS: tuple[type[Event], ...] = (
    ActivitySubmitted,
    ActivityPublished,
    ActivityRejected,
    ActivityUpdated,
    ActivityCancelled,
    SignupConfirmed,
    SignupWaitlisted,
    SignupPromoted,
    SignupCancelled,
)
