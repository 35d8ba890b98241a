"""The figures people read: per municipality, per province and for the country, for one edition.

How they are counted:
- an activity counts where it takes place (its municipality; online activities without one count nowhere); the
  sign-ups, places and waitlist are those of its *published* activities (a cancelled activity's sign-ups end with
  it; moderation has not let the others in yet);
- the fill rate is the places taken of published activities that have a limit, divided by their places;
  activities without a limit count for the sign-ups but not for the fill rate;
- a municipality *participates* with at least one published activity or one kit order that is neither rejected
  nor cancelled;
- items ordered are those of orders neither rejected nor cancelled;
- a mention counts for every municipality it names (so a province's sum may hold a mention twice); reach is the
  sum of the estimates that are known, as the media service counts it (an estimate, never advertising value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from komerbij.dashboard.domain.vocabulary import ORDER_STATUSES
from komerbij.runtime.reference import Municipality, municipalities, provinces

ENDED = ("rejected", "cancelled")  # orders that bring no kit


@dataclass(frozen=True)
class ActivityFigures:
    by_status: Mapping[str, int]
    by_category: list[tuple[str, int]]  # (slug, published activities), most first
    signups: int  # confirmed sign-ups (parties) of published activities
    participants: int  # places they take
    waitlisted: int  # people waiting
    capacity: int  # places of published activities with a limit
    participants_limited: int  # places taken of those
    limited: int  # published activities with a limit

    @property
    def published(self) -> int:
        return self.by_status.get("published", 0)

    @property
    def submitted(self) -> int:
        return self.by_status.get("submitted", 0)

    @property
    def cancelled(self) -> int:
        return self.by_status.get("cancelled", 0)

    @property
    def rejected(self) -> int:
        return self.by_status.get("rejected", 0)

    @property
    def unlimited(self) -> int:
        return self.published - self.limited

    @property
    def fill_rate(self) -> float | None:
        """0..1 (a little above 1 cannot happen: registration never gives out more places than there are)."""
        return self.participants_limited / self.capacity if self.capacity else None


@dataclass(frozen=True)
class OrderFigures:
    by_status: Mapping[str, int]
    items: int  # items of orders neither rejected nor cancelled
    items_delivered: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def live(self) -> int:
        return self.total - sum(self.by_status.get(s, 0) for s in ENDED)

    @property
    def delivered(self) -> int:
        return self.by_status.get("delivered", 0)

    @property
    def statuses(self) -> list[tuple[str, str, int]]:
        """(status, Dutch word, orders) for every status with orders, in the order an order moves."""
        return [(s, word, self.by_status[s]) for s, word in ORDER_STATUSES.items() if self.by_status.get(s)]


@dataclass(frozen=True)
class LatestMention:
    title: str
    url: str | None
    outlet_name: str
    medium: str
    published_at: datetime
    is_copy: bool


@dataclass(frozen=True)
class MentionFigures:
    articles: int
    copies: int
    reach: int
    reach_unknown: int
    latest: list[LatestMention] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.articles + self.copies


@dataclass(frozen=True)
class MunicipalityFigures:
    municipality: Municipality
    edition: int
    activities: ActivityFigures
    orders: OrderFigures
    mentions: MentionFigures

    @property
    def participating(self) -> bool:
        return self.activities.published > 0 or self.orders.live > 0


@dataclass(frozen=True)
class Counts:
    """One municipality's figures in the national overview (and a line of its CSV export)."""

    published: int = 0
    submitted: int = 0
    cancelled: int = 0
    signups: int = 0
    participants: int = 0
    waitlisted: int = 0
    capacity: int = 0
    participants_limited: int = 0
    orders: int = 0  # neither rejected nor cancelled
    items: int = 0
    delivered: int = 0
    mentions: int = 0
    reach: int = 0

    @property
    def participating(self) -> bool:
        return self.published > 0 or self.orders > 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f: getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__})

    @property
    def fill_rate(self) -> float | None:
        return self.participants_limited / self.capacity if self.capacity else None


@dataclass(frozen=True)
class Line:
    """A municipality, a province or the country in the overview."""

    key: str
    name: str
    municipalities: int
    participating: int
    counts: Counts


@dataclass(frozen=True)
class Overview:
    edition: int
    municipalities: list[tuple[Municipality, Counts]]  # all of them, by name
    provinces: list[Line]
    country: Line
    mentions_in_country: int  # distinct mentions naming a municipality (the sum of the lines may count one twice)

    @property
    def participating(self) -> list[tuple[Municipality, Counts]]:
        return [(m, c) for m, c in self.municipalities if c.participating]


def overview(edition: int, counts: Mapping[str, Counts], mentions_in_country: int) -> Overview:
    """Every municipality of the reference list, with its counts (none: zeros); codes outside the list (a
    municipality merged away) are left out."""
    places = sorted(municipalities().values(), key=lambda m: (m.name, m.code))
    rows = [(m, counts.get(m.code, Counts())) for m in places]
    lines = [_line(p, p, [c for m, c in rows if m.province == p]) for p in provinces()]
    country = _line("NL", "Nederland", [c for _, c in rows])
    return Overview(edition, rows, lines, country, mentions_in_country)


def _line(key: str, name: str, counts: Iterable[Counts]) -> Line:
    listed = list(counts)
    total = sum(listed, Counts())
    return Line(key, name, len(listed), sum(c.participating for c in listed), total)


CSV_HEADER = (
    "edition", "code", "municipality", "province", "participating", "activities_published", "activities_submitted",
    "activities_cancelled", "signups", "participants", "waitlisted", "capacity", "fill_rate", "kit_orders",
    "kit_items", "kit_orders_delivered", "mentions", "reach_estimate",
)


def csv_rows(o: Overview) -> list[list[object]]:
    """One line per municipality; the fill rate as a fraction with three decimals (empty: no limited places)."""
    return [
        [o.edition, m.code, m.name, m.province, "yes" if c.participating else "no", c.published, c.submitted,
         c.cancelled, c.signups, c.participants, c.waitlisted, c.capacity,
         "" if c.fill_rate is None else f"{c.fill_rate:.3f}", c.orders, c.items, c.delivered, c.mentions, c.reach]
        for m, c in o.municipalities
    ]
