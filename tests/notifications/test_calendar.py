"""The invite a participant's mail carries is written in parts (the opening of its years once per process, the
VEVENT per mail); these tests hold it to what icalendar writes for the whole calendar at once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from icalendar import Calendar

from komerbij.notifications.adapters.calendar import activity_invite, calendar, event

ACTIVITY = "0c8a4f0e-1111-2222-3333-444455556666"
STAMP = datetime(2026, 9, 14, 8, 30, 5, tzinfo=UTC)


def whole(data: dict[str, object], page_url: str | None) -> bytes:
    """The invite as one `to_ical()` of the whole calendar, its zone added by icalendar for the event's years."""
    cal = calendar()
    cal.add_component(event(data, page_url=page_url, stamp=STAMP))
    starts, ends = (datetime.fromisoformat(str(data[k])) for k in ("starts_at", "ends_at"))
    cal.add_missing_timezones(first_date=date(starts.year, 1, 1), last_date=date(ends.year + 1, 1, 1))
    return cal.to_ical()


@pytest.mark.parametrize(("starts", "ends", "location", "page_url"), [
    ("2026-10-01T14:00:00+02:00", "2026-10-01T16:00:00+02:00", "Buurthuis, Dorpsstraat 1, Utrecht",
     "https://komerbij.example/agenda/1"),
    ("2026-10-03T10:00:00+00:00", "2026-10-03T12:00:00+00:00", None, None),  # UTC in, Amsterdam out
    ("2026-12-31T21:00:00+01:00", "2027-01-01T01:00:00+01:00", "Plein; met ‘quotes’ en een é", None),  # two years
    ("2027-02-10T19:30:00+01:00", "2027-02-10T21:00:00+01:00", "online", "https://komerbij.example/agenda/2"),
])
def test_invite_is_what_icalendar_writes_for_the_whole_calendar(starts: str, ends: str, location: str | None,
                                                                page_url: str | None) -> None:
    data = {"activity_id": ACTIVITY, "activity_title": "Samen wandelen, ook met een lange titel " * 3,
            "starts_at": starts, "ends_at": ends, "location": location}
    # Twice: the second is made from what the first left cached.
    for _ in range(2):
        invite = activity_invite(data, page_url=page_url, stamp=STAMP)
        assert invite == whole(data, page_url)
    parsed = Calendar.from_ical(invite)
    names = [c.name for c in parsed.walk()]
    assert names[:2] == ["VCALENDAR", "VTIMEZONE"] and names.count("VTIMEZONE") == 1 and names[-1] == "VEVENT"
    [vevent] = [c for c in parsed.walk() if c.name == "VEVENT"]
    assert vevent.decoded("DTSTART") == datetime.fromisoformat(starts)
    assert vevent["DTSTART"].params["TZID"] == "Europe/Amsterdam"
