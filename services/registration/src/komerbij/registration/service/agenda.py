"""Reading the public agenda: read-only, so no unit of work, just a pooled connection.

The iCalendar feed is rendered once per change, not per request: calendar apps poll it, and rendering every
activity is the expensive part. A cheap fingerprint query says whether the cached rendering is still current.
Calendars link each activity to its page (`outgoing.page_url`), which is what people want to open from an agenda app.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from weakref import WeakKeyDictionary

from komerbij.registration.adapters import activities, calendar
from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.agenda import AgendaFilter
from komerbij.registration.service.outgoing import page_url
from komerbij.runtime import reference
from komerbij.runtime.service import Runtime


async def search(rt: Runtime, f: AgendaFilter) -> tuple[list[Activity], int]:
    async with rt.pool.acquire() as conn:
        return await activities.agenda(conn, f)


def municipality_named(text: str) -> reference.Municipality | None:
    """A municipality as people write it: its name or a common alias ("Den Haag", "Den Bosch"), in any case and
    with or without accents, or its CBS code (GM0363)."""
    wanted = reference.fold(text.strip())
    if not wanted:
        return None
    by_code = reference.municipality(text.strip().upper())
    if by_code is not None:
        return by_code
    return next((m for m in reference.municipalities().values()
                 if any(reference.fold(name) == wanted for name in m.names)), None)


def municipalities_like(text: str, limit: int = 3) -> list[str]:
    """For "did you mean" when no name matched: names that start with what was typed, else the closest spellings
    ("Amsterdm" → Amsterdam)."""
    wanted = reference.fold(text.strip())
    if not wanted:
        return []
    names = {reference.fold(n): n for n in municipality_names()}
    starting = [name for folded, name in names.items() if folded.startswith(wanted)]
    if starting:
        return starting[:limit]
    return [names[f] for f in difflib.get_close_matches(wanted, list(names), n=limit, cutoff=0.8)]


@cache
def municipality_names() -> list[str]:
    """Every name and alias, alphabetically: the suggestions of a municipality field."""
    return sorted({n for m in reference.municipalities().values() for n in m.names}, key=reference.fold)


@dataclass(frozen=True)
class CalendarFeed:
    etag: str
    body: bytes


# Per runtime (a test may start the service twice in one process); keys are municipality codes (or None), so small.
_feeds: WeakKeyDictionary[Runtime, dict[str | None, CalendarFeed]] = WeakKeyDictionary()


def feed_name(municipality: str | None) -> str:
    place = reference.municipality(municipality) if municipality else None
    return f"Week tegen Eenzaamheid – {place.name}" if place else "Week tegen Eenzaamheid"


async def calendar_feed(rt: Runtime, municipality: str | None) -> CalendarFeed:
    """The iCalendar feed of one municipality (None: all): published activities and the cancelled ones calendars may
    already hold. The API's `/v1/agenda.ics` and the page's `/agenda.ics` serve this same feed."""
    cache = _feeds.setdefault(rt, {})
    base = rt.settings.public_base_url
    async with rt.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        etag = f'"{await activities.calendar_version(conn, municipality)}"'
        cached = cache.get(municipality)
        if cached is not None and cached.etag == etag:
            return cached
        items = await activities.calendar(conn, municipality)  # the same snapshot as the fingerprint
    body = calendar.render(items, name=feed_name(municipality), url_of={a.id: page_url(base, a.id) for a in items})
    feed = cache[municipality] = CalendarFeed(etag, body)
    return feed


def activity_calendar(rt: Runtime, a: Activity) -> bytes:
    """One activity as a calendar file ("Zet in je agenda")."""
    return calendar.render([a], name=a.title, url_of={a.id: page_url(rt.settings.public_base_url, a.id)})
