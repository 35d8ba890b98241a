"""Coverage of the week for a period: how many articles, how many syndicated copies, how much estimated reach.

Syndicated copies count once as an article (the original) and separately as copies. Reach is the sum of the outlets'
own estimates over every published mention (a copy in another paper reaches that paper's readers); it is an
estimate, never an advertising-value equivalent. A mention counts in every province and municipality it concerns,
so those breakdowns may add up to more than the totals; national mentions without a place are in no province.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from komerbij.runtime.reference import default_week, municipalities

REACH_NOTE = "Schatting: opgeteld bereik volgens de media zelf; geen advertentiewaarde."
# Coverage of a week starts with the announcements and runs on with the reports afterwards.
CAMPAIGN_MARGIN = timedelta(days=14)


@dataclass(frozen=True)
class CampaignPeriod:
    year: int
    week_start: date
    week_end: date

    @property
    def start(self) -> date:
        return self.week_start - CAMPAIGN_MARGIN

    @property
    def end(self) -> date:
        return self.week_end + CAMPAIGN_MARGIN


def campaign_period(today: date) -> CampaignPeriod:
    """The week whose coverage matters now: this year's once its run-up has begun, else last year's."""
    start, end = default_week(today.year)
    if today < start - CAMPAIGN_MARGIN:
        return CampaignPeriod(today.year - 1, *default_week(today.year - 1))
    return CampaignPeriod(today.year, start, end)


@dataclass(frozen=True)
class CoverageItem:
    published_on: date
    medium: str
    scope: str
    outlet_id: str
    outlet_name: str
    provinces: tuple[str, ...]
    municipalities: tuple[str, ...]
    reach: int | None
    is_copy: bool


@dataclass
class Tally:
    articles: int = 0
    copies: int = 0
    reach_estimate: int = 0
    reach_unknown: int = 0

    def add(self, item: CoverageItem) -> None:
        if item.is_copy:
            self.copies += 1
        else:
            self.articles += 1
        if item.reach is None:
            self.reach_unknown += 1
        else:
            self.reach_estimate += item.reach

    def as_dict(self) -> dict[str, int]:
        return {"articles": self.articles, "copies": self.copies, "mentions": self.articles + self.copies,
                "reach_estimate": self.reach_estimate, "reach_unknown": self.reach_unknown}


def _rows(tallies: dict[str, Tally], labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(tallies):
        row: dict[str, Any] = {"key": key, **tallies[key].as_dict()}
        if labels is not None:
            row["name"] = labels.get(key, key)
        rows.append(row)
    return rows


def summarise(items: Iterable[CoverageItem]) -> dict[str, Any]:
    total = Tally()
    by: dict[str, dict[str, Tally]] = {d: defaultdict(Tally) for d in
                                       ("day", "medium", "scope", "province", "outlet", "municipality")}
    outlet_names: dict[str, str] = {}
    for item in items:
        total.add(item)
        by["day"][item.published_on.isoformat()].add(item)
        by["medium"][item.medium].add(item)
        by["scope"][item.scope].add(item)
        by["outlet"][item.outlet_id].add(item)
        outlet_names[item.outlet_id] = item.outlet_name
        for province in set(item.provinces):
            by["province"][province].add(item)
        for code in set(item.municipalities):
            by["municipality"][code].add(item)
    return {
        "totals": total.as_dict(),
        "reach_is_estimate": True,
        "reach_note": REACH_NOTE,
        "by_day": _rows(by["day"]),
        "by_medium": _rows(by["medium"]),
        "by_scope": _rows(by["scope"]),
        "by_province": _rows(by["province"]),
        "by_outlet": _rows(by["outlet"], outlet_names),
        "by_municipality": _rows(by["municipality"], {c: m.name for c, m in municipalities().items()}),
    }
