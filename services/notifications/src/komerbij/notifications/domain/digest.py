"""When the daily digest goes out: a wall-clock time in Europe/Amsterdam, whatever the season."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def parse_time_of_day(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes or 0))


def due_digest_day(now: datetime, at: time) -> date | None:
    """The Amsterdam date whose digest is due at `now`, or None before today's digest time."""
    local = now.astimezone(AMSTERDAM)
    return local.date() if local.time() >= at else None


def digest_event_id(partner_id: str, day: date) -> str:
    """A deterministic id: a second run of the job on the same day finds the same digest, never a second one."""
    return f"digest:{partner_id}:{day.isoformat()}"
