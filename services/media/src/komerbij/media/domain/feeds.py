"""When a feed is polled next: its own interval when it answers, exponential backoff while it keeps failing.

A failing feed waits interval, 2×interval, 4×interval ... up to a cap, so a dead site costs one request now and then
instead of one every few minutes, and recovers by itself once it answers again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

Outcome = Literal["ok", "not_modified", "error"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "not_modified", "error")


def backoff_seconds(interval_seconds: int, consecutive_failures: int, cap_seconds: int) -> int:
    if consecutive_failures <= 0:
        return interval_seconds
    return min(interval_seconds * 2 ** (consecutive_failures - 1), max(cap_seconds, interval_seconds))


def next_poll_at(now: datetime, interval_seconds: int, consecutive_failures: int, cap_seconds: int) -> datetime:
    return now + timedelta(seconds=backoff_seconds(interval_seconds, consecutive_failures, cap_seconds))
