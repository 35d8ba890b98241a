"""The activity as an iCalendar file (RFC 5545, `icalendar`) for a participant's mail: one VEVENT, METHOD:PUBLISH.

Its UID is the one registration writes in its agenda feed and `.ics` (`contracts...registration.activity_uid`), so a
calendar app that has both keeps one event. Times are written in Europe/Amsterdam with the zone's definition.

Every confirmation mail carries one, so it is made on the dispatcher's hot path: building the VTIMEZONE and writing
it out took two thirds of an invite's ~1.4–2.4 ms (py-spy, end-to-end benchmark: a third of the dispatcher's CPU per
mail). The calendar's own lines and the zone of a year are the same for every invite, so icalendar writes them once
per process and each invite writes only its VEVENT; the file is those parts in the order `Calendar.to_ical()` puts
them (the calendar's properties, its subcomponents, END), byte for byte what one `to_ical()` of the whole would give
(`tests/notifications/test_calendar.py` compares them).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache

from icalendar import Calendar, Event, Timezone

from komerbij.contracts.events.registration import activity_uid
from komerbij.notifications.domain.digest import AMSTERDAM

FILENAME = "activiteit.ics"
_END = b"END:VCALENDAR\r\n"


def _moment(value: object) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise ValueError(f"not a moment: {value!r}")
    return moment.astimezone(AMSTERDAM)


def calendar() -> Calendar:
    """The calendar around the event, without it."""
    cal = Calendar()
    cal.add("prodid", "-//Week tegen Eenzaamheid//komerbij notifications//NL")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    return cal


def zone(first_year: int, last_year: int) -> Timezone:
    """Europe/Amsterdam's rules from 1 January of `first_year` to 1 January after `last_year`: enough for one event
    (the feed carries more years)."""
    return Timezone.from_tzid(AMSTERDAM.key, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1))


def event(data: Mapping[str, object], *, page_url: str | None, stamp: datetime) -> Event:
    """From a sign-up event's data: the activity's title, times and location (and its page)."""
    starts, ends = _moment(data["starts_at"]), _moment(data["ends_at"])
    vevent = Event()
    vevent.add("uid", activity_uid(str(data["activity_id"])))
    vevent.add("dtstamp", stamp)
    vevent.add("dtstart", starts)
    vevent.add("dtend", ends)
    vevent.add("summary", str(data["activity_title"]))
    if data.get("location"):
        vevent.add("location", str(data["location"]))
    if page_url:
        vevent.add("url", page_url)
        vevent.add("description", f"Meer informatie: {page_url}")
    vevent.add("status", "CONFIRMED")
    return vevent


@lru_cache(maxsize=8)
def _opening(first_year: int, last_year: int) -> bytes:
    """The calendar's properties and the zone's definition: what every invite of these years starts with."""
    cal = calendar()
    cal.add_component(zone(first_year, last_year))
    written = cal.to_ical()
    if not written.endswith(_END):
        raise RuntimeError("icalendar wrote a calendar that does not end with END:VCALENDAR")
    return written.removesuffix(_END)


def activity_invite(data: Mapping[str, object], *, page_url: str | None, stamp: datetime) -> bytes:
    """The invite file: the opening of its years, the event, the end."""
    vevent = event(data, page_url=page_url, stamp=stamp)
    return _opening(_moment(data["starts_at"]).year, _moment(data["ends_at"]).year) + vevent.to_ical() + _END
