"""Reading the public agenda: read-only, so no unit of work, just a pooled connection.

The iCalendar feed is rendered once per change, not per request: calendar apps poll it, and rendering every
activity is the expensive part. A cheap fingerprint query says whether the cached rendering is still current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from komerbij.registration.adapters import activities
from komerbij.registration.domain.activity import Activity
from komerbij.registration.domain.agenda import AgendaFilter
from komerbij.runtime.service import Runtime


async def search(rt: Runtime, f: AgendaFilter) -> tuple[list[Activity], int]:
    async with rt.pool.acquire() as conn:
        return await activities.agenda(conn, f)


async def calendar(rt: Runtime, municipality: str | None) -> list[Activity]:
    async with rt.pool.acquire() as conn:
        return await activities.calendar(conn, municipality)


@dataclass(frozen=True)
class CalendarFeed:
    etag: str
    body: bytes


# Per runtime (a test may start the service twice in one process); keys are municipality codes (or None), so small.
_feeds: WeakKeyDictionary[Runtime, dict[str | None, CalendarFeed]] = WeakKeyDictionary()


async def calendar_feed(rt: Runtime, municipality: str | None,
                        render: Callable[[list[Activity]], bytes]) -> CalendarFeed:
    cache = _feeds.setdefault(rt, {})
    async with rt.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        etag = f'"{await activities.calendar_version(conn, municipality)}"'
        cached = cache.get(municipality)
        if cached is not None and cached.etag == etag:
            return cached
        items = await activities.calendar(conn, municipality)  # the same snapshot as the fingerprint
    feed = cache[municipality] = CalendarFeed(etag, render(items))
    return feed
