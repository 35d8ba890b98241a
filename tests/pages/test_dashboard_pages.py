"""The dashboard's pages (issue 17) in Chromium behind the front door: an organiser of Amsterdam and the comms team
read the figures of a fixed set of events; axe finds no WCAG 2.1 A/AA violation at phone and desktop width; the
tables scroll inside their frame rather than the page sideways. `make screenshots` keeps the pictures.

The events are of edition 2021, which no other page test writes, so the figures checked are exactly these."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from dashboard.script import Script, fixed_events
from playwright.sync_api import Browser, BrowserContext, Page
from support.browser import axe_violations, new_context, screenshot
from support.frontdoor import Stack
from support.infra import Infra, run_sync
from support.services import auth

from komerbij.devtools.keycloak import KeycloakServer

from .test_login import log_in

EDITION = 2021


@pytest.fixture(scope="module")
def figures_of_2021(stack: Stack, infra: Infra) -> dict[str, str]:
    script = Script(EDITION)
    ids = fixed_events(script)
    run_sync(script.publish(infra.kafka_bootstrap))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = httpx.get(f"{stack.url}/api/dashboard/v1/municipalities/GM0363", params={"edition": EDITION},
                      headers=auth("comms"), timeout=5)
        if r.status_code == 200 and r.json()["mentions"]["total"] == 3 and r.json()["kit_orders"]["total"] == 3:
            return ids
        time.sleep(0.3)
    raise AssertionError(f"the dashboard did not show the 2021 events within 60 s (last: {r.status_code} {r.text})")


@pytest.fixture(scope="module")
def organiser(stack: Stack, keycloak: KeycloakServer, browser: Browser,
              figures_of_2021: dict[str, str]) -> Iterator[BrowserContext]:
    context = new_context(browser, "desktop", bypass_csp=True)  # axe is injected as an inline script
    page = context.new_page()
    log_in(page, stack, "organisator-amsterdam")  # Keycloak's form; back on the start page
    page.get_by_role("link", name="Naar de cijfers").click()  # the start page's way in, no address to know
    page.wait_for_url(f"{stack.url}/gemeente/GM0363")
    yield context
    context.close()


def check_layout(page: Page, name: str) -> None:
    for width, size in (("phone", {"width": 375, "height": 812}), ("desktop", {"width": 1280, "height": 900})):
        page.set_viewport_size(size)
        violations = axe_violations(page)
        assert violations == [], (width, violations)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{width}: the page is {overflow}px wider than the screen"
        screenshot(page, name, width)


def test_axe_and_an_organiser_of_amsterdam_reads_her_municipalitys_figures(stack: Stack,
                                                                           organiser: BrowserContext) -> None:
    page = organiser.pages[0]
    assert page.url == f"{stack.url}/gemeente/GM0363"  # /gemeente led her to her own municipality
    page.get_by_label("Editie").select_option(str(EDITION))
    page.get_by_role("button", name="Toon deze editie").click()
    page.wait_for_url(f"{stack.url}/gemeente/GM0363?editie={EDITION}")
    assert page.get_by_role("heading", level=1).inner_text() == "Amsterdam: de week in cijfers"
    facts = {dt.inner_text(): dd.inner_text() for dt, dd in zip(page.locator("dt").all(), page.locator("dd").all(),
                                                              strict=True)}
    assert facts["In de agenda"] == "2" and facts["Aanmeldingen"] == "4 (8 deelnemers)"
    assert facts["Bezetting"] == "70% van 10 plaatsen, 1 zonder maximum"
    assert facts["Bestellingen"] == "3 waarvan 1 afgewezen of geannuleerd" and facts["Artikelen besteld"] == "17"
    assert facts["Vermeldingen"] == "3 waarvan 1 overgenomen door andere media"
    assert facts["Geschat bereik"] == "1.700"
    agenda = page.get_by_role("link", name="2", exact=True).first
    assert agenda.get_attribute("href") == "/agenda?gemeente=GM0363"  # each figure leads to its details
    assert page.locator('a[href^="/media"]').count() == 0  # the media room is the comms team's, not hers
    check_layout(page, "gemeente")
    page.goto(f"{stack.url}/gemeente/GM0599")
    assert "Geen toegang" in page.locator("main").inner_text()  # another municipality's figures are not hers
    page.goto(f"{stack.url}/gemeenten")
    assert "Geen toegang" in page.locator("main").inner_text()


def test_axe_and_the_comms_team_reads_the_national_overview_and_exports_it(
    stack: Stack, keycloak: KeycloakServer, browser: Browser, figures_of_2021: dict[str, str]
) -> None:
    context = new_context(browser, "desktop", bypass_csp=True)
    try:
        page = context.new_page()
        log_in(page, stack, "communicatie")
        page.get_by_role("link", name="Cijfers", exact=True).click()  # the menu's way in: the national overview for her
        page.wait_for_url(f"{stack.url}/gemeenten")
        page.get_by_label("Editie").select_option(str(EDITION))
        page.get_by_role("button", name="Toon deze editie").click()
        page.wait_for_url(f"{stack.url}/gemeenten?editie={EDITION}")
        main = page.locator("main").inner_text()
        assert f"3 van de 342 gemeenten doen mee in {EDITION}" in main
        row = page.get_by_role("row", name="Zuid-Holland")
        assert row.locator("td").first.inner_text() == "2 van 50"
        check_layout(page, "gemeenten")
        download = page.get_by_role("link", name=f"Alle 342 gemeenten als CSV-bestand ({EDITION})")
        with page.expect_download() as got:
            download.click()
        assert got.value.suggested_filename == f"gemeenten-{EDITION}.csv"
        page.get_by_role("link", name="Amsterdam").click()
        page.wait_for_url(f"{stack.url}/gemeente/GM0363?editie={EDITION}")
        assert page.locator('a[href="/media?gemeente=GM0363"]').count() >= 2  # comms: mentions lead to /media
    finally:
        context.close()
