"""Which edition of the week an order is for, and whether its order window is still open.

An order belongs to the upcoming edition: this year's week until it has ended, next year's after that. The window
closes a configurable number of days before the week starts, so the kit can still be packed and delivered in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from komerbij.runtime.reference import default_week


@dataclass(frozen=True)
class Edition:
    year: int
    starts: date
    ends: date
    window_closes: date

    def window_open(self, today: date) -> bool:
        return today < self.window_closes


def upcoming_edition(today: date, close_days: int) -> Edition:
    starts, ends = default_week(today.year)
    if today > ends:
        starts, ends = default_week(today.year + 1)
    return Edition(starts.year, starts, ends, starts - timedelta(days=close_days))

