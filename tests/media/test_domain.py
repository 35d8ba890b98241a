"""Unit tests of the media domain: pure rules, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from komerbij.media.domain.coverage import CoverageItem, summarise
from komerbij.media.domain.feeds import backoff_seconds, next_poll_at
from komerbij.media.domain.mentions import tidy_tags
from komerbij.media.domain.monitoring_export import MappingError, parse_export
from komerbij.media.domain.places import link_municipalities, provinces_of
from komerbij.media.domain.relevance import CampaignTerms
from komerbij.media.domain.syndication import Story, is_copy
from komerbij.media.domain.urls import InvalidUrl, canonical_url

CANON = "https://rtvoost.nl/nieuws/123/week-tegen-eenzaamheid"


@pytest.mark.parametrize("url", [
    "https://www.rtvoost.nl/nieuws/123/week-tegen-eenzaamheid",
    "HTTPS://RTVOOST.NL/nieuws/123/week-tegen-eenzaamheid/",
    "http://rtvoost.nl/nieuws/123/week-tegen-eenzaamheid?utm_source=twitter&utm_medium=social",
    "https://rtvoost.nl/nieuws/123/week-tegen-eenzaamheid?fbclid=IwAR0abc#reacties",
    "https://rtvoost.nl/nieuws/123/week-tegen-eenzaamheid?gclid=xyz&UTM_campaign=wte",
    "https://amp.rtvoost.nl/nieuws/123/week-tegen-eenzaamheid",
    "https://rtvoost.nl/amp/nieuws/123/week-tegen-eenzaamheid",
    "https://rtvoost.nl/nieuws/123/week-tegen-eenzaamheid/amp/",
    "https://rtvoost.nl/nieuws/123/week-tegen-eenzaamheid?amp",
    "https://rtvoost.nl/nieuws/123/week-tegen-eenzaamheid?amp=1&utm_source=x",
    "https://rtvoost-nl.cdn.ampproject.org/c/s/rtvoost.nl/nieuws/123/week-tegen-eenzaamheid/amp",
    "https://rtvoost.nl:443/nieuws/123/week-tegen-eenzaamheid",
])
def test_decorated_links_have_one_canonical_url(url: str) -> None:
    assert canonical_url(url) == CANON


def test_meaningful_query_parameters_stay_and_are_ordered() -> None:
    assert canonical_url("https://ad.nl/artikel?page=2&id=7&utm_term=x") == "https://ad.nl/artikel?id=7&page=2"


def test_different_articles_keep_different_urls() -> None:
    assert canonical_url("https://ad.nl/a/1") != canonical_url("https://ad.nl/a/2")
    assert canonical_url("https://ad.nl/a/1") != canonical_url("https://trouw.nl/a/1")


@pytest.mark.parametrize("url", ["ftp://ad.nl/x", "javascript:alert(1)", "niet een link", ""])
def test_non_http_links_are_refused(url: str) -> None:
    with pytest.raises(InvalidUrl):
        canonical_url(url)


@pytest.mark.parametrize("text", [
    "Start van de Week tegen Eenzaamheid", "WEEK TEGEN EENZAAMHEID begint", "week-tegen-eenzaamheid in Zwolle",
    "Kom erbij! zegt de burgemeester", "Één tegen eenzaamheid", "een tegen eenzaamheid: het programma",
    "Doe mee #eenkleingebaar", "Mooi initiatief #weektegeneenzaamheid", "#WeekTegenEenzaamheid",
])
def test_campaign_terms_match_case_and_accent_insensitively(text: str) -> None:
    assert CampaignTerms().matches(text)


@pytest.mark.parametrize("text", [
    "Kom er maar bij", "Eenzaamheid onder ouderen neemt toe", "Week tegen pesten", "#eenkleingebaarje",
    "Welkom erbijzonder",
])
def test_unrelated_texts_are_not_relevant(text: str) -> None:
    assert not CampaignTerms().matches(text)


def test_relevance_looks_in_title_and_summary_and_terms_are_configurable() -> None:
    assert CampaignTerms().matches("Buurtfeest", "Onderdeel van de Week tegen Eenzaamheid")
    local = CampaignTerms.parse("Week van de Ontmoeting | Kom erbij")
    assert local.matches("De week van de ontmoeting start")
    assert not local.matches("Week tegen Eenzaamheid")


LEAD = "Tijdens de Week tegen Eenzaamheid organiseren vrijwilligers in het hele land maaltijden voor ouderen."


def test_same_agency_piece_with_small_edits_is_a_copy() -> None:
    original = Story("Vrijwilligers koken tegen eenzaamheid", LEAD)
    copy = Story("Vrijwilligers koken tegen eenzaamheid!", LEAD.replace("het hele land", "heel het land") + " (ANP)")
    shorter_lead = Story("Vrijwilligers koken tegen eenzaamheid", LEAD[:70])
    assert is_copy(original, copy)
    assert is_copy(original, shorter_lead)


def test_different_stories_and_leadless_items_are_not_copies() -> None:
    original = Story("Vrijwilligers koken tegen eenzaamheid", LEAD)
    assert not is_copy(original, Story("Burgemeester opent Week tegen Eenzaamheid", LEAD))
    assert not is_copy(original, Story("Vrijwilligers koken tegen eenzaamheid",
                                       "In Zwolle opende de wethouder een nieuw buurthuis voor jongeren."))
    assert not is_copy(Story("EenVandaag over eenzaamheid", ""), Story("EenVandaag over eenzaamheid", ""))


def test_best_as_an_ordinary_word_links_nothing_and_as_a_place_links_best() -> None:
    assert link_municipalities("Dit wordt de beste week van het jaar") == []
    assert link_municipalities("Eettafel in Best tijdens de Week tegen Eenzaamheid") == ["GM0753"]


@pytest.mark.parametrize(("text", "codes"), [
    ("Best organiseert een wandeling", []),  # a capital at the start of a sentence proves nothing
    ("Koffie. Goes doet mee", []),
    ("Veel ouderen kampen met eenzaamheid", []),
    ("Ouderen in Kampen kampen met eenzaamheid", ["GM0166"]),
    ("De buren komen erbij", []),
    ("Gemeente Ede en gemeente Epe doen mee", ["GM0228", "GM0232"]),
    ("Wandelen in ZUNDERT en Goes", ["GM0664"]),
    ("Bergen op Zoom opent de week", ["GM0748"]),  # the longer name wins over the shorter inside it
    ("Activiteiten in Bergen", []),  # two municipalities are called Bergen
    ("Nieuws uit Den Haag en ’s-Hertogenbosch", ["GM0518", "GM0796"]),
    ("Ontmoeting in súdwest-fryslân en amsterdam", ["GM0363", "GM1900"]),
    ("Midden-Groningen doet mee", ["GM1952"]),
    ("Heemstede kookt", ["GM0397"]),
])
def test_municipality_linking(text: str, codes: list[str]) -> None:
    assert link_municipalities(text) == codes


def test_every_text_starts_a_sentence_and_provinces_follow_places_and_outlet() -> None:
    assert link_municipalities("Wandeling", "Best loopt mee") == []
    assert provinces_of(["GM0753", "GM0153"], "Overijssel", None) == ["Noord-Brabant", "Overijssel"]
    assert provinces_of([], None, "GM0034") == ["Flevoland"]


def test_failing_feed_backs_off_exponentially_up_to_the_cap() -> None:
    assert [backoff_seconds(900, f, 6 * 3600) for f in range(6)] == [900, 900, 1800, 3600, 7200, 14400]
    assert backoff_seconds(900, 10, 6 * 3600) == 6 * 3600
    now = datetime(2027, 9, 30, tzinfo=UTC)
    assert next_poll_at(now, 600, 0, 3600) == now + timedelta(seconds=600)


def test_tags_are_tidied() -> None:
    assert tidy_tags(["Nieuwsbrief", " nieuwsbrief ", "TV  item", ""]) == ["nieuwsbrief", "tv item"]


def _item(day: int, medium: str, outlet: str, reach: int | None, copy: bool = False,
          places: tuple[str, ...] = (), provinces: tuple[str, ...] = ()) -> CoverageItem:
    return CoverageItem(date(2027, 9, day), medium, "regional", outlet, outlet.upper(), provinces, places, reach, copy)


def test_coverage_counts_copies_apart_and_sums_reach_as_an_estimate() -> None:
    result = summarise([
        _item(30, "print", "a", 1000, places=("GM0753",), provinces=("Noord-Brabant",)),
        _item(30, "print", "b", 500, copy=True, places=("GM0753",), provinces=("Noord-Brabant",)),
        _item(1, "tv", "c", None),
    ])
    assert result["totals"] == {"articles": 2, "copies": 1, "mentions": 3, "reach_estimate": 1500, "reach_unknown": 1}
    assert result["reach_is_estimate"] is True
    assert [(r["key"], r["articles"], r["copies"]) for r in result["by_medium"]] == [("print", 1, 1), ("tv", 1, 0)]
    assert result["by_municipality"] == [{"key": "GM0753", "name": "Best", "articles": 1, "copies": 1,
                                          "mentions": 2, "reach_estimate": 1500, "reach_unknown": 0}]
    assert [r["key"] for r in result["by_day"]] == ["2027-09-01", "2027-09-30"]


def test_vendor_export_keeps_good_rows_and_reports_bad_ones() -> None:
    text = (
        "Datum;Bron;Kop;Link;Bereik;Samenvatting\n"
        "30-09-2027 10:00;Trouw;Week tegen Eenzaamheid begint;https://trouw.nl/a?utm_source=x;250.000;Lead\n"
        "gisteren;Trouw;Kapotte datum;https://trouw.nl/b;;\n"
        "2027-10-01;;Geen bron;https://trouw.nl/c;;\n"
        "2027-10-01;AD;Slechte link;ftp://ad.nl/x;;\n"
    )
    rows, errors = parse_export(text)
    assert [(r.line, r.outlet, r.reach) for r in rows] == [(2, "Trouw", 250000)]
    assert rows[0].published_at.isoformat() == "2027-09-30T10:00:00+02:00"
    assert [(e.line, e.field) for e in errors] == [(3, "published_at"), (4, "outlet"), (5, "url")]


def test_vendor_export_column_mapping() -> None:
    rows, errors = parse_export("When,Where,What\n2027-10-01,Trouw,Kom erbij\n",
                                {"published_at": "When", "outlet": "Where", "title": "What"})
    assert errors == [] and rows[0].title == "Kom erbij"
    with pytest.raises(MappingError) as missing:
        parse_export("When,Where\n2027-10-01,Trouw\n", {"published_at": "When", "outlet": "Where"})
    assert missing.value.field == "mapping.title"
