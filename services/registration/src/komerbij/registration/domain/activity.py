"""Activities for the week: what they are, who may change them, and the moderation states they go through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from komerbij.registration.domain.violations import RuleViolation, StateConflict

Status = Literal["submitted", "published", "rejected", "cancelled"]
STATUSES: tuple[Status, ...] = ("submitted", "published", "rejected", "cancelled")

# Slug → the Dutch label people see (agenda, calendar). The slugs are the API values.
CATEGORIES: dict[str, str] = {
    "eettafel": "Eettafel / samen eten",
    "koffie_ontmoeting": "Koffie & ontmoeting",
    "wandelen_bewegen": "Wandelen & bewegen",
    "sport_spel": "Sport & spel",
    "creatief": "Creatief / kunst & cultuur",
    "muziek": "Muziek",
    "natuur": "Natuur",
    "informatiemarkt": "Informatiemarkt",
    "themabijeenkomst": "Themabijeenkomst / training",
    "netwerkbijeenkomst": "Netwerkbijeenkomst",
    "online_telefonisch": "Online / telefonisch",
    "overig": "Overig",
}
TARGET_GROUPS: dict[str, str] = {
    "ouderen": "Ouderen",
    "jongeren": "Jongeren",
    "iedereen": "Iedereen",
    "vrijwilligers": "Vrijwilligers",
    "professionals": "Professionals",
}
# What the public reads about an activity and could be misled by: a change of these by an organiser who is not
# trusted waits for a moderator while the activity is published (phone: how to join a remote activity, like a link).
HELD_FIELDS: tuple[str, ...] = ("title", "description", "starts_at", "ends_at", "venue", "online_url", "phone",
                                "contact")
# A change of these is news for everyone who signed up.
TIME_AND_PLACE: tuple[str, ...] = ("starts_at", "ends_at", "venue", "online_url", "phone")
DEFAULT_MAX_PARTY_SIZE = 4
MAX_PARTY_SIZE = 20

ACCESSIBILITY: dict[str, str] = {
    "wheelchair": "Rolstoeltoegankelijk",
    "hearing_loop": "Ringleiding",
    "sign_language": "Gebarentolk",
    "accessible_toilet": "Aangepast toilet",
    "assistance_dogs": "Hulphonden welkom",
    "easy_language": "In eenvoudige taal",
}


@dataclass(frozen=True)
class Venue:
    name: str
    street: str
    postcode: str
    city: str


@dataclass(frozen=True)
class Contact:
    name: str
    email: str | None
    phone: str | None


@dataclass
class Activity:
    id: str
    edition_year: int
    status: Status
    title: str
    description: str
    category: str
    starts_at: datetime
    ends_at: datetime
    venue: Venue | None
    online_url: str | None
    phone: str | None
    municipality: str | None
    province: str | None
    target_groups: list[str]
    capacity: int | None
    price_eur: float
    accessibility: list[str]
    contact: Contact
    kom_erbij: bool
    owner_subject: str
    owner_municipality: str | None = None
    owner_partner: str | None = None
    reject_reason: str | None = None
    sequence: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    published_at: datetime | None = None
    seats_taken: int = 0  # places held by confirmed sign-ups, as read from the database
    max_party_size: int = DEFAULT_MAX_PARTY_SIZE  # largest party one sign-up may bring, set by the organiser

    @property
    def owner_organisation(self) -> str | None:
        """Who owns it: the organisation its organiser acted for (see `Principal.organisation`), not the person."""
        if self.owner_municipality:
            return self.owner_municipality
        return f"partner:{self.owner_partner}" if self.owner_partner else None

    @property
    def online(self) -> bool:
        """Remote (no venue) or with an online way to join."""
        return self.venue is None or self.online_url is not None

    @property
    def free(self) -> bool:
        return self.price_eur == 0

    @property
    def location(self) -> str:
        """One line saying where to go (or how to join), for mails and calendars."""
        if self.venue is not None:
            v = self.venue
            return f"{v.name}, {v.street}, {v.postcode} {v.city}"
        if self.online_url:
            return f"Online: {self.online_url}"
        return f"Telefonisch: {self.phone}"

    @property
    def in_public_calendar(self) -> bool:
        """Published activities, and cancelled ones people may already have in their calendar."""
        return self.status == "published" or (self.status == "cancelled" and self.published_at is not None)


def check_schedule(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise RuleViolation("ends_at", "de eindtijd moet na de begintijd liggen")
    if (ends_at - starts_at).days >= 8:
        raise RuleViolation("ends_at", "een activiteit duurt hooguit een week")


def check_whereabouts(venue: Venue | None, online_url: str | None, phone: str | None) -> None:
    """People must know where to go or how to join: a venue, or for remote activities a link or phone number."""
    if venue is None and not online_url and not phone:
        message = "geef een locatie op, of bij een activiteit op afstand een link of telefoonnummer"
        raise RuleViolation("venue", message)


def check_contact(contact: Contact) -> None:
    if not contact.email and not contact.phone:
        raise RuleViolation("contact", "geef een e-mailadres of telefoonnummer voor vragen")


def check_transition(current: Status, target: Status) -> None:
    """submitted → published | rejected; submitted or published → cancelled. Nothing leaves cancelled."""
    allowed: dict[Status, set[Status]] = {
        "submitted": {"published", "rejected", "cancelled"},
        "published": {"cancelled"},
        "rejected": {"submitted", "cancelled"},
        "cancelled": set(),
    }
    if target not in allowed[current]:
        raise StateConflict(f"een activiteit met status '{current}' kan niet naar '{target}'")
