"""Unit tests of the pure rules: bundles, low-stock crossings, editions and the window, lines, transitions."""

from __future__ import annotations

from datetime import date

import pytest

from komerbij.materials.domain.catalog import Sku, crossed_below, kits_available, physical_quantities
from komerbij.materials.domain.delivery import normalise_phone, normalise_postcode
from komerbij.materials.domain.edition import upcoming_edition
from komerbij.materials.domain.orders import (
    STATUSES,
    TRANSITIONS,
    Line,
    RuleViolation,
    TransitionNotAllowed,
    check_lines,
    check_shipping,
    check_transition,
    window_closed_message,
)

POSTER = Sku("POSTER-A3", "Poster A3", "", "stuk", 50, 100, 50)
CARD = Sku("ANSICHTKAART", "Ansichtkaart", "", "pak van 25", 20, 40, 20)
KIT = Sku("KIT", "Kit", "", "pakket", 5, 10, 5, components=(("ANSICHTKAART", 2), ("POSTER-A3", 5)))
CATALOG = {s.sku: s for s in (POSTER, CARD, KIT)}


def test_a_bundle_holds_its_components_merged_with_lines_of_the_same_item_in_sku_order() -> None:
    quantities = physical_quantities([("POSTER-A3", 3), ("KIT", 2)], CATALOG)
    assert quantities == {"ANSICHTKAART": 4, "POSTER-A3": 13}
    assert list(quantities) == sorted(quantities)


def test_bundle_availability_is_limited_by_its_scarcest_component() -> None:
    assert kits_available(KIT, {"POSTER-A3": 50, "ANSICHTKAART": 7}) == 3
    assert kits_available(KIT, {"POSTER-A3": 4, "ANSICHTKAART": 100}) == 0


@pytest.mark.parametrize(("before", "after", "crossed"), [
    (60, 49, True), (50, 49, True), (50, 50, False), (49, 40, False), (60, 50, False), (40, 60, False),
])
def test_low_stock_is_signalled_once_when_stock_crosses_below_the_threshold(before: int, after: int,
                                                                           crossed: bool) -> None:
    assert crossed_below(before, after, 50) is crossed


def test_an_order_belongs_to_this_years_edition_until_it_ends_then_to_next_years() -> None:
    june = upcoming_edition(date(2027, 6, 1), 14)
    assert (june.year, june.starts, june.ends, june.window_closes) == (
        2027, date(2027, 9, 30), date(2027, 10, 7), date(2027, 9, 16))
    assert upcoming_edition(date(2027, 10, 7), 14).year == 2027
    assert upcoming_edition(date(2027, 10, 8), 14).year == 2028


def test_the_window_closes_the_configured_number_of_days_before_the_week_starts() -> None:
    edition = upcoming_edition(date(2027, 6, 1), 14)
    assert edition.window_open(date(2027, 9, 15))
    assert not edition.window_open(date(2027, 9, 16))
    assert not upcoming_edition(date(2027, 9, 20), 14).window_open(date(2027, 9, 20))
    assert upcoming_edition(date(2027, 9, 20), 3).window_open(date(2027, 9, 20))


def test_the_window_message_gives_the_closing_date_in_dutch() -> None:
    message = window_closed_message(upcoming_edition(date(2027, 9, 20), 14))
    assert "16 september 2027" in message
    assert "30 september 2027" in message


@pytest.mark.parametrize(("lines", "field"), [
    ([Line("POSTER-XXL", 1)], "lines.0.sku"),
    ([Line("POSTER-A3", 1), Line("POSTER-A3", 2)], "lines.1.sku"),
    ([Line("ANSICHTKAART", 1), Line("POSTER-A3", 51)], "lines.1.quantity"),
    ([Line("KIT", 6)], "lines.0.quantity"),
])
def test_lines_that_break_a_catalog_rule_name_the_offending_field(lines: list[Line], field: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        check_lines(lines, CATALOG)
    assert caught.value.field == field


def test_lines_at_the_maximum_are_fine() -> None:
    check_lines([Line("POSTER-A3", 50), Line("KIT", 5)], CATALOG)


ALLOWED = {("confirmed", "picking"), ("confirmed", "cancelled"), ("picking", "shipped"), ("shipped", "delivered")}


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_only_the_lifecycle_moves_are_allowed(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)  # type: ignore[arg-type]
    else:
        with pytest.raises(TransitionNotAllowed):
            check_transition(current, target)  # type: ignore[arg-type]


def test_the_transition_table_is_exactly_the_lifecycle() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


def test_cancelling_after_picking_started_says_so_in_dutch() -> None:
    assert "Annuleren kan niet meer" in TransitionNotAllowed("picking", "cancelled").message_nl


def test_shipping_needs_carrier_and_tracking_code() -> None:
    with pytest.raises(RuleViolation) as caught:
        check_shipping("shipped", "PostNL", " ")
    assert caught.value.field == "tracking_code"
    with pytest.raises(RuleViolation):
        check_shipping("shipped", None, "3S123")
    check_shipping("shipped", "PostNL", "3S123")
    check_shipping("delivered", None, None)


@pytest.mark.parametrize(("raw", "normal"), [("1011 PN", "1011 PN"), ("1011pn", "1011 PN"), (" 9999 zz ", "9999 ZZ")])
def test_dutch_postcodes_are_normalised(raw: str, normal: str) -> None:
    assert normalise_postcode(raw) == normal


@pytest.mark.parametrize("raw", ["0123 AB", "1011 SS", "1011", "10111 PN", "ABCD EF"])
def test_invalid_postcodes_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_postcode(raw)


def test_phone_numbers_are_written_as_people_write_them() -> None:
    assert normalise_phone("020-111 11 11") == "0201111111"
    assert normalise_phone("+31 (0)20 1111111") == "+310201111111"
    with pytest.raises(ValueError):
        normalise_phone("bel me")
