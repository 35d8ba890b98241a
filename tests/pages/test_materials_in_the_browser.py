"""Ordering the kit and the warehouse in Chromium, behind the real front door, logged in through Keycloak's own form
(issue 16, part 7): an organiser of Amsterdam finds the order form from the start page, makes one mistake, orders,
sees the order confirmed and, once the warehouse has moved it, shipped with its track-and-trace; sending the same form
again orders nothing twice. The warehouse uploads a status CSV with one bad row and sees that row's error. axe-core
finds no WCAG 2.1 A/AA violation on any of these pages at phone and desktop width (`make screenshots` keeps them).

Each account logs in once per module (Keycloak's form). The HTML-level rules (every rejection, cancel, filters,
bulk, the stock page's audit trail) are in test_materials_pages.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from support.browser import WIDTHS, axe_violations, new_context, screenshot
from support.frontdoor import Stack
from support.services import auth

from komerbij.devtools.keycloak import KeycloakServer
from komerbij.materials.domain.edition import upcoming_edition
from pages.test_login import log_in

TODAY = date.today()
EDITION = upcoming_edition(TODAY, 14)  # the stack runs on the real clock, with the default window
STOCK = {"POSTER-A3": 800, "POSTER-A2": 300, "VLOERSTICKER": 300, "PLACEMAT": 150, "ANSICHTKAART": 300}
UUID_PATH = r"/bestellingen/([0-9a-f-]{36})"


def api(stack: Stack) -> str:
    return f"{stack.url}/api/materials"


def set_stock(stack: Stack, levels: dict[str, int]) -> None:
    """Free stock to these levels, whatever the earlier tests of the run left (through the API, as an admin)."""
    items = httpx.get(f"{api(stack)}/v1/catalog").json()["items"]
    for item in items:
        if item["sku"] in levels and (delta := levels[item["sku"]] - item["stock_on_hand"]):
            r = httpx.post(f"{api(stack)}/v1/catalog/{item['sku']}/stock", headers=auth("admin"),
                           json={"delta": delta, "reason": "voorraad voor de paginatests"})
            assert r.status_code == 201, r.text


def api_order(stack: Stack, municipality: str, lines: dict[str, int], organisation: str, *moves: str) -> str:
    body = {"lines": [{"sku": s, "quantity": n} for s, n in lines.items()],
            "delivery_address": {"organisation": organisation, "attention": "Team Welzijn", "street": "Markt 1",
                                 "postcode": "3011 AD", "city": "Rotterdam"},
            "contact": {"email": "welzijn@example.org"}, "wanted_by": (EDITION.starts - timedelta(days=5)).isoformat()}
    headers = {**auth("organiser", municipality=municipality, subject="paginatests"),
               "Idempotency-Key": uuid.uuid4().hex}
    r = httpx.post(f"{api(stack)}/v1/orders", json=body, headers=headers)
    assert r.status_code == 201 and r.json()["status"] == "confirmed", r.text
    order_id = str(r.json()["id"])
    for status in moves:
        change = {"status": status} | ({"carrier": "PostNL", "tracking_code": "3SKOM" + order_id[:8].upper()}
                                       if status == "shipped" else {})
        r = httpx.post(f"{api(stack)}/v1/orders/{order_id}/status", json=change, headers=auth("fulfilment"))
        assert r.status_code == 200, r.text
    return order_id


def amsterdam_orders(stack: Stack) -> set[str]:
    r = httpx.get(f"{api(stack)}/v1/orders?limit=500", headers=auth("organiser", municipality="GM0363"))
    return {o["id"] for o in r.json()["items"]}


@pytest.fixture(scope="module")
def stocked(stack: Stack) -> None:
    if not EDITION.window_open(TODAY):
        pytest.skip(f"the order window of {EDITION.year} is closed on the real calendar ({TODAY}); the stack runs "
                    "on the real clock, so no order can be placed until the week is over")
    set_stock(stack, STOCK)


@pytest.fixture(scope="module")
def accounts(stack: Stack, keycloak: KeycloakServer, browser: Browser) -> Iterator[dict[tuple[str, bool], Page]]:
    """One logged-in page per (account, CSP bypassed for axe), made when first asked for; the login is Keycloak's."""
    contexts: list[BrowserContext] = []

    class Accounts(dict[tuple[str, bool], Page]):
        def __missing__(self, key: tuple[str, bool]) -> Page:
            context = new_context(browser, bypass_csp=key[1])
            contexts.append(context)
            page = context.new_page()
            log_in(page, stack, key[0])
            self[key] = page
            return page

    try:
        yield Accounts()
    finally:
        for context in contexts:
            context.close()


def test_an_organiser_orders_the_kit_from_the_start_page_and_sees_it_confirmed_then_shipped(
    stack: Stack, stocked: None, accounts: dict[tuple[str, bool], Page]
) -> None:
    before = amsterdam_orders(stack)
    page = accounts["organisator-amsterdam", False]
    page.goto(stack.url + "/")
    page.get_by_role("link", name="Pakket bestellen").click()  # no address known beyond the start page
    page.wait_for_url(f"{stack.url}/bestellen")

    page.get_by_label("Kom erbij-pakket compleet").fill("1")
    page.get_by_label("Naam van de organisatie").fill("Buurthuis De Pijp")
    page.get_by_label("Straat en huisnummer").fill("Ferdinand Bolstraat 10")
    page.get_by_label("Postcode").fill("1072")  # one mistake first
    page.get_by_label("Plaats", exact=True).fill("Amsterdam")
    page.get_by_label("E-mailadres").fill("pijp@example.org")
    page.get_by_label("Uiterlijk op").fill((EDITION.starts - timedelta(days=4)).isoformat())
    page.get_by_role("button", name="Bestelling plaatsen").click()

    expect(page.locator("#veld-delivery-address-postcode-fout")).to_have_text(
        "Fout: Geen geldige Nederlandse postcode (bijvoorbeeld 1011 PN).")
    expect(page.get_by_role("alert")).to_contain_text("Geen geldige Nederlandse postcode")
    expect(page.get_by_label("Kom erbij-pakket compleet")).to_have_value("1")  # what was typed stays
    expect(page.get_by_label("Straat en huisnummer")).to_have_value("Ferdinand Bolstraat 10")
    assert amsterdam_orders(stack) == before

    page.get_by_label("Postcode").fill("1072 LK")
    sent = page.evaluate("Object.fromEntries(new FormData(document.querySelector('form[action=\"/bestellen\"]')))")
    page.get_by_role("button", name="Bestelling plaatsen").dblclick()  # an impatient double click
    page.wait_for_url(re.compile(re.escape(stack.url) + UUID_PATH + r"\?"))
    order_id = re.search(UUID_PATH, page.url).group(1)  # type: ignore[union-attr]
    expect(page.get_by_role("heading", level=2, name="Uw bestelling is bevestigd")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("bevestigd")
    assert amsterdam_orders(stack) - before == {order_id}

    again = page.request.post(f"{stack.url}/bestellen", form=sent)  # the same submission sent once more
    assert again.ok and re.search(UUID_PATH, again.url).group(1) == order_id  # type: ignore[union-attr]
    assert "niets dubbel besteld" in again.text()
    assert amsterdam_orders(stack) - before == {order_id}

    # the warehouse: into picking from the list (ticked, bulk), shipped from the order's own page
    short = order_id[:8].upper()
    warehouse = accounts["magazijn", False]
    warehouse.goto(stack.url + "/")
    warehouse.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Magazijn").click()
    warehouse.get_by_label(f"Kies bestelling {short}").check()
    warehouse.get_by_role("button", name="In behandeling nemen").click()
    expect(warehouse.get_by_role("status").first).to_contain_text("1 bestelling is nu in behandeling.")
    warehouse.get_by_role("link", name=short, exact=True).click()
    warehouse.get_by_label("Vervoerder").fill("PostNL")
    warehouse.get_by_label("Track-and-tracecode").fill(f"3SPIJP{short}")
    warehouse.get_by_role("button", name="Verzonden").click()
    expect(warehouse.get_by_text("De status is bijgewerkt.")).to_be_visible()

    page.goto(f"{stack.url}/bestellingen")
    page.get_by_role("link", name=f"Bestelling {short}").click()
    current = page.locator(".komerbij-timeline__step--current")
    expect(current).to_contain_text("Verzonden")
    expect(current).to_contain_text(f"Met PostNL, track-and-trace 3SPIJP{short}")
    expect(current.get_by_role("link", name="Volg het pakket bij PostNL")).to_have_attribute(
        "href", f"https://jouw.postnl.nl/track-and-trace/3SPIJP{short}-NL-1072LK")


def test_the_warehouse_uploads_a_status_csv_with_one_bad_row_and_sees_that_rows_error(
    stack: Stack, stocked: None, accounts: dict[tuple[str, bool], Page]
) -> None:
    order_id = api_order(stack, "GM0599", {"POSTER-A3": 10}, "Welzijn Rotterdam", "picking")
    upload = f"order_id;status;carrier;tracking_code\n{order_id};shipped;DHL;JVGL0001\n{order_id[:8]};delivered;;\n"
    page = accounts["magazijn", False]
    page.goto(stack.url + "/magazijn")
    page.get_by_label("CSV-bestand").set_input_files(
        files=[{"name": "status.csv", "mimeType": "text/csv", "buffer": upload.encode()}])
    page.get_by_role("button", name="Inlezen").click()

    outcome = page.locator("#statusbestand-uitkomst")
    expect(outcome).to_contain_text("1 regel verwerkt, 1 regel niet.")
    row = outcome.get_by_role("table").get_by_role("row").nth(1)
    expect(row).to_contain_text("3")
    expect(row).to_contain_text(order_id[:8])
    expect(row).to_contain_text("Bestelling niet gevonden")
    r = httpx.get(f"{api(stack)}/v1/orders/{order_id}", headers=auth("fulfilment"))
    assert (r.json()["status"], r.json()["tracking_code"]) == ("shipped", "JVGL0001")


# Per account: the pages (path or a function of the test's data, screenshot name). The order page shows an order
# shipped with its track-and-trace, the stock page a low-stock warning.
AXE_PAGES = {
    "organisator-amsterdam": [("/bestellen", "bestellen"), ("/bestellingen", "bestellingen"),
                              ("{shipped}", "bestelling")],
    "magazijn": [("/magazijn", "magazijn"), ("{shipped}", "bestelling-magazijn")],
    "beheerder": [("/magazijn/voorraad", "voorraad")],
}


@pytest.mark.parametrize("account", list(AXE_PAGES))
def test_axe_finds_no_wcag_21_aa_violation_on_the_materials_pages(
    stack: Stack, stocked: None, accounts: dict[tuple[str, bool], Page], account: str
) -> None:
    shipped = api_order(stack, "GM0363", {"KIT-COMPLEET": 2, "ANSICHTKAART": 4}, "Gemeente Amsterdam",
                        "picking", "shipped")
    if account == "magazijn":  # the warehouse has orders in every state to show
        api_order(stack, "GM0599", {"POSTER-A3": 20, "PLACEMAT": 2}, "Welzijn Rotterdam", "picking")
        api_order(stack, "GM0014", {"KIT-COMPLEET": 1}, "Humanitas Groningen")
    if account == "beheerder":
        set_stock(stack, {**STOCK, "VLOERSTICKER": 15})  # under its threshold of 20
    page = accounts[account, True]
    for path, name in AXE_PAGES[account]:
        for width in ("phone", "desktop"):
            page.set_viewport_size(WIDTHS[width])
            page.goto(stack.url + path.format(shipped=f"/bestellingen/{shipped}"), wait_until="networkidle")
            assert page.locator("html").get_attribute("lang") == "nl"
            assert "Ingelogd als" in page.locator("header").inner_text()
            violations = axe_violations(page)
            assert violations == [], (path, width, violations)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the {width} screen"
            screenshot(page, name, width)
    if account == "beheerder":
        set_stock(stack, STOCK)
