"""The start page (`/`) and the accessibility statement (`/toegankelijkheid`): the front door's own pages.

The start page tells what the Week tegen Eenzaamheid is and when this year's (or the next) edition runs, from
registration's editions (its own use case: no other service is asked), and shows each kind of visitor the way in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import Request
from fastapi.responses import HTMLResponse

from komerbij.registration.domain.edition import AMSTERDAM, Edition
from komerbij.registration.service.editions import list_editions
from komerbij.runtime import web
from komerbij.runtime.reference import dutch_date
from komerbij.runtime.service import runtime_of

router = web.page_router()
pages = web.Pages("komerbij.registration")

# When the statement was drawn up and how it was checked: the Dutch model statement asks for both.
STATEMENT_DATE = date(2026, 11, 27)
_WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")


@dataclass(frozen=True)
class WeekOnShow:
    """The edition the start page announces: the one running, else the next; `previous` is this year's if over."""

    edition: Edition
    running: bool
    previous: Edition | None

    @property
    def dates(self) -> str:
        e = self.edition
        start = f"{_WEEKDAYS[e.starts_on.weekday()]} {e.starts_on.day}"
        if e.starts_on.month != e.ends_on.month:
            start = f"{_WEEKDAYS[e.starts_on.weekday()]} {dutch_date(e.starts_on).rsplit(' ', 1)[0]}"
        return f"{start} tot en met {_WEEKDAYS[e.ends_on.weekday()]} {dutch_date(e.ends_on)}"


def week_on_show(editions: list[Edition], today: date) -> WeekOnShow | None:
    ahead = sorted((e for e in editions if e.ends_on >= today), key=lambda e: e.starts_on)
    if not ahead:
        return None
    shown = ahead[0]
    previous = next((e for e in editions if e.year == today.year and e.ends_on < today), None)
    return WeekOnShow(shown, shown.starts_on <= today, previous)


@router.get("/", response_class=HTMLResponse, name="home")
async def home(request: Request) -> HTMLResponse:
    rt = runtime_of(request)
    today = rt.clock.now().astimezone(AMSTERDAM).date()
    week = week_on_show(await list_editions(rt), today)
    return pages.render(request, "home.html", week=week)


@router.get("/toegankelijkheid", response_class=HTMLResponse, name="accessibility")
async def accessibility(request: Request) -> HTMLResponse:
    return pages.render(request, "toegankelijkheid.html", statement_date=STATEMENT_DATE)
