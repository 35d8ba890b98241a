"""The start page and the accessibility statement through the real front door, served by registration from its own
editions; the JSON APIs of all four services through the same door."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
from support.frontdoor import SERVICES, Stack

from komerbij.registration.domain.edition import Edition
from komerbij.registration.entrypoints.pages.home import week_on_show
from komerbij.runtime.reference import default_week

WAYS_IN = ["/agenda", "/organisator", "/bestellen", "/moderatie", "/magazijn", "/media", "/partners"]


def test_the_start_page_says_when_the_week_is_and_shows_every_visitor_the_way_in(stack: Stack) -> None:
    page = httpx.get(f"{stack.url}/", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="nl"' in html
    today = date.today()
    year = today.year if default_week(today.year)[1] >= today else today.year + 1
    start, end = default_week(year)  # the editions registration seeds at start
    assert f"donderdag {start.day}" in html and f"donderdag {end.day} oktober {year}" in html
    for href in WAYS_IN:
        assert f'href="{href}"' in html, f"no way in to {href}"
    assert "Kom erbij" in html
    assert "set-cookie" not in page.headers  # no form, no session: an anonymous visit leaves nothing behind


def test_the_accessibility_statement_names_the_standard_and_where_to_report(stack: Stack) -> None:
    page = httpx.get(f"{stack.url}/toegankelijkheid")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert "WCAG) 2.1 op niveau A en AA" in text
    assert "Een probleem melden" in text and "mailto:" in text
    assert "eerste maatregelen genomen" in text  # honest status: automated checks, no independent audit yet


@pytest.mark.parametrize("service", SERVICES)
def test_each_services_api_answers_through_the_front_door(stack: Stack, service: str) -> None:
    answer = httpx.get(f"{stack.url}/api/{service}/healthz")
    assert answer.json() == {"status": "ok", "service": service}


def test_a_json_api_works_through_the_front_door_as_on_its_own_port(stack: Stack) -> None:
    through_door = httpx.get(f"{stack.url}/api/registration/v1/agenda")
    direct = httpx.get(f"{stack.services['registration'].url}/v1/agenda")
    assert through_door.status_code == direct.status_code == 200
    assert through_door.json()["total"] == direct.json()["total"]


def test_a_form_post_without_a_csrf_token_is_refused_through_the_front_door(stack: Stack) -> None:
    answer = httpx.post(f"{stack.url}/logout", data={}, headers={"accept": "text/html"})
    assert answer.status_code == 403
    assert "Formulier niet geaccepteerd" in answer.text and '<html lang="nl"' in answer.text


def test_the_stylesheets_come_through_the_front_door(stack: Stack) -> None:
    html = httpx.get(f"{stack.url}/").text
    for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', html):
        assert httpx.get(f"{stack.url}{href}").status_code == 200, href


def week(year: int) -> Edition:
    return Edition(year, *default_week(year))


def test_during_the_week_the_start_page_says_it_is_on() -> None:
    shown = week_on_show([week(2026), week(2027)], date(2026, 10, 3))
    assert shown is not None and shown.running and shown.edition.year == 2026 and shown.previous is None
    assert shown.dates == "donderdag 1 tot en met donderdag 8 oktober 2026"


def test_before_the_week_the_start_page_announces_this_years_dates() -> None:
    shown = week_on_show([week(2026), week(2027)], date(2026, 5, 1))
    assert shown is not None and not shown.running and shown.edition.year == 2026


def test_after_the_week_the_start_page_announces_next_years() -> None:
    shown = week_on_show([week(2026), week(2027)], date(2026, 11, 27))
    assert shown is not None and shown.edition.year == 2027 and shown.previous == week(2026)
    assert shown.dates == "donderdag 30 september tot en met donderdag 7 oktober 2027"


def test_without_editions_ahead_the_start_page_names_no_dates() -> None:
    assert week_on_show([week(2020)], date(2026, 1, 1)) is None
