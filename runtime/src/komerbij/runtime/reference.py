"""Reference data every service reads the same way: Dutch municipalities (CBS codes) and the campaign week.

Municipalities merge every few years, so the list is versioned data (`municipalities_<year>.csv`, the classification
in force since 1 January 2023), not code. The week's default dates follow the published editions (2021: 30 Sep–7 Oct,
2022: 29 Sep–6 Oct): Thursday to Thursday, starting on the last Thursday on or before 1 October.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources

CLASSIFICATION_YEAR = 2023


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    province: str
    safety_region: str
    aliases: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@cache
def municipalities() -> dict[str, Municipality]:
    text = resources.files("komerbij.runtime").joinpath(f"municipalities_{CLASSIFICATION_YEAR}.csv").read_text()
    rows = csv.DictReader(text.splitlines())
    return {
        r["code"]: Municipality(
            r["code"], r["name"], r["province"], r["safety_region"],
            tuple(a for a in (r.get("aliases") or "").split("|") if a),
        )
        for r in rows
    }


def municipality(code: str) -> Municipality | None:
    return municipalities().get(code)


@cache
def provinces() -> tuple[str, ...]:
    return tuple(sorted({m.province for m in municipalities().values()}))


def fold(text: str) -> str:
    """Case- and accent-insensitive form for matching ("Eén" == "een")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


_MONTHS_NL = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
              "november", "december")


def dutch_date(day: date) -> str:
    """A date as people here write it in a sentence: "30 september 2027"."""
    return f"{day.day} {_MONTHS_NL[day.month - 1]} {day.year}"


def default_week(year: int) -> tuple[date, date]:
    """(first day, last day) of the week in `year`: Thursday to Thursday around the first week of October."""
    first_october = date(year, 10, 1)
    start = first_october - timedelta(days=(first_october.weekday() - 3) % 7)
    return start, start + timedelta(days=7)
