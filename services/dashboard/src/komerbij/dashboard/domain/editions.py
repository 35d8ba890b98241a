"""Which edition of the week a figure belongs to.

Activities and kit orders name their edition in their events. A mention names none: it belongs to the week it
comes before or just after. Coverage in the run-up and of the week itself counts for that year's week, a look back
published within `LOOK_BACK` after the week too; anything later announces the next one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from komerbij.runtime.reference import default_week

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LOOK_BACK = timedelta(days=30)


def current_edition(today: date) -> int:
    """The edition people work on: this year's week until it has ended, next year's after that (as materials
    decides which edition a kit order is for)."""
    _, ends = default_week(today.year)
    return today.year if today <= ends else today.year + 1


def edition_of_mention(published_at: datetime) -> int:
    day = published_at.astimezone(AMSTERDAM).date()
    _, ends = default_week(day.year)
    return day.year if day <= ends + LOOK_BACK else day.year + 1


def editions_on_offer(current: int, with_data: list[int]) -> list[int]:
    """The editions the pages offer, newest first: the current one and the one before it always, and any other
    the read model holds figures of."""
    return sorted({current, current - 1, *with_data}, reverse=True)
