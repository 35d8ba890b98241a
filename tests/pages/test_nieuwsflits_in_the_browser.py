"""The nieuwsflits in Chromium behind the front door: `communicatie` logs in through Keycloak's form, composes an
edition whose "In de media" holds two featured mentions, previews it and sends it; axe (WCAG 2.1 AA) checks the
compose, preview and archive pages at phone and desktop width. Everything else about these pages is checked at
HTML level in test_nieuwsflits_pages.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from support.browser import axe_violations, new_context, screenshot
from support.frontdoor import Stack
from support.keycloak import password_token

from komerbij.devtools.keycloak import KeycloakServer

from .test_login import log_in

PERIOD = ("2026-09-28", "2026-10-04")
# (path, screenshot name); {edition} is a draft made for the module
PAGES = [("/media/nieuwsflits/nieuw", "nieuwsflits-samenstellen"), ("/media/nieuwsflits/{edition}", "nieuwsflits"),
         ("/media/nieuwsflits/archief", "nieuwsflits-archief")]


def _api(stack: Stack, keycloak: KeycloakServer) -> httpx.Client:
    token = password_token(keycloak, "communicatie")["access_token"]
    return httpx.Client(base_url=f"{stack.url}/api/media", headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture(scope="module")
def featured(stack: Stack, keycloak: KeycloakServer) -> list[str]:
    """Two featured mentions in the period (and one not featured), entered through the API as comms would."""
    with _api(stack, keycloak) as api:
        r = api.post("/v1/outlets", json={"name": f"Dagblad {uuid.uuid4().hex[:6]}", "medium": "print",
                                          "scope": "national"})
        assert r.status_code == 201, r.text
        titles = [f"Samen koffie {uuid.uuid4().hex[:4]}", f"Buren aan tafel {uuid.uuid4().hex[:4]}"]
        for title, featured, day in [(titles[0], True, "2026-09-30"), (titles[1], True, "2026-10-01"),
                                     ("Niet gekozen", False, "2026-10-01")]:
            m = api.post("/v1/mentions", json={"outlet_id": r.json()["id"], "title": title, "published_at": day,
                                               "url": f"https://dagblad.example/{uuid.uuid4().hex[:8]}"})
            assert m.status_code == 201, m.text
            if featured:
                assert api.patch(f"/v1/mentions/{m.json()['id']}", json={"featured": True}).status_code == 200
    return titles


@pytest.fixture(scope="module")
def draft(stack: Stack, keycloak: KeycloakServer, featured: list[str]) -> str:
    with _api(stack, keycloak) as api:
        r = api.post("/v1/newsletters", json={
            "title": "Nieuwsflits voor de schermafdruk", "intro": "De week komt eraan.",
            "period_from": PERIOD[0], "period_to": PERIOD[1],
            "sections": [{"heading": "Kom erbij-pakket", "text": "Bestel het pakket voor uw activiteit."}],
            "dates": [{"day": "2026-10-01", "label": "Start van de week"}]})
        assert r.status_code == 201, r.text
        return r.json()["id"]


@pytest.fixture(scope="module")
def logged_in(stack: Stack, keycloak: KeycloakServer, browser: Browser) -> Iterator[dict[str, BrowserContext]]:
    """One login through Keycloak's form per width; axe is injected as an inline script, hence bypass_csp."""
    contexts = {}
    try:
        for width in ("desktop", "phone"):
            context = contexts[width] = new_context(browser, width, bypass_csp=True)
            log_in(context.new_page(), stack, "communicatie")
        yield contexts
    finally:
        for context in contexts.values():
            context.close()


def _no_violations(page: Page) -> None:
    assert page.locator("html").get_attribute("lang") == "nl"
    violations = axe_violations(page)
    assert violations == [], violations


def test_communicatie_composes_previews_and_sends_a_nieuwsflits_with_two_featured_mentions(
    stack: Stack, logged_in: dict[str, BrowserContext], featured: list[str],
) -> None:
    page = logged_in["desktop"].new_page()
    page.goto(f"{stack.url}/media/nieuwsflits")
    page.get_by_role("link", name="Nieuwe nieuwsflits samenstellen").click()
    page.get_by_label("Titel").fill("Week tegen Eenzaamheid 2026")
    page.get_by_label("Inleiding").fill("Beste lezer,\n\nDe week komt eraan.")
    page.get_by_label("Verschenen vanaf").fill(PERIOD[0])
    page.get_by_label("Verschenen tot en met").fill(PERIOD[1])
    page.locator("#veld-sections-0-heading").fill("Kom erbij-pakket")
    page.locator("#veld-sections-0-text").fill("Bestel het pakket voor uw activiteit.")
    page.get_by_role("button", name="Concept opslaan en bekijken").click()
    page.wait_for_url(re.compile(r".*/media/nieuwsflits/[0-9a-f-]{36}$"))

    text = page.locator("pre.komerbij-mail-text").inner_text()
    assert featured[0] in text and featured[1] in text and "Niet gekozen" not in text
    frame = page.frame_locator("iframe.komerbij-mail-preview")
    assert frame.get_by_role("link", name=featured[0]).is_visible()
    assert frame.get_by_role("link", name=featured[1]).is_visible()

    page.get_by_role("button", name="Nieuwsflits versturen").click()
    page.wait_for_url(re.compile(r".*\?verstuurd=1$"))
    assert "De nieuwsflits is verstuurd" in page.get_by_role("status").inner_text()
    page.get_by_role("link", name="In het archief").click()
    assert page.get_by_role("heading", level=1).inner_text().endswith("Week tegen Eenzaamheid 2026")
    assert page.get_by_role("link", name=featured[1]).is_visible()


@pytest.mark.parametrize("width", ["phone", "desktop"])
@pytest.mark.parametrize(("path", "name"), PAGES)
def test_axe_finds_no_wcag_21_aa_violation_on_the_nieuwsflits_pages(
    stack: Stack, logged_in: dict[str, BrowserContext], draft: str, path: str, name: str, width: str,
) -> None:
    page = logged_in[width].new_page()
    try:
        page.goto(stack.url + path.format(edition=draft), wait_until="networkidle")
        _no_violations(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the screen: people would scroll sideways"
        screenshot(page, name, width)
    finally:
        page.close()
