"""When to try a failed delivery again: a configured schedule of waits, each spread by random jitter."""

from __future__ import annotations

import random
import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str) -> timedelta:
    """"5s", "5m", "2h", "1d", "250ms" or plain seconds ("0.5")."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 2h)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_schedule(text: str) -> tuple[timedelta, ...]:
    """A comma-separated list of waits before the 2nd, 3rd, ... attempt; an empty list means one attempt only."""
    return tuple(parse_duration(part) for part in text.split(",") if part.strip())


def retry_delay(schedule: tuple[timedelta, ...], attempts_made: int, jitter: float,
                rand: random.Random | None = None) -> timedelta | None:
    """The wait before the next attempt, or None when the schedule is used up.

    Jitter spreads the wait by ±`jitter` (a fraction) so that a receiver that comes back after an outage is not hit
    by every queued retry in the same second.
    """
    if attempts_made < 1 or attempts_made > len(schedule):
        return None
    base = schedule[attempts_made - 1]
    factor = 1.0 + (rand or random).uniform(-jitter, jitter)
    return base * factor


def deferral_delay(schedule: tuple[timedelta, ...], deferrals: int, jitter: float,
                   rand: random.Random | None = None) -> timedelta:
    """The wait after the `deferrals`-th attempt the relay would not take (no connection, login or sender refused).

    That is the relay's trouble or ours (a rotated password), never the mail's: it waits along the same schedule,
    then keeps the schedule's last wait for as long as it takes, and never gives the mail up.
    """
    base = schedule[min(deferrals, len(schedule)) - 1] if schedule else timedelta(minutes=1)
    return base * (1.0 + (rand or random).uniform(-jitter, jitter))
