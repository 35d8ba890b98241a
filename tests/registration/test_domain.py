"""Pure rules of the registration domain: no database, no broker."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from komerbij.registration.domain.activity import check_transition, check_whereabouts
from komerbij.registration.domain.address import house_number, normalize_postcode
from komerbij.registration.domain.agenda import AgendaFilter, search_text
from komerbij.registration.domain.edition import Edition, check_within_week
from komerbij.registration.domain.violations import RuleViolation, StateConflict
from komerbij.registration.domain.waitlist import Waiting, place, promote
from komerbij.runtime.reference import default_week

AMS = ZoneInfo("Europe/Amsterdam")
WEEK_2027 = Edition(2027, date(2027, 9, 30), date(2027, 10, 7))


@pytest.mark.parametrize("raw, expected", [("1015 KK", "1015 KK"), ("1015kk", "1015 KK"), (" 9999 zz ", "9999 ZZ")])
def test_postcode_is_normalised_to_the_written_form(raw: str, expected: str) -> None:
    assert normalize_postcode(raw) == expected


@pytest.mark.parametrize("raw", ["0123 AB", "1015 K", "1015 KKK", "10150 KK", "1015 SS", "1015 SA", "ABCD 12", ""])
def test_invalid_postcodes_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="postcode"):
        normalize_postcode(raw)


@pytest.mark.parametrize("street, number", [("Lindengracht 12", "12"), ("Dorpsstraat 3 A", "3a"),
                                            ("Kerkstraat 2-4", "2-4"), ("Plein 1940 45", "45"), ("Markt", None)])
def test_house_number_is_taken_from_the_street_line(street: str, number: str | None) -> None:
    assert house_number(street) == number


def test_default_weeks_match_the_published_editions() -> None:
    assert default_week(2021) == (date(2021, 9, 30), date(2021, 10, 7))
    assert default_week(2022) == (date(2022, 9, 29), date(2022, 10, 6))
    assert default_week(2027) == (date(2027, 9, 30), date(2027, 10, 7))


def test_activity_starting_within_the_week_passes_including_the_last_thursday_evening() -> None:
    check_within_week(WEEK_2027, 2027, datetime(2027, 9, 30, 0, 0, tzinfo=AMS))
    check_within_week(WEEK_2027, 2027, datetime(2027, 10, 7, 23, 30, tzinfo=AMS))


def test_activity_outside_the_week_names_starts_at_and_the_weeks_dates_in_dutch() -> None:
    with pytest.raises(RuleViolation) as caught:
        check_within_week(WEEK_2027, 2027, datetime(2027, 10, 8, 10, 0, tzinfo=AMS))
    assert caught.value.field == "starts_at"
    assert "30 september 2027 t/m 7 oktober 2027" in caught.value.message


def test_week_is_judged_in_amsterdam_time_not_utc() -> None:
    # 29 Sep 22:30 UTC is 30 Sep 00:30 in Amsterdam: inside the week.
    check_within_week(WEEK_2027, 2027, datetime(2027, 9, 29, 22, 30, tzinfo=ZoneInfo("UTC")))


def test_year_without_edition_is_refused_on_starts_at() -> None:
    with pytest.raises(RuleViolation) as caught:
        check_within_week(None, 2040, datetime(2040, 10, 1, 10, tzinfo=AMS))
    assert caught.value.field == "starts_at"


def test_purge_is_due_only_after_thirty_days_past_the_week() -> None:
    assert not WEEK_2027.purge_due(datetime(2027, 11, 6, 23, 0, tzinfo=AMS))
    assert WEEK_2027.purge_due(datetime(2027, 11, 7, 0, 30, tzinfo=AMS))


def test_party_is_confirmed_only_when_it_fits_whole() -> None:
    assert place(10, 9, 1) == "confirmed"
    assert place(10, 10, 1) == "waitlisted"
    assert place(10, 8, 3) == "waitlisted"
    assert place(None, 10_000, 20) == "confirmed"


def test_promotion_follows_queue_order() -> None:
    queue = [Waiting("a", 1), Waiting("b", 1), Waiting("c", 1)]
    assert [w.signup_id for w in promote(10, 8, queue)] == ["a", "b"]


def test_party_too_large_for_the_free_seat_is_skipped_not_split() -> None:
    queue = [Waiting("three", 3), Waiting("one", 1), Waiting("another", 1)]
    assert [w.signup_id for w in promote(10, 9, queue)] == ["one"]
    assert [w.signup_id for w in promote(10, 7, queue)] == ["three"]
    assert promote(10, 10, queue) == []


def test_unlimited_capacity_promotes_everyone() -> None:
    queue = [Waiting("a", 5), Waiting("b", 2)]
    assert len(promote(None, 100, queue)) == 2


def test_remote_activity_needs_a_link_or_phone() -> None:
    check_whereabouts(None, "https://meet.example.org/x", None)
    check_whereabouts(None, None, "0201234567")
    with pytest.raises(RuleViolation) as caught:
        check_whereabouts(None, None, None)
    assert caught.value.field == "venue"


def test_moderation_state_machine() -> None:
    check_transition("submitted", "published")
    check_transition("submitted", "rejected")
    check_transition("published", "cancelled")
    for current, target in [("published", "rejected"), ("cancelled", "published"), ("rejected", "published")]:
        with pytest.raises(StateConflict):
            check_transition(current, target)  # type: ignore[arg-type]


def test_free_text_terms_ignore_case_and_accents() -> None:
    haystack = search_text("Taalcafé", "Eén keer per week samen praten")
    assert all(term in haystack for term in AgendaFilter(q="TAALCAFE een KEER").terms)
