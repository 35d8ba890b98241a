"""iCalendar (RFC 5545) rendering with the `icalendar` library.

UIDs are derived from the activity id only, so a calendar that subscribed to the feed updates the same event when
the activity changes (SEQUENCE counts the revisions) and shows it as cancelled rather than dropping it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from icalendar import Calendar, Event, vText

from komerbij.registration.domain.activity import CATEGORIES, Activity
from komerbij.registration.domain.edition import AMSTERDAM

UID_DOMAIN = "registration.komerbij.nl"


def uid(activity_id: str) -> str:
    return f"{activity_id}@{UID_DOMAIN}"


def _event(a: Activity, url: str) -> Event:
    event = Event()
    event.add("uid", uid(a.id))
    event.add("dtstamp", a.updated_at)
    event.add("last-modified", a.updated_at)
    event.add("dtstart", a.starts_at.astimezone(AMSTERDAM))
    event.add("dtend", a.ends_at.astimezone(AMSTERDAM))
    event.add("summary", a.title)
    event.add("description", f"{a.description}\n\nMeer informatie en aanmelden: {url}")
    event.add("location", a.location)
    event.add("url", url)
    event.add("categories", [CATEGORIES.get(a.category, a.category)])
    event.add("sequence", a.sequence)
    event.add("status", "CANCELLED" if a.status == "cancelled" else "CONFIRMED")
    if a.venue is None:
        event.add("x-komerbij-online", vText("TRUE"))
    return event


def render(activities: Iterable[Activity], *, name: str, url_of: dict[str, str]) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Week tegen Eenzaamheid//komerbij registration//NL")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Amsterdam")
    for a in activities:
        cal.add_component(_event(a, url_of[a.id]))
    # The zone definition only needs to cover the editions (the week began in 2010), not every rule since 1970.
    cal.add_missing_timezones(first_date=date(2010, 1, 1), last_date=date(2050, 1, 1))
    return cal.to_ical()
