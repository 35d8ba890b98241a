"""How activities and sign-ups appear in events: everything a consumer needs without calling registration back."""

from __future__ import annotations

from typing import TypeVar

from komerbij.contracts.events import registration as ev
from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.signup import Signup

A = TypeVar("A", bound=ev.ActivityEvent)
S = TypeVar("S", bound=ev.SignupEvent)


def activity_url(base_url: str, activity_id: str) -> str:
    return f"{base_url.rstrip('/')}/v1/activities/{activity_id}"


def page_url(base_url: str, activity_id: str) -> str:
    """The activity's page for people (the agenda), which calendars link to."""
    return f"{base_url.rstrip('/')}/agenda/{activity_id}"


def cancel_url(base_url: str, signup_id: str, token: str | None) -> str:
    url = f"{base_url.rstrip('/')}/v1/signups/{signup_id}/cancel"
    return f"{url}?token={token}" if token else url


def activity_event(cls: type[A], a: Activity, base_url: str, **extra: object) -> A:
    venue = None if a.venue is None else ev.Venue(name=a.venue.name, street=a.venue.street,
                                                  postcode=a.venue.postcode, city=a.venue.city)
    return cls(
        activity_id=a.id, edition_year=a.edition_year, title=a.title, category=a.category, starts_at=a.starts_at,
        ends_at=a.ends_at, municipality=a.municipality, province=a.province, online=a.online, venue=venue,
        online_url=a.online_url, owner_municipality=a.owner_municipality, owner_partner_id=a.owner_partner,
        url=activity_url(base_url, a.id), capacity=a.capacity, status=a.status, **extra,
    )


def signup_event(cls: type[S], s: Signup, a: Activity, base_url: str, **extra: object) -> S:
    """The cancel link goes without its token: notifications derives it when writing the mail (`tokens`)."""
    return cls(
        signup_id=s.id, activity_id=a.id, activity_title=a.title, starts_at=a.starts_at, ends_at=a.ends_at,
        municipality=a.municipality, location=a.location, name=s.name or "", email=s.email, phone=s.phone,
        party_size=s.party_size, cancel_url=cancel_url(base_url, s.id, None),
        owner_municipality=a.owner_municipality, owner_partner_id=a.owner_partner,
        activity_url=activity_url(base_url, a.id), **extra,
    )
