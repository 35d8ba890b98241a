"""How the comms team's pages render: media's templates inside the shared layout, with the Dutch words for media,
scopes and sentiments, numbers and moments written the Dutch way, and media's own stylesheet."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from komerbij.runtime import web
from komerbij.runtime.reference import dutch_date, municipalities, municipality, provinces

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
STATIC_PREFIX = "/media/static"

MEDIUM_LABELS = {"tv": "Televisie", "radio": "Radio", "print": "Krant of tijdschrift", "online": "Online",
                 "social": "Sociale media", "podcast": "Podcast"}
SCOPE_LABELS = {"national": "Landelijk", "regional": "Regionaal", "local": "Lokaal"}
SENTIMENT_LABELS = {"positive": "Positief", "neutral": "Neutraal", "negative": "Negatief"}
SOURCE_LABELS = {"feed": "uit een feed", "manual": "met de hand ingevoerd", "import": "uit een CSV-import"}

# Who may enter the comms room: the `comms` role (admin always passes), as for the API.
COMMS = web.login_required("comms")


def number(value: int | None) -> str:
    """12345678 → "12.345.678", as Dutch readers group digits."""
    return "–" if value is None else f"{value:,}".replace(",", ".")


def moment(value: datetime | None) -> str:
    """A moment in Dutch time; a bare date (a print edition, a broadcast day) keeps no time of 00:00."""
    if value is None:
        return "–"
    local = value.astimezone(AMSTERDAM)
    day = dutch_date(local.date())
    return day if (local.hour, local.minute) == (0, 0) else f"{day}, {local:%H:%M}"


def short_day(value: date) -> str:
    """"30 sep": the label under a day's column in a chart."""
    return f"{value.day} {dutch_date(value).split()[1][:3]}"


def municipality_name(code: str) -> str:
    found = municipality(code)
    return found.name if found else code


@cache
def municipality_options() -> list[tuple[str, str]]:
    """(CBS code, name) of every municipality, by name: the choice people make instead of typing codes."""
    return sorted(((c, m.name) for c, m in municipalities().items()), key=lambda o: o[1])


def province_options() -> list[tuple[str, str]]:
    return [(p, p) for p in provinces()]


@cache
def _static_version(name: str) -> str:
    data = resources.files("komerbij.media").joinpath("static", name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:10]


def media_static(name: str) -> str:
    """The address of one of media's own static files, versioned by its content (see `static.py`)."""
    return f"{STATIC_PREFIX}/{name}?v={_static_version(name)}"


def make_pages() -> web.Pages:
    pages = web.Pages("komerbij.media")
    pages.env.globals.update(
        MEDIUM_LABELS=MEDIUM_LABELS, SCOPE_LABELS=SCOPE_LABELS, SENTIMENT_LABELS=SENTIMENT_LABELS,
        SOURCE_LABELS=SOURCE_LABELS, media_static=media_static, municipality_name=municipality_name,
    )
    pages.env.filters.update(number=number, moment=moment, short_day=short_day)
    return pages


pages = make_pages()
