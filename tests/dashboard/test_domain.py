"""The dashboard's rules without I/O: editions, which event wins, how figures add up, the CSV lines."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from komerbij.contracts.events import media as med
from komerbij.contracts.events import registration as reg
from komerbij.dashboard.domain import vocabulary
from komerbij.dashboard.domain.editions import current_edition, edition_of_mention, editions_on_offer
from komerbij.dashboard.domain.entities import ORDER_RANK, SIGNUP_RANK, activity_row, mention_row
from komerbij.dashboard.domain.figures import CSV_HEADER, Counts, csv_rows, overview
from komerbij.dashboard.entrypoints.pages.common import number, percentage
from komerbij.materials.domain.orders import STATUS_NL, TRANSITIONS
from komerbij.registration.domain.activity import CATEGORIES
from komerbij.runtime.csvcells import csv_text


def test_the_dutch_words_are_those_of_the_services_that_own_the_slugs() -> None:
    assert vocabulary.CATEGORIES == CATEGORIES
    assert dict(STATUS_NL) == vocabulary.ORDER_STATUSES


def test_every_order_move_materials_allows_raises_the_rank() -> None:
    """The version puts rank first: an order must never be able to move to a lower rank."""
    moves = [("placed", "confirmed"), ("placed", "rejected")] + [
        (before, after) for before, targets in TRANSITIONS.items() for after in targets]
    assert set(ORDER_RANK) == set(STATUS_NL)
    assert all(ORDER_RANK[after] > ORDER_RANK[before] for before, after in moves)
    assert SIGNUP_RANK["waitlisted"] < SIGNUP_RANK["confirmed"] < SIGNUP_RANK["cancelled"]


@pytest.mark.parametrize(("today", "edition"), [
    (date(2027, 1, 2), 2027), (date(2027, 10, 7), 2027),  # the 2027 week: 30 September to 7 October
    (date(2027, 10, 8), 2028), (date(2026, 11, 27), 2027),
])
def test_the_current_edition_is_this_years_week_until_it_has_ended(today: date, edition: int) -> None:
    assert current_edition(today) == edition


@pytest.mark.parametrize(("published", "edition"), [
    (datetime(2027, 3, 1, 12, tzinfo=UTC), 2027),
    (datetime(2027, 11, 6, 22, 59, tzinfo=UTC), 2027),  # 6 November 23:59 in Amsterdam: 30 days after the week
    (datetime(2027, 11, 6, 23, 0, tzinfo=UTC), 2028),  # 7 November 00:00 in Amsterdam
    (datetime(2027, 12, 31, 23, 30, tzinfo=UTC), 2028),  # 1 January 2028 in Amsterdam: that year's week
])
def test_a_mention_counts_for_the_week_it_precedes_or_looks_back_on_within_30_days(published: datetime,
                                                                                    edition: int) -> None:
    assert edition_of_mention(published) == edition


def test_the_current_and_the_previous_edition_are_always_on_offer() -> None:
    assert editions_on_offer(2027, []) == [2027, 2026]
    assert editions_on_offer(2027, [2024, 2027, 2028]) == [2028, 2027, 2026, 2024]


def _activity(cls: type[reg.ActivityEvent], status: str | None, **extra: object) -> reg.ActivityEvent:
    when = datetime(2027, 10, 1, 10, tzinfo=UTC)
    return cls(activity_id="a", edition_year=2027, title="t", category="eettafel", starts_at=when, ends_at=when,
               municipality="GM0363", province=None, online=False, capacity=8, status=status, **extra)


def test_an_activity_row_takes_the_status_the_event_names_else_the_one_its_type_implies() -> None:
    assert activity_row(_activity(reg.ActivityUpdated, "published", changed_fields=[])).status == "published"
    assert activity_row(_activity(reg.ActivityCancelled, None)).status == "cancelled"
    assert activity_row(_activity(reg.ActivityUpdated, None, changed_fields=[])).status is None  # kept as it is
    assert activity_row(_activity(reg.ActivityPublished, None)).capacity == 8


def test_a_mention_is_deleted_only_when_its_featured_event_says_so() -> None:
    base = {"mention_id": "m", "title": "t", "url": None, "outlet_id": "o", "outlet_name": "Trouw",
            "medium": "print", "scope": "national", "published_at": datetime(2027, 10, 1, tzinfo=UTC),
            "municipalities": ["GM0363"], "reach": 10}
    assert not mention_row(med.MentionFeatured(**base, featured=False)).deleted
    assert mention_row(med.MentionFeatured(**base, featured=False, deleted=True)).deleted
    assert mention_row(med.MentionRecorded(**base, original_id="x")).is_copy


def test_the_overview_lists_every_municipality_and_counts_participation_per_province() -> None:
    counts = {
        "GM0363": Counts(published=2, participants=8, capacity=10, participants_limited=7),  # Amsterdam
        "GM0599": Counts(orders=1, items=5),  # Rotterdam: an order is enough
        "GM0518": Counts(submitted=3, mentions=2, reach=100),  # Den Haag: waiting and in the news is not taking part
        "GM9999": Counts(published=1),  # not (or no longer) a municipality: left out
    }
    o = overview(2027, counts, mentions_in_country=2)
    assert len(o.municipalities) == o.country.municipalities == 342
    assert o.country.participating == 2 and [m.code for m, _ in o.participating] == ["GM0363", "GM0599"]
    zh = next(p for p in o.provinces if p.key == "Zuid-Holland")
    assert (zh.participating, zh.counts.orders, zh.counts.items, zh.counts.mentions) == (1, 1, 5, 2)
    assert sum(p.municipalities for p in o.provinces) == 342
    assert o.country.counts.published == 2 and o.country.counts.fill_rate == pytest.approx(0.7)


def test_the_csv_has_a_line_per_municipality_and_spreadsheet_safe_cells() -> None:
    o = overview(2027, {"GM0363": Counts(published=2, capacity=10, participants_limited=7)}, 0)
    lines = list(csv.reader(io.StringIO(csv_text(CSV_HEADER, csv_rows(o)))))
    assert lines[0] == list(CSV_HEADER) and len(lines) == 343
    amsterdam = dict(zip(lines[0], next(line for line in lines if line[1] == "GM0363"), strict=True))
    assert (amsterdam["participating"], amsterdam["fill_rate"], amsterdam["province"]) == ("yes", "0.700",
                                                                                           "Noord-Holland")
    assert next(line for line in lines if line[1] == "GM0599")[4] == "no"
    assert all(not cell.startswith(("=", "+", "-", "@")) for line in lines for cell in line)


def test_numbers_are_written_the_dutch_way() -> None:
    assert (number(1234567), number(0), percentage(0.7), percentage(None)) == ("1.234.567", "0", "70%", "–")
