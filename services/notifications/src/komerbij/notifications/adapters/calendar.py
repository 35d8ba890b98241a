"""The activity as an iCalendar file (RFC 5545, `icalendar`) for a participant's mail: one VEVENT, METHOD:PUBLISH.

Its UID is the one registration writes in its agenda feed and `.ics` (`contracts...registration.activity_uid`), so a
calendar app that has both keeps one event. Times are written in Europe/Amsterdam with the zone's definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from icalendar import Calendar, Event

from komerbij.contracts.events.registration import activity_uid
from komerbij.notifications.domain.digest import AMSTERDAM

FILENAME = "activiteit.ics"


def _moment(value: object) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise ValueError(f"not a moment: {value!r}")
    return moment.astimezone(AMSTERDAM)


def activity_invite(data: Mapping[str, object], *, page_url: str | None, stamp: datetime) -> bytes:
    """From a sign-up event's data: the activity's title, times and location (and its page)."""
    starts, ends = _moment(data["starts_at"]), _moment(data["ends_at"])
    event = Event()
    event.add("uid", activity_uid(str(data["activity_id"])))
    event.add("dtstamp", stamp)
    event.add("dtstart", starts)
    event.add("dtend", ends)
    event.add("summary", str(data["activity_title"]))
    if data.get("location"):
        event.add("location", str(data["location"]))
    if page_url:
        event.add("url", page_url)
        event.add("description", f"Meer informatie: {page_url}")
    event.add("status", "CONFIRMED")
    cal = Calendar()
    cal.add("prodid", "-//Week tegen Eenzaamheid//komerbij notifications//NL")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add_component(event)
    # The zone's rules for the year of the activity are enough for one event (the feed carries more years).
    cal.add_missing_timezones(first_date=date(starts.year, 1, 1), last_date=date(ends.year + 1, 1, 1))
    return cal.to_ical()
