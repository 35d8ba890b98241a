"""What both dashboard pages share: the renderer with Dutch number formats, the edition chooser, the freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from komerbij.dashboard.adapters import model
from komerbij.dashboard.domain.editions import AMSTERDAM
from komerbij.dashboard.domain.vocabulary import MEDIA, category_label
from komerbij.dashboard.service import figures
from komerbij.runtime import web
from komerbij.runtime.http import ProblemError
from komerbij.runtime.reference import dutch_date
from komerbij.runtime.service import Runtime, runtime_of

EDITION_FIELD = "editie"


def number(n: int | None) -> str:
    """12345 → "12.345", as Dutch readers write it."""
    return "–" if n is None else f"{n:,}".replace(",", ".")


def percentage(fraction: float | None) -> str:
    return "–" if fraction is None else f"{round(fraction * 100)}%"


def moment(when: datetime) -> str:
    local = when.astimezone(AMSTERDAM)
    return f"{dutch_date(local.date())}, {local:%H:%M}"


pages = web.Pages("komerbij.dashboard")
pages.env.filters.update(number=number, percentage=percentage, category=category_label,
                         medium=lambda m: MEDIA.get(m, m), moment=moment)


@dataclass(frozen=True)
class Chosen:
    """The edition asked for (or the current one), the editions on offer, and the form showing the choice."""

    edition: int | None  # None: the choice was not a valid edition (the form says why)
    editions: figures.Editions
    form: web.Form


async def chosen_edition(request: Request) -> Chosen:
    rt = runtime_of(request)
    on_offer = await figures.editions(rt)
    asked = request.query_params.get(EDITION_FIELD)
    if not asked:
        return Chosen(on_offer.current, on_offer, web.Form({EDITION_FIELD: str(on_offer.current)}))
    form = web.Form({EDITION_FIELD: asked})
    try:
        edition = figures.check_edition(int(asked) if asked.isdigit() else -1, EDITION_FIELD)
    except ProblemError as problem:
        form.fail(problem)
        return Chosen(None, on_offer, form)
    return Chosen(edition, on_offer, form)


def edition_options(chosen: Chosen) -> list[tuple[int, str]]:
    current = chosen.editions.current
    offered = list(chosen.editions.offered)
    if chosen.edition is not None and chosen.edition not in offered:
        offered = sorted({*offered, chosen.edition}, reverse=True)
    return [(year, f"{year} (huidige)" if year == current else str(year)) for year in offered]


async def freshness(rt: Runtime) -> datetime | None:
    """The producer's time of the newest event the figures include."""
    async with rt.pool.acquire() as conn:
        newest = await model.progress(conn)
    return max(newest.values()) if newest else None
