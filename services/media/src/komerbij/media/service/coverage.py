"""Coverage of the week for a period, from the stored mentions (see `domain.coverage` for how it is counted)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from komerbij.media.adapters import store
from komerbij.media.domain.coverage import CoverageItem, summarise
from komerbij.media.domain.places import provinces_of
from komerbij.runtime.http import field_error
from komerbij.runtime.service import Runtime

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)  # beyond these, day bounds overflow in UTC and PostgreSQL


def period_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Calendar days in Dutch time, both ends included."""
    for name, day in (("query.from", start), ("query.to", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise field_error(name, f"kies een datum tussen {EARLIEST.year} en {LATEST.year}")
    return (
        datetime.combine(start, time(), AMSTERDAM) if start else None,
        datetime.combine(end + timedelta(days=1), time(), AMSTERDAM) if end else None,
    )


async def coverage(rt: Runtime, start: date | None, end: date | None) -> dict[str, Any]:
    lower, upper = period_bounds(start, end)
    async with rt.pool.acquire() as conn:
        rows = await store.coverage_rows(conn, lower, upper)
    items = [
        CoverageItem(
            published_on=r["published_at"].astimezone(AMSTERDAM).date(),
            medium=r["medium"], scope=r["scope"], outlet_id=str(r["outlet_id"]), outlet_name=r["outlet_name"],
            provinces=tuple(provinces_of(list(r["municipalities"]), r["outlet_province"], r["outlet_municipality"])),
            municipalities=tuple(r["municipalities"]), reach=r["effective_reach"], is_copy=r["original_id"] is not None,
        )
        for r in rows
    ]
    return {"from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
            **summarise(items)}
