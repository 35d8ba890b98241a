"""Editions of the Week tegen Eenzaamheid: one per year, Thursday to Thursday; activities start within the week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from komerbij.registration.domain.violations import RuleViolation
from komerbij.runtime.reference import dutch_date

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PURGE_AFTER = timedelta(days=30)


@dataclass(frozen=True)
class Edition:
    year: int
    starts_on: date
    ends_on: date

    @property
    def dutch_dates(self) -> str:
        return f"{dutch_date(self.starts_on)} t/m {dutch_date(self.ends_on)}"

    def contains(self, moment: datetime) -> bool:
        return self.starts_on <= moment.astimezone(AMSTERDAM).date() <= self.ends_on

    def purge_due(self, now: datetime) -> bool:
        """Participants' contact data is kept until 30 days after the week has ended (Amsterdam time)."""
        return now.astimezone(AMSTERDAM).date() > self.ends_on + PURGE_AFTER



def check_dates(year: int, starts_on: date, ends_on: date) -> None:
    if starts_on.year != year:
        raise RuleViolation("starts_on", f"de week van {year} moet in {year} beginnen")
    if ends_on <= starts_on:
        raise RuleViolation("ends_on", "de week moet na de begindatum eindigen")
    if (ends_on - starts_on).days > 14:
        raise RuleViolation("ends_on", "een week tegen eenzaamheid duurt hooguit twee weken")


def check_within_week(edition: Edition | None, year: int, starts_at: datetime) -> None:
    """An activity belongs to the week: it must start on one of the week's days (Amsterdam time)."""
    if edition is None:
        raise RuleViolation("starts_at", f"er is (nog) geen Week tegen Eenzaamheid vastgesteld voor {year}")
    if not edition.contains(starts_at):
        raise RuleViolation(
            "starts_at",
            f"de activiteit moet beginnen in de Week tegen Eenzaamheid: {edition.dutch_dates}",
        )
