"""Events of the registration service: activities (public agenda) and sign-ups (personal data, short retention)."""

from __future__ import annotations

import base64
import hashlib
import hmac
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


ACTIVITY_UID_DOMAIN = "registration.komerbij.nl"


def activity_uid(activity_id: str) -> str:
    """The iCalendar UID of an activity wherever one is written: registration's agenda feed and `.ics`, and the
    `.ics` that notifications attaches to a participant's confirmation. One UID makes a calendar app keep one event
    (and update it) rather than two copies."""
    return f"{activity_id}@{ACTIVITY_UID_DOMAIN}"


def cancel_token(secret: str, signup_id: str) -> str:
    """The secret of a participant's cancel link, derived from the sign-up id with a key only registration and
    notifications hold (CANCEL_LINK_SECRET). Part of the contract between them: the events carry the link without
    its token (`cancel_url`), notifications appends `?token=` when it writes the participant's mail, registration
    recognises it by its stored hash. So no working link lies in a topic for the 14 days the sign-ups are kept."""
    mac = hmac.new(secret.encode(), f"cancel-link:{signup_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


class SignupEvent(Event):
    """Carries the participant's contact; `cancel_url` is the link *without* its token (see `cancel_token`)."""

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


class SignupActivityChanged(SignupEvent):
    """The time or place of an activity changed (an approved change): one per active sign-up, so notifications can
    tell each participant without keeping a participant list of its own. Times and location are the new ones."""

    TYPE: ClassVar[str] = "nl.komerbij.registration.signup.activity_changed.v1"

    changed_fields: list[str]


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
    SignupActivityChanged,
)
