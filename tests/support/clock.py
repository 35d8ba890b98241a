"""A clock the test sets: what services and jobs read as "now" (`Runtime.clock`, passed to `running(clock=...)`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass
class ControlledClock:
    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current


def later(delta: timedelta) -> ControlledClock:
    """A clock standing `delta` after the real time now (the database stamps rows with its own `now()`)."""
    return ControlledClock(datetime.now(UTC) + delta)
