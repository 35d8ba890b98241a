"""The public agenda: every filter, free text without accents, pages, and iCalendar that parses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from icalendar import Calendar
from support.services import RunningService

from registration.builders import ORGANISER_A, ORGANISER_B, PARTNER, headers, published, submit

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(svc: RunningService) -> AsyncIterator[dict[str, str]]:
    """A small agenda with one distinguishing property per activity."""
    ids = {
        "cafe": await published(svc, title="Taalcafé in de bibliotheek", category="koffie_ontmoeting",
                                description="Eén uur Nederlands praten bij de koffie.",
                                starts_at="2027-10-02T10:00:00+02:00", ends_at="2027-10-02T12:00:00+02:00"),
        "walk": await published(svc, ORGANISER_B, title="Rollatorwandeling", category="wandelen_bewegen",
                                municipality="GM0518", target_groups=["ouderen", "vrijwilligers"],
                                starts_at="2027-10-04T10:00:00+02:00", ends_at="2027-10-04T11:30:00+02:00"),
        "youth": await published(svc, title="Gamemiddag", category="sport_spel", target_groups=["jongeren"],
                                 starts_at="2027-10-06T15:00:00+02:00", ends_at="2027-10-06T17:00:00+02:00"),
        "online": await published(svc, PARTNER, title="Belcirkel", category="online_telefonisch",
                                  municipality=None, venue=None, phone="0800 1234567",
                                  starts_at="2027-09-30T10:00:00+02:00", ends_at="2027-09-30T11:00:00+02:00"),
        "draft": await submit(svc, title="Taalcafé concept", category="koffie_ontmoeting"),
    }
    yield ids


async def agenda(svc: RunningService, **params: Any) -> dict[str, Any]:
    r = await svc.client.get("/v1/agenda", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def ids_of(page: dict[str, Any]) -> set[str]:
    return {i["id"] for i in page["items"]}


async def test_agenda_is_public_and_shows_only_published(svc: RunningService, seeded: dict[str, str]) -> None:
    page = await agenda(svc, page_size=100)
    assert {seeded["cafe"], seeded["walk"], seeded["youth"], seeded["online"]} <= ids_of(page)
    assert seeded["draft"] not in ids_of(page)
    assert page["page"] == 1 and page["total"] >= 4
    assert all(i["status"] == "published" for i in page["items"])
    item = next(i for i in page["items"] if i["id"] == seeded["cafe"])
    assert item["starts_at"] == "2027-10-02T10:00:00+02:00" and item["municipality"] == "GM0363"


@pytest.mark.parametrize("params, included, excluded, holds", [
    ({"municipality": "GM0518"}, ["walk"], ["cafe", "online"], lambda i: i["municipality"] == "GM0518"),
    ({"province": "Zuid-Holland"}, ["walk"], ["cafe"], lambda i: i["province"] == "Zuid-Holland"),
    ({"from": "2027-10-04", "to": "2027-10-04"}, ["walk"], ["cafe", "youth"],
     lambda i: i["starts_at"].startswith("2027-10-04")),
    ({"from": "2027-10-05"}, ["youth"], ["walk", "cafe"], lambda i: i["starts_at"] >= "2027-10-05"),
    ({"to": "2027-09-30"}, ["online"], ["cafe"], lambda i: i["starts_at"] < "2027-10-01"),
    ({"category": "wandelen_bewegen"}, ["walk"], ["cafe"], lambda i: i["category"] == "wandelen_bewegen"),
    ({"target_group": "jongeren"}, ["youth"], ["walk", "cafe"], lambda i: "jongeren" in i["target_groups"]),
    ({"online": "true"}, ["online"], ["cafe", "walk"], lambda i: i["online"]),
    ({"online": "false"}, ["cafe", "walk"], ["online"], lambda i: not i["online"]),
])
async def test_each_agenda_filter(svc: RunningService, seeded: dict[str, str], params: dict, included: list,
                                  excluded: list, holds: Any) -> None:
    page = await agenda(svc, page_size=100, **params)
    assert {seeded[k] for k in included} <= ids_of(page)
    assert not {seeded[k] for k in excluded} & ids_of(page)
    assert all(holds(i) for i in page["items"])
    assert page["total"] == len(page["items"])


@pytest.mark.parametrize("q", ["taalcafe", "TAALCAFÉ", "Taalcafé", "een uur", "bibliotheek taalcafe"])
async def test_free_text_ignores_case_and_accents(svc: RunningService, seeded: dict[str, str], q: str) -> None:
    page = await agenda(svc, q=q)
    assert ids_of(page) == {seeded["cafe"]}  # the draft with the same word stays out


async def test_free_text_needs_every_word(svc: RunningService, seeded: dict[str, str]) -> None:
    assert ids_of(await agenda(svc, q="taalcafe wandeling")) == set()


async def test_empty_parameters_mean_no_filter(svc: RunningService, seeded: dict[str, str]) -> None:
    empty = {k: "" for k in ("municipality", "province", "from", "to", "category", "target_group", "online", "q")}
    assert (await agenda(svc, page_size=100, **empty))["total"] == (await agenda(svc, page_size=100))["total"]


async def test_pages_split_the_result_without_overlap(svc: RunningService, seeded: dict[str, str]) -> None:
    whole = await agenda(svc, page_size=100)
    first, second = await agenda(svc, page_size=2, page=1), await agenda(svc, page_size=2, page=2)
    assert first["total"] == second["total"] == whole["total"]
    assert len(first["items"]) == 2 and second["page"] == 2
    assert not ids_of(first) & ids_of(second)
    assert [i["id"] for i in whole["items"][:4]] == [i["id"] for i in first["items"] + second["items"]]


@pytest.mark.parametrize("params, field", [({"municipality": "GM9999"}, "municipality"),
                                           ({"province": "Gelre"}, "province"), ({"category": "x"}, "category"),
                                           ({"page": "0"}, "page"), ({"from": "gisteren"}, "from"),
                                           ({"online": "misschien"}, "online")])
async def test_bad_filters_are_refused_naming_the_parameter(svc: RunningService, params: dict, field: str) -> None:
    r = await svc.client.get("/v1/agenda", params=params)
    assert r.status_code == 422 and field in r.json()["errors"][0]["field"]


async def test_municipality_feed_is_valid_icalendar_with_stable_uids_and_cancellations(
    svc: RunningService, seeded: dict[str, str]
) -> None:
    extra = await published(svc, title="Afgelaste eettafel", starts_at="2027-10-03T17:00:00+02:00",
                            ends_at="2027-10-03T19:00:00+02:00")
    r = await svc.client.get("/v1/agenda.ics", params={"municipality": "GM0363"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    assert str(cal["VERSION"]) == "2.0" and cal["PRODID"]
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    cafe = events[f"{seeded['cafe']}@registration.komerbij.nl"]
    assert str(cafe["SUMMARY"]) == "Taalcafé in de bibliotheek" and str(cafe["STATUS"]) == "CONFIRMED"
    assert cafe.decoded("DTSTART").isoformat() == "2027-10-02T10:00:00+02:00"
    assert "1015 KK" in str(cafe["LOCATION"])
    assert f"{seeded['walk']}@registration.komerbij.nl" not in events  # another municipality
    assert f"{seeded['draft']}@registration.komerbij.nl" not in events
    assert cal.walk("VTIMEZONE")  # times carry their Europe/Amsterdam zone

    uid = f"{extra}@registration.komerbij.nl"
    sequence_before = int(events[uid]["SEQUENCE"])
    assert (await svc.client.post(f"/v1/activities/{extra}/cancel", headers=headers(ORGANISER_A))).status_code == 200
    again = Calendar.from_ical((await svc.client.get("/v1/agenda.ics?municipality=GM0363")).content)
    cancelled = {str(e["UID"]): e for e in again.walk("VEVENT")}[uid]
    assert str(cancelled["STATUS"]) == "CANCELLED" and int(cancelled["SEQUENCE"]) > sequence_before
    assert extra not in ids_of(await agenda(svc, page_size=100))  # gone from the JSON agenda


async def test_single_activity_ics(svc: RunningService, seeded: dict[str, str]) -> None:
    r = await svc.client.get(f"/v1/activities/{seeded['online']}.ics")
    assert r.status_code == 200
    [event] = Calendar.from_ical(r.content).walk("VEVENT")
    assert str(event["UID"]) == f"{seeded['online']}@registration.komerbij.nl"
    assert "0800 1234567" in str(event["LOCATION"])
    assert (await svc.client.get(f"/v1/activities/{seeded['draft']}.ics")).status_code == 404
    assert (await svc.client.get("/v1/activities/not-an-id.ics")).status_code == 404
