"""Materials' pages as HTML (issue 16, parts 1 and 2): ordering the kit (`/bestellen`), the organisation's orders
(`/bestellingen`), the warehouse (`/magazijn`) and the stock (`/magazijn/voorraad`), against the real service on the
session's Kafka and PostgreSQL, with a clock the test sets. A person is logged in by the session cookie the login
would set (signed with the service's SESSION_SECRET); the login itself is test_login's. The flows in Chromium, with
Keycloak's login, are in test_materials_in_the_browser.py.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import itsdangerous
import pytest
from support.clock import ControlledClock
from support.infra import Infra
from support.services import RunningService, auth, running, settings_env

from komerbij.materials.app import SPEC
from komerbij.materials.demo import load_demo_data
from komerbij.runtime.web import SESSION_COOKIE

from .html_tree import build

SESSION_SECRET = "session-secret-for-the-materials-page-tests"
JUNE_2027 = datetime(2027, 6, 1, 10, 0, tzinfo=UTC)  # the 2027 window (closing 16 September) is open
PEOPLE: dict[str, dict[str, Any]] = {
    "anna": {"sub": "anna", "name": "Anna de Vries", "role": "organiser", "municipality": "GM0363", "partner": None},
    "bram": {"sub": "bram", "name": "Bram Jansen", "role": "organiser", "municipality": "GM0363", "partner": None},
    "rotterdam": {"sub": "rob", "name": "Rob Visser", "role": "organiser", "municipality": "GM0599", "partner": None},
    "partner": {"sub": "pia", "name": "Pia Smit", "role": "organiser", "municipality": None, "partner": "ouderenfonds"},
    "magazijn": {"sub": "mo", "name": "Mo Bakker", "role": "fulfilment", "municipality": None, "partner": None},
    "beheerder": {"sub": "bea", "name": "Bea de Boer", "role": "admin", "municipality": None, "partner": None},
}
CSRF = "csrf-token-of-the-materials-page-tests"
KIT_STOCK = {"POSTER-A3": 500, "POSTER-A2": 200, "VLOERSTICKER": 200, "PLACEMAT": 100, "ANSICHTKAART": 200}
ADDRESS = {"delivery_address.organisation": "Buurthuis De Pijp", "delivery_address.attention": "Sanne",
           "delivery_address.street": "Ferdinand Bolstraat 10", "delivery_address.postcode": "1072 LK",
           "delivery_address.city": "Amsterdam", "contact.email": "sanne@example.org", "contact.phone": "",
           "wanted_by": "2027-09-15"}


# --- what a person sees on a page: html_tree's parser, with questions about forms ------------------------------

@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return re.sub(r"\s+", " ", " ".join(parts)).strip()

    def all(self, match: Callable[[Node], bool]) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if match(child):
                    found.append(child)
                found.extend(child.all(match))
        return found

    def by_id(self, element_id: str) -> Node:
        found = self.all(lambda n: n.attrs.get("id") == element_id)
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def field(self, name: str) -> Node:
        found = self.all(lambda n: n.tag in ("input", "select", "textarea") and n.attrs.get("name") == name)
        assert len(found) == 1, f"{len(found)} fields named {name!r}"
        return found[0]

    def value(self, name: str) -> str:
        node = self.field(name)
        if node.tag == "select":
            chosen = node.all(lambda n: n.tag == "option" and "selected" in n.attrs)
            return chosen[0].attrs.get("value", "") if chosen else ""
        return node.text() if node.tag == "textarea" else node.attrs.get("value", "")

    def error_at(self, name: str) -> str:
        """The message shown at a field (the form macros' `-fout` element its input points to)."""
        node = self.field(name)
        described = node.attrs.get("aria-describedby", "").split()
        errors = [self.by_id(i).text() for i in described if i.endswith("-fout")]
        assert node.attrs.get("aria-invalid") == "true" and errors, f"no message at {name!r}"
        return errors[0].removeprefix("Fout: ")

    def main(self) -> str:
        return self.all(lambda n: n.tag == "main")[0].text()


def dom(html: str) -> Node:
    return build(html, Node)


# --- the service, and people logged in ---------------------------------------------------------------------------

def session_cookie(person: str) -> str:
    """What `web.session.log_in` stores after Keycloak's callback, signed as Starlette's SessionMiddleware does."""
    data = base64.b64encode(json.dumps({"user": PEOPLE[person], "csrf": CSRF}).encode())
    return itsdangerous.TimestampSigner(SESSION_SECRET).sign(data).decode()


@dataclass
class Site:
    svc: RunningService
    clock: ControlledClock

    def as_(self, person: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.svc.client._transport, base_url="http://test",
                                 cookies={SESSION_COOKIE: session_cookie(person)},
                                 headers={"Accept": "text/html"})

    async def add_stock(self, levels: dict[str, int]) -> None:
        for sku, n in levels.items():
            r = await self.svc.client.post(f"/v1/catalog/{sku}/stock", json={"delta": n, "reason": "levering"},
                                           headers=auth("admin"))
            assert r.status_code == 201, r.text

    async def order(self, municipality: str = "GM0363", lines: tuple[tuple[str, int], ...] = (("KIT-COMPLEET", 1),),
                    **address: str) -> str:
        body = {"lines": [{"sku": s, "quantity": q} for s, q in lines],
                "delivery_address": {"organisation": address.get("organisation", "Wijkcentrum Oost"),
                                     "street": address.get("street", "Oosterpark 1"),
                                     "postcode": address.get("postcode", "1092 AE"),
                                     "city": address.get("city", "Amsterdam")},
                "contact": {"email": "oost@example.org"}, "wanted_by": "2027-09-20"}
        r = await self.svc.client.post("/v1/orders", json=body,
                                       headers=auth("organiser", municipality=municipality, subject="api"))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def move(self, order_id: str, *statuses: str) -> None:
        for status in statuses:
            body: dict[str, str] = {"status": status}
            if status == "shipped":
                body.update(carrier="PostNL", tracking_code=f"3S{order_id[:8].upper()}")
            r = await self.svc.client.post(f"/v1/orders/{order_id}/status", json=body, headers=auth("fulfilment"))
            assert r.status_code == 200, r.text

    async def status(self, order_id: str) -> str:
        r = await self.svc.client.get(f"/v1/orders/{order_id}", headers=auth("fulfilment"))
        return str(r.json()["status"])

    async def count_orders(self) -> int:
        async with self.svc.runtime.pool.acquire() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM orders"))


@pytest.fixture
async def site(infra: Infra) -> AsyncIterator[Site]:
    clock = ControlledClock(JUNE_2027)
    env = settings_env(infra, infra.new_database("pages_materials"), SESSION_SECRET=SESSION_SECRET)
    async with running(SPEC, env, clock=clock) as svc:
        yield Site(svc, clock)


def order_form(page: Node, **quantities: int) -> dict[str, str]:
    """The form as the page drew it (hidden fields included), with quantities by SKU and the test's address."""
    data = {n.attrs["name"]: n.attrs.get("value", "")
            for n in page.by_id("inhoud").all(lambda n: n.tag == "input" and "name" in n.attrs)}
    skus = {v: k.split(".")[1] for k, v in data.items() if k.startswith("lines.") and k.endswith(".sku")}
    for sku, n in quantities.items():
        data[f"lines.{skus[sku]}.quantity"] = str(n)
    return {**data, **ADDRESS}


def table_rows(page: Node, caption_id: str) -> list[list[str]]:
    """The data cells, row by row, of the table with that caption."""
    table = next(t for t in page.all(lambda n: n.tag == "table")
                 if t.all(lambda n: n.tag == "caption" and n.attrs.get("id") == caption_id))
    rows = [[c.text() for c in tr.all(lambda n: n.tag == "td")] for tr in table.all(lambda n: n.tag == "tr")]
    return [row for row in rows if row]


async def get_page(client: httpx.AsyncClient, path: str, status: int = 200) -> Node:
    r = await client.get(path)
    assert r.status_code == status, (r.status_code, r.text[:2000])
    return dom(r.text)


# --- ordering ----------------------------------------------------------------------------------------------------

async def test_the_order_page_shows_what_each_item_is_for_stock_quota_left_and_the_previous_address(
    site: Site,
) -> None:
    await site.add_stock(KIT_STOCK)
    await site.order("GM0363", (("POSTER-A3", 40),), organisation="Gemeente Amsterdam, Team Welzijn",
                     street="Amstel 1", postcode="1011 PN")
    async with site.as_("bram") as bram:  # a colleague: the organisation's previous order, not his own
        page = await get_page(bram, "/bestellen")

    a3 = page.by_id("veld-lines-0-quantity-uitleg").text()
    assert "Poster 'Kom erbij' op A3-formaat, om activiteiten aan te kondigen." in a3  # what it is for
    assert "Op voorraad: 460" in a3
    assert "Uw gemeente kan er nog 60 van de 100 bestellen" in a3
    kit = page.by_id("veld-lines-5-quantity-uitleg").text()
    assert "Op voorraad: 92 pakketten" in kit  # complete kits the free components make: 460 A3 / 5
    assert page.value("delivery_address.organisation") == "Gemeente Amsterdam, Team Welzijn"
    assert (page.value("delivery_address.street"), page.value("delivery_address.postcode")) == ("Amstel 1", "1011 PN")
    assert "Bestellen kan tot en met 15 september 2027" in page.main()
    assert re.fullmatch(r"[0-9a-f]{32}", page.value("idempotency_key"))


async def test_a_wrong_field_comes_back_with_its_message_there_and_everything_typed_kept(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    async with site.as_("anna") as anna:
        form = order_form(await get_page(anna, "/bestellen"), **{"KIT-COMPLEET": 2})
        form.update({"delivery_address.postcode": "1072", "lines.1.quantity": "twee", "wanted_by": "31-02-2027"})
        r = await anna.post("/bestellen", data=form)

        assert r.status_code == 422
        page = dom(r.text)
        assert page.error_at("delivery_address.postcode") == "Geen geldige Nederlandse postcode (bijvoorbeeld 1011 PN)."
        assert "aantal in als heel getal" in page.error_at("lines.1.quantity")
        assert page.error_at("wanted_by") == "Vul een bestaande datum in, bijvoorbeeld 15-09-2027."
        assert page.value("lines.5.quantity") == "2" and page.value("lines.1.quantity") == "twee"
        assert page.value("delivery_address.street") == "Ferdinand Bolstraat 10"
        assert page.value("idempotency_key") == form["idempotency_key"]  # still the same submission
        summary = page.all(lambda n: "komerbij-error-summary" in n.attrs.get("class", ""))[0]
        assert summary.all(lambda n: n.tag == "a" and n.attrs.get("href") == "#veld-delivery-address-postcode")
        assert await site.count_orders() == 0

        form = order_form(page, **{"KIT-COMPLEET": 2, "POSTER-A2": 0})
        form.update({"lines.1.quantity": "60"})  # the per-order maximum of A2 posters is 25: the use case says so
        r = await anna.post("/bestellen", data=form)
        assert r.status_code == 422
        assert dom(r.text).error_at("lines.1.quantity") == (
            "Per bestelling kunt u maximaal 25 × Poster A2 (stuk) bestellen.")


async def test_nothing_to_order_is_said_at_the_items(site: Site) -> None:
    async with site.as_("anna") as anna:
        r = await anna.post("/bestellen", data=order_form(await get_page(anna, "/bestellen")))
    assert r.status_code == 422
    page = dom(r.text)
    assert page.by_id("veld-lines-fout").text() == "Fout: Vul bij minstens één artikel in hoeveel u wilt bestellen."
    assert page.by_id("veld-lines").attrs.get("aria-invalid") == "true"


async def test_the_same_submission_sent_again_gives_the_first_order_and_orders_nothing_twice(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    async with site.as_("anna") as anna:
        form = order_form(await get_page(anna, "/bestellen"), **{"KIT-COMPLEET": 1})
        first = await anna.post("/bestellen", data=form)
        again = await anna.post("/bestellen", data=form)  # a double click, or the page sent once more

        assert first.status_code == again.status_code == 303
        order_path = first.headers["location"].split("?")[0]
        assert again.headers["location"] == f"{order_path}?al-geplaatst=1"
        assert await site.count_orders() == 1
        page = await get_page(anna, again.headers["location"])
        assert "U had deze bestelling al geplaatst; er is niets dubbel besteld." in page.main()

        form["lines.5.quantity"] = "3"  # back, changed, sent with the same key: not silently the old order
        changed = await anna.post("/bestellen", data=form)
        assert changed.status_code == 409
        page = dom(changed.text)
        assert "Dit formulier was al verstuurd" in page.main()
        assert page.value("lines.5.quantity") == "3"
        assert page.value("idempotency_key") != form["idempotency_key"]  # sending it now is a new order
        assert await site.count_orders() == 1

        fresh = order_form(await get_page(anna, "/bestellen"), **{"KIT-COMPLEET": 1})
        assert fresh["idempotency_key"] != form["idempotency_key"]  # every drawn form is a submission of its own
        assert (await anna.post("/bestellen", data=fresh)).status_code == 303
        assert await site.count_orders() == 2


async def test_a_double_click_sending_the_form_twice_at_once_orders_once(site: Site) -> None:
    """Both requests of a double click are in flight together: the second waits on the first's key, then replays."""
    await site.add_stock(KIT_STOCK)
    async with site.as_("anna") as anna:
        form = order_form(await get_page(anna, "/bestellen"), **{"KIT-COMPLEET": 1})
        answers = await asyncio.gather(*(anna.post("/bestellen", data=form) for _ in range(4)))

    assert [r.status_code for r in answers] == [303] * 4
    locations = sorted(r.headers["location"] for r in answers)
    order_path = locations[0].split("?")[0]
    assert locations == [f"{order_path}?al-geplaatst=1"] * 3 + [f"{order_path}?geplaatst=1"]
    assert await site.count_orders() == 1


async def test_a_confirmed_order_says_so_and_shows_its_timeline(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    async with site.as_("anna") as anna:
        r = await anna.post("/bestellen", data=order_form(await get_page(anna, "/bestellen"), **{"KIT-COMPLEET": 1}))
        page = await get_page(anna, r.headers["location"])

    assert "Uw bestelling is bevestigd" in page.main()
    steps = page.all(lambda n: "komerbij-timeline__step" in n.attrs.get("class", "").split())
    assert [s.all(lambda n: "komerbij-timeline__label" in n.attrs.get("class", ""))[0].text() for s in steps] == [
        "Geplaatst", "Bevestigd", "In behandeling", "Verzonden", "Geleverd"]
    assert [s.attrs.get("aria-current") for s in steps] == [None, "step", None, None, None]
    assert "1 juni 2027, 12:00" in steps[0].text()  # on Amsterdam's clock
    assert "Ferdinand Bolstraat 10" in page.main()


@pytest.mark.parametrize("reason", ["out_of_stock", "quota_exceeded", "window_closed"])
async def test_a_rejected_order_shows_the_dutch_reason(site: Site, reason: str) -> None:
    quantities = {"PLACEMAT": 5}
    if reason != "out_of_stock":
        await site.add_stock(KIT_STOCK)
    if reason == "quota_exceeded":  # 20 placemats per municipality: 16 already ordered by colleagues
        await site.order("GM0363", (("PLACEMAT", 8),))
        await site.order("GM0363", (("PLACEMAT", 8),))
    async with site.as_("anna") as anna:
        form = order_form(await get_page(anna, "/bestellen"), **quantities)
        if reason == "window_closed":  # the page was open before the window closed, and sent after
            site.clock.current = datetime(2027, 9, 20, 10, 0, tzinfo=UTC)
            form["wanted_by"] = "2027-09-28"
        r = await anna.post("/bestellen", data=form)
        assert r.status_code == 303
        page = await get_page(anna, r.headers["location"])

    alert = page.all(lambda n: "utrecht-alert--error" in n.attrs.get("class", ""))[0].text()
    assert "Deze bestelling is afgewezen" in alert
    expected = {
        "out_of_stock": "Er is op dit moment niet genoeg voorraad van Placemat om deze bestelling te leveren.",
        "quota_exceeded": "al 16 van de 20 × Placemat besteld die per gemeente mogelijk zijn; er kunnen er nog 4 bij.",
        "window_closed": "gesloten sinds 16 september 2027; de week begint op 30 september 2027.",
    }[reason]
    assert expected in alert
    assert "afgewezen" in page.by_id("inhoud").all(lambda n: n.tag == "h1")[0].text()
    again = page.all(lambda n: n.tag == "a" and n.attrs.get("href", "").startswith("/bestellen?van="))
    assert bool(again) == (reason != "window_closed")  # try again, with the items and address filled in


async def test_after_the_window_closed_the_page_says_since_when_instead_of_showing_the_form(site: Site) -> None:
    site.clock.current = datetime(2027, 9, 16, 8, 0, tzinfo=UTC)
    async with site.as_("anna") as anna:
        page = await get_page(anna, "/bestellen")
    assert "De bestelperiode is gesloten" in page.main()
    assert "kon tot en met 15 september 2027; de bestelperiode is gesloten sinds 16 september 2027" in page.main()
    assert not page.all(lambda n: n.tag == "form" and n.attrs.get("action") == "/bestellen")


async def test_order_again_fills_in_the_items_and_address_of_the_rejected_order(site: Site) -> None:
    rejected = await site.order("GM0363", (("POSTER-A2", 5), ("VLOERSTICKER", 4)), street="Dam 1")
    async with site.as_("anna") as anna:
        page = await get_page(anna, f"/bestellen?van={rejected}")
    assert (page.value("lines.1.quantity"), page.value("lines.2.quantity"), page.value("lines.0.quantity")) == (
        "5", "4", "")
    assert page.value("delivery_address.street") == "Dam 1"
    async with site.as_("rotterdam") as rob:  # another organisation's order fills nothing in
        assert (await get_page(rob, f"/bestellen?van={rejected}")).value("delivery_address.street") == ""


async def test_a_partner_without_a_municipality_is_told_why_instead_of_getting_a_form(site: Site) -> None:
    async with site.as_("partner") as pia:
        for path in ("/bestellen", "/bestellingen"):
            page = await get_page(pia, path)
            assert "Het pakket bestelt u via een gemeente" in page.main()
            assert "landelijke partner (ouderenfonds)" in page.main()
            assert not page.all(lambda n: n.tag == "form" and n.attrs.get("action") == "/bestellen")
        r = await pia.post("/bestellen", data={"csrf_token": CSRF, "lines.0.quantity": "1"})
        assert r.status_code == 200 and await site.count_orders() == 0


async def test_the_order_form_refuses_a_post_without_the_csrf_token(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    async with site.as_("anna") as anna:
        form = order_form(await get_page(anna, "/bestellen"), **{"KIT-COMPLEET": 1})
        del form["csrf_token"]
        r = await anna.post("/bestellen", data=form)
    assert r.status_code == 403 and "Formulier niet geaccepteerd" in r.text
    assert await site.count_orders() == 0


# --- the organisation's orders -----------------------------------------------------------------------------------

async def test_the_organisations_orders_are_listed_newest_first_and_other_organisations_stay_hidden(
    site: Site,
) -> None:
    await site.add_stock(KIT_STOCK)
    older = await site.order("GM0363")
    site.clock.advance(timedelta(days=1))
    newer = await site.order("GM0363", (("POSTER-A3", 10),))
    theirs = await site.order("GM0599")
    async with site.as_("bram") as bram:
        page = await get_page(bram, "/bestellingen")
        links = [a.attrs["href"] for a in page.all(lambda n: n.tag == "a" and
                                                    n.attrs.get("href", "").startswith("/bestellingen/"))]
        assert links == [f"/bestellingen/{newer}", f"/bestellingen/{older}"]
        assert "10 × Poster A3" in page.main()
        other = await get_page(bram, f"/bestellingen/{theirs}", status=404)
        assert "Bestelling niet gevonden" in other.main()
        await get_page(bram, "/bestellingen/not-an-order", status=404)
    async with site.as_("magazijn") as mo:  # the warehouse sees every order
        await get_page(mo, f"/bestellingen/{theirs}")


async def test_an_order_is_cancelled_while_allowed_and_not_once_picking_started(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    confirmed = await site.order("GM0363")
    picking = await site.order("GM0363")
    await site.move(picking, "picking")
    async with site.as_("bram") as bram:  # a colleague may cancel the organisation's order
        page = await get_page(bram, f"/bestellingen/{confirmed}")
        assert page.all(lambda n: n.tag == "a" and n.attrs.get("href") == f"/bestellingen/{confirmed}/annuleren")
        question = await get_page(bram, f"/bestellingen/{confirmed}/annuleren")
        assert "annuleren?" in question.main() and "1 × Kom erbij-pakket compleet" in question.main()
        r = await bram.post(f"/bestellingen/{confirmed}/annuleren", data={"csrf_token": CSRF})
        assert r.status_code == 303 and r.headers["location"] == f"/bestellingen/{confirmed}?geannuleerd=1"
        page = await get_page(bram, r.headers["location"])
        assert "De bestelling is geannuleerd." in page.main()
        assert await site.status(confirmed) == "cancelled"
        assert not page.all(lambda n: n.attrs.get("href", "").endswith("/annuleren"))

        page = await get_page(bram, f"/bestellingen/{picking}")
        assert not page.all(lambda n: n.attrs.get("href", "").endswith("/annuleren"))
        assert (await bram.get(f"/bestellingen/{picking}/annuleren")).status_code == 303  # back to the order
        r = await bram.post(f"/bestellingen/{picking}/annuleren", data={"csrf_token": CSRF})
        assert r.status_code == 409
        assert "Annuleren kan niet meer: de bestelling is al in behandeling bij het magazijn of verzonden." in (
            dom(r.text).main())
        assert await site.status(picking) == "picking"
    async with site.as_("rotterdam") as rob:
        r = await rob.post(f"/bestellingen/{picking}/annuleren", data={"csrf_token": CSRF})
        assert r.status_code == 404
    async with site.as_("magazijn") as mo:  # the warehouse moves orders, it does not cancel them
        assert (await mo.post(f"/bestellingen/{picking}/annuleren", data={"csrf_token": CSRF})).status_code == 403


async def test_a_shipped_order_shows_the_carrier_the_code_and_a_link_to_the_carriers_tracking_page(
    site: Site,
) -> None:
    await site.add_stock(KIT_STOCK)
    order_id = await site.order("GM0363")
    site.clock.advance(timedelta(days=2))
    await site.move(order_id, "picking")
    site.clock.advance(timedelta(days=1))
    await site.move(order_id, "shipped")
    async with site.as_("anna") as anna:
        page = await get_page(anna, f"/bestellingen/{order_id}")
    code = f"3S{order_id[:8].upper()}"
    shipped = page.all(lambda n: "komerbij-timeline__step--current" in n.attrs.get("class", ""))[0]
    assert "Verzonden" in shipped.text() and "4 juni 2027" in shipped.text()
    assert f"Met PostNL, track-and-trace {code}" in shipped.text()
    link = shipped.all(lambda n: n.tag == "a")[0]
    assert link.attrs["href"] == f"https://jouw.postnl.nl/track-and-trace/{code}-NL-1092AE"
    assert "3 juni 2027" in page.all(lambda n: "komerbij-timeline__step--done" in n.attrs.get("class", ""))[2].text()


# --- the warehouse -----------------------------------------------------------------------------------------------

async def test_the_warehouse_is_for_fulfilment_and_the_stock_for_admins(site: Site) -> None:
    async with site.as_("anna") as anna:
        assert "Deze pagina is niet voor uw rol" in (await get_page(anna, "/magazijn", status=403)).main()
    async with site.as_("magazijn") as mo:
        await get_page(mo, "/magazijn")
        await get_page(mo, "/magazijn/voorraad", status=403)
    async with httpx.AsyncClient(transport=site.svc.client._transport, base_url="http://test") as nobody:
        r = await nobody.get("/magazijn")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/magazijn"


async def test_the_picklist_filters_by_status_municipality_and_date(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    a = await site.order("GM0363")
    r = await site.order("GM0599")
    shipped = await site.order("GM0599")
    await site.move(shipped, "picking", "shipped")
    async with site.as_("magazijn") as mo:
        def listed(page: Node) -> set[str]:
            return {n.attrs["value"] for n in page.all(lambda n: n.attrs.get("name") == "order_id")}

        assert listed(await get_page(mo, "/magazijn")) == {a, r}  # to do: confirmed and picking
        assert listed(await get_page(mo, "/magazijn?municipality=GM0599")) == {r}
        page = await get_page(mo, "/magazijn?status=shipped")
        assert listed(page) == {shipped} and page.value("status") == "shipped"
        assert listed(await get_page(mo, "/magazijn?status=alle")) == {a, r, shipped}
        assert listed(await get_page(mo, "/magazijn?wanted_before=2027-09-19")) == set()
        assert listed(await get_page(mo, "/magazijn?wanted_before=2027-09-20")) == {a, r}
        page = await get_page(mo, "/magazijn?wanted_before=morgen", status=422)
        assert page.error_at("wanted_before") == "Vul een datum in, bijvoorbeeld 2027-09-15."


async def test_orders_move_in_bulk_and_a_refused_row_shows_why_while_the_others_move(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    first, second, third = [await site.order("GM0363") for _ in range(3)]
    async with site.as_("magazijn") as mo:
        r = await mo.post("/magazijn/bestellingen?municipality=GM0363",
                          data={"csrf_token": CSRF, "status": "picking", "order_id": [first, second, third]})
        assert r.status_code == 303
        assert r.headers["location"] == "/magazijn?municipality=GM0363&verwerkt=3&naar=picking"
        page = await get_page(mo, r.headers["location"])
        assert "3 bestellingen zijn nu in behandeling." in page.main()
        assert page.value("municipality") == "GM0363"  # the filter stayed

        r = await mo.post("/magazijn/bestellingen", data={
            "csrf_token": CSRF, "status": "shipped", "order_id": [first, second],
            f"carrier.{first}": "DHL", f"tracking_code.{first}": "JVGL01", f"carrier.{second}": "DHL",
            f"tracking_code.{second}": "", f"tracking_code.{third}": "NOT-CHOSEN"})
        assert r.status_code == 200
        page = dom(r.text)
        assert "1 bestelling niet bijgewerkt" in page.main()
        assert page.error_at(f"tracking_code.{second}") == "Vul de track-and-tracecode in."
        assert page.value(f"carrier.{second}") == "DHL"
        assert {n.attrs["value"] for n in page.all(lambda n: n.attrs.get("name") == "order_id"
                                                   and "checked" in n.attrs)} == {second}
        assert [await site.status(o) for o in (first, second, third)] == ["shipped", "picking", "picking"]

        r = await mo.post("/magazijn/bestellingen", data={"csrf_token": CSRF, "status": "delivered"})
        assert r.status_code == 422
        assert "Kies eerst een of meer bestellingen" in dom(r.text).main()


async def test_one_order_moves_from_its_own_page_and_a_missing_code_is_said_at_its_field(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    order_id = await site.order("GM0363")
    async with site.as_("magazijn") as mo:
        r = await mo.post(f"/magazijn/bestellingen/{order_id}", data={"csrf_token": CSRF, "status": "picking"})
        assert r.status_code == 303 and r.headers["location"] == f"/bestellingen/{order_id}?bijgewerkt=1"
        page = await get_page(mo, r.headers["location"])
        assert "De status is bijgewerkt." in page.main()
        assert page.value("carrier") == "PostNL" and page.value("status") == "shipped"

        r = await mo.post(f"/magazijn/bestellingen/{order_id}",
                          data={"csrf_token": CSRF, "status": "shipped", "carrier": "GLS", "tracking_code": " "})
        assert r.status_code == 422
        page = dom(r.text)
        assert page.error_at("tracking_code") == "Vul de track-and-tracecode in."
        assert page.value("carrier") == "GLS"
        r = await mo.post(f"/magazijn/bestellingen/{order_id}", data={"csrf_token": CSRF, "status": "delivered"})
        assert r.status_code == 409
        assert "Een bestelling die in behandeling is, kan niet geleverd worden." in dom(r.text).main()


async def test_the_picklist_downloads_as_csv(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    order_id = await site.order("GM0363", (("KIT-COMPLEET", 2),))
    async with site.as_("magazijn") as mo:
        page = await get_page(mo, "/magazijn")
        assert page.all(lambda n: n.tag == "a" and n.attrs.get("href") == "/magazijn/paklijst.csv")
        r = await mo.get("/magazijn/paklijst.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="paklijst.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["order_id"], row["sku"], row["quantity"]) for row in rows] == [(order_id, "KIT-COMPLEET", "2")]
    assert "10 × POSTER-A3" in rows[0]["contents"]


async def test_a_status_upload_shows_what_was_applied_and_each_bad_rows_line_field_and_message(site: Site) -> None:
    await site.add_stock(KIT_STOCK)
    to_pick, to_ship = await site.order("GM0363"), await site.order("GM0599")
    await site.move(to_ship, "picking")
    upload = "\n".join(["order_id;status;carrier;tracking_code", f"{to_pick};picking;;",
                        f"{to_ship};shipped;PostNL;", "onbekend;picking;;", f"{to_pick};verzonden;;"])
    async with site.as_("magazijn") as mo:
        r = await mo.post("/magazijn/status", data={"csrf_token": CSRF},
                          files={"file": ("status.csv", upload.encode(), "text/csv")})
        assert r.status_code == 200
        page = dom(r.text)
        outcome = page.by_id("statusbestand-uitkomst")
        assert "1 regel verwerkt, 3 regels niet." in outcome.text()
        assert table_rows(page, "fouten-titel") == [
            ["3", to_ship, "tracking_code", "Vul de track-and-tracecode in."],
            ["4", "onbekend", "order_id", "Bestelling niet gevonden"],
            ["5", to_pick, "status", "Onbekende status 'verzonden'."],
        ]
        assert f"Regel 2: bestelling {to_pick[:8].upper()} is nu in behandeling" in outcome.text()
        assert await site.status(to_pick) == "picking"

        r = await mo.post("/magazijn/status", data={"csrf_token": CSRF},
                          files={"file": ("export.csv", b"id,state\nx,y\n", "text/csv")})
        assert r.status_code == 422
        assert dom(r.text).error_at("file") == "Kolom(men) ontbreken in de kopregel: order_id, status."
        r = await mo.post("/magazijn/status", data={"csrf_token": CSRF},
                          files={"file": ("status.csv", "order_id,status\n".encode("utf-16"), "text/csv")})
        assert dom(r.text).error_at("file").startswith("Het bestand is geen UTF-8-tekst")
        r = await mo.post("/magazijn/status", data={"csrf_token": CSRF, "file": ""})
        assert r.status_code == 422 and dom(r.text).error_at("file") == "Kies het CSV-bestand dat u wilt inlezen."


# --- stock (admin) -----------------------------------------------------------------------------------------------

async def test_admins_adjust_stock_with_a_reason_see_the_audit_trail_and_low_stock_warnings(site: Site) -> None:
    await site.add_stock({**KIT_STOCK, "PLACEMAT": 30})  # placemats: low under 10
    async with site.as_("beheerder") as bea:
        page = await get_page(bea, "/magazijn/voorraad")
        assert not page.all(lambda n: "utrecht-alert--warning" in n.attrs.get("class", ""))

        r = await bea.post("/magazijn/voorraad", data={"csrf_token": CSRF, "sku": "PLACEMAT", "delta": "-25",
                                                       "reason": "waterschade"})
        assert r.status_code == 303
        page = await get_page(bea, r.headers["location"])
        assert "De voorraad van Placemat is aangepast." in page.main()
        warning = page.all(lambda n: "utrecht-alert--warning" in n.attrs.get("class", ""))[0].text()
        assert "Placemat: nog 5 vrij, minder dan 10." in warning
        trail = table_rows(page, "wijzigingen-titel")
        assert trail[0][1:] == ["Placemat", "−25", "waterschade", "Bea de Boer (u)", "5"]
        assert trail[1][1:] == ["Ansichtkaart 'ik nodig je uit'", "+200", "levering", "dev-admin", "200"]  # the API's
        assert "Placemat: nog 5 vrij" in warning and "Ansichtkaart" not in warning

        r = await bea.post("/magazijn/voorraad", data={"csrf_token": CSRF, "sku": "PLACEMAT", "delta": "-6",
                                                       "reason": "telling"})
        assert r.status_code == 422
        page = dom(r.text)
        assert page.error_at("delta") == (
            "Er zijn nog maar 5 vrij op voorraad; gereserveerde voorraad hoort bij bestellingen.")
        assert (page.value("sku"), page.value("delta"), page.value("reason")) == ("PLACEMAT", "-6", "telling")

        r = await bea.post("/magazijn/voorraad", data={"csrf_token": CSRF, "sku": "", "delta": "veel",
                                                       "reason": ""})
        page = dom(r.text)
        assert r.status_code == 422
        assert page.error_at("sku") == "Kies het artikel."
        assert page.error_at("delta").startswith("Vul een heel getal in")
        assert page.error_at("reason").startswith("Schrijf op waarom")

        page = await get_page(bea, "/magazijn/voorraad?artikel=POSTER-A2")
        assert table_rows(page, "wijzigingen-titel")[0][1:] == ["Poster A2", "+200", "levering", "dev-admin", "200"]
        assert len(table_rows(page, "wijzigingen-titel")) == 1
        warehouse = await get_page(bea, "/magazijn")  # the warehouse page warns admins too
        assert "Bijna op: Placemat (5 vrij)" in warehouse.main()


# --- make run's demo data ----------------------------------------------------------------------------------------

async def test_the_demo_data_lets_amsterdam_order_and_gives_the_warehouse_orders_in_every_state(
    infra: Infra,
) -> None:
    clock = ControlledClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    env = settings_env(infra, infra.new_database("pages_materials_demo"), SESSION_SECRET=SESSION_SECRET,
                       LOAD_DEMO_DATA="true")
    async with running(SPEC, env, clock=clock) as svc:
        await load_demo_data(svc.runtime)  # a second start: nothing twice, nothing moved back
        async with svc.runtime.pool.acquire() as conn:
            rows = await conn.fetch("SELECT municipality, status, tracking_code FROM orders ORDER BY municipality")
        assert [(r["municipality"], r["status"]) for r in rows] == [
            ("GM0014", "confirmed"), ("GM0344", "delivered"), ("GM0363", "confirmed"), ("GM0599", "shipped"),
            ("GM0983", "picking")]
        assert rows[3]["tracking_code"]
        site = Site(svc, clock)
        async with site.as_("anna") as anna:
            page = await get_page(anna, "/bestellen")
            assert page.value("delivery_address.street") == "Amstel 1"
            r = await anna.post("/bestellen", data=order_form(page, **{"KIT-COMPLEET": 1}))
            assert r.status_code == 303
            assert "Uw bestelling is bevestigd" in (await get_page(anna, r.headers["location"])).main()
