"""The comms team in Chromium behind the real front door, logged in through Keycloak's form as `communicatie`: a
vendor CSV imported and a mention featured (without JavaScript), the coverage dashboard reached from the start page
with the same numbers as the API's `/v1/coverage`, its print layout, and axe-core on every media page at phone and
desktop width (`make screenshots` keeps their pictures).

One login for the module; its session is reused by each browser context. Seed data goes in through the JSON API at
the front door, as an integration would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from media.feed_server import FeedServer, Route, rss
from playwright.sync_api import Browser, Page
from support.browser import axe_violations, new_context, screenshot
from support.frontdoor import Stack
from support.keycloak import password_token
from support.services import auth

from komerbij.devtools.keycloak import KeycloakServer
from komerbij.media.domain.coverage import campaign_period

from .test_login import log_in

AMS = ZoneInfo("Europe/Amsterdam")
COMMS = auth("comms")
LEAD = ("Tijdens de Week tegen Eenzaamheid koken buurtbewoners in Enschede samen met ouderen die er even uit "
        "willen. Wie aanschuift, gaat met een volle buik en een nieuw telefoonnummer naar huis.")
OUTLETS = [
    ("NOS Journaal", "tv", "national", {"reach": 2_100_000, "reach_source": "NOS, kijkcijfers 2026"}),
    ("NPO Radio 1", "radio", "national", {"reach": 600_000, "reach_source": "NLO luistercijfers"}),
    ("Trouw", "print", "national", {"reach": 250_000, "reach_source": "NOM 2026", "reach_date": "2026-01-15"}),
    ("Algemeen Dagblad", "online", "national", {"reach": 1_200_000, "reach_source": "eigen opgave"}),
    ("De Telegraaf", "online", "national", {"reach": 1_500_000, "reach_source": "eigen opgave"}),
    ("Tubantia", "online", "regional", {"province": "Overijssel", "reach": 180_000, "reach_source": "NOM 2026"}),
    ("Omroep Brabant", "radio", "regional", {"province": "Noord-Brabant", "reach": 300_000}),
    ("Dagblad van het Noorden", "print", "regional", {"province": "Groningen", "reach": 100_000}),
    ("Buurtkrant Zwolle", "print", "local", {"municipality": "GM0193"}),
    ("Instagram Kom erbij", "social", "national", {"reach": 45_000, "reach_source": "volgers op 1 september"}),
]
# (outlet, title, days after the week starts, hour, extra)
MENTIONS: list[tuple[str, str, int, int, dict[str, Any]]] = [
    ("Trouw", "Eenzaamheid onder jongeren groeit", -3, 7, {"programme": "pagina 2", "tags": ["jongeren"],
                                                         "url": "https://trouw.test/jongeren"}),
    ("NOS Journaal", "Week tegen Eenzaamheid begint: kom erbij", 0, 20, {"note": "Journaal van 20.00 uur",
                                                                          "sentiment": "positive"}),
    ("NPO Radio 1", "Gesprek met ouderen over eenzaamheid", 1, 22, {"programme": "Met het Oog op Morgen",
                                                                      "note": "interview"}),
    ("Tubantia", "Samen koken in Enschede tijdens de Week tegen Eenzaamheid", 1, 9,
     {"summary": LEAD, "url": "https://tubantia.test/koken-enschede"}),
    ("Algemeen Dagblad", "Samen koken in Enschede tijdens de Week tegen Eenzaamheid", 1, 13,
     {"summary": LEAD, "url": "https://ad.test/koken-enschede"}),
    ("De Telegraaf", "Samen koken in Enschede tijdens de week tegen eenzaamheid", 1, 15,
     {"summary": LEAD, "url": "https://telegraaf.test/koken-enschede"}),
    ("Dagblad van het Noorden", "Soep en gezelschap in Groningen", 2, 6, {"programme": "Stad, pagina 9",
                                                                         "note": "papieren krant"}),
    ("Instagram Kom erbij", "Deel je Kom erbij-moment", 2, 12, {"url": "https://instagram.test/p/komerbij"}),
    ("Omroep Brabant", "Wandelen tegen eenzaamheid in Tilburg en Breda", 3, 8, {"note": "Ochtendshow"}),
    ("Buurtkrant Zwolle", "Koffieochtend in Zwolle", 4, 0, {"note": "oktobernummer", "sentiment": "positive"}),
    ("Trouw", "Wat de Week tegen Eenzaamheid opleverde", 9, 7, {"url": "https://trouw.test/terugblik"}),
]
# {run} makes the outlets and links of one import its own: the outcome counts new outlets and stored mentions, and
# another test (or an earlier run on the same stack) importing the same rows would turn them into "stonden er al".
VENDOR_CSV = (
    "Bron;Kop;Datum;Link;Bereik;Mediatype;Niveau\r\n"
    "Leeuwarder Courant {run};Samen aan tafel in Leeuwarden;{day} 08:00;https://lc.test/{run}/tafel;95.000;krant;"
    "regionaal\r\n"
    "Leeuwarder Courant {run};Zonder datum;;https://lc.test/{run}/leeg;;krant;regionaal\r\n"
    "RTV Drenthe {run};Koor zingt in Emmen voor ouderen;{day} 19:00;;80000;tv;regionaal\r\n"
)


@dataclass(frozen=True)
class Seed:
    mention_with_copies: str
    period: tuple[date, date]


def _api(stack: Stack, method: str, path: str, **kwargs: Any) -> Any:
    answer = httpx.request(method, f"{stack.url}/api/media{path}", headers=COMMS, timeout=30, **kwargs)
    assert answer.status_code < 300, (path, answer.status_code, answer.text)
    return answer.json()


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> Iterator[Seed]:
    """A campaign's worth of coverage in the period the dashboard opens on, and two feeds (one failing), served by a
    feed server on this machine that stays up while the module runs (the service's scheduler polls it too)."""
    period = campaign_period(datetime.now(AMS).date())
    ids = {name: _api(stack, "POST", "/v1/outlets", json={"name": name, "medium": medium, "scope": scope, **extra})[
        "id"] for name, medium, scope, extra in OUTLETS}
    created = {}
    for outlet, title, days, hour, extra in MENTIONS:
        when = datetime.combine(period.week_start + timedelta(days=days), time(hour), AMS)
        created[(outlet, title)] = _api(stack, "POST", "/v1/mentions", json={
            "outlet_id": ids[outlet], "title": title, "published_at": when.isoformat(), **extra})["id"]
    original = created[("Tubantia", "Samen koken in Enschede tijdens de Week tegen Eenzaamheid")]
    _api(stack, "PATCH", f"/v1/mentions/{original}", json={"featured": True, "sentiment": "positive",
                                                            "tags": ["nieuwsbrief"], "municipalities": ["GM0153"]})
    with FeedServer() as server:
        server.routes["/tubantia.xml"] = Route(body=rss(
            ("Week tegen Eenzaamheid: buurthuis in Hengelo open", "https://tubantia.test/buurthuis-hengelo",
             "Het buurthuis is de hele week open.", "Thu, 01 Oct 2026 09:00:00 +0200"),
        ))
        feeds = [(ids["Tubantia"], server.url("/tubantia.xml")), (ids["Omroep Brabant"], server.url("/weg.xml"))]
        for outlet_id, url in feeds:
            feed = _api(stack, "POST", "/v1/feeds", json={"outlet_id": outlet_id, "url": url,
                                                          "interval_seconds": 3600})
            _api(stack, "POST", f"/v1/feeds/{feed['id']}/poll")
        yield Seed(original, (period.start, period.end))


@pytest.fixture(scope="module")
def comms_session(stack: Stack, keycloak: KeycloakServer, browser: Browser) -> dict[str, Any]:
    """communicatie logs in once through Keycloak's form; the contexts of this module start from that session."""
    context = new_context(browser)
    try:
        page = context.new_page()
        log_in(page, stack, "communicatie")
        assert "Ingelogd als" in page.locator("header").inner_text()
        return context.storage_state()
    finally:
        context.close()


def test_comms_import_a_vendor_csv_and_feature_a_mention_without_javascript(
    stack: Stack, keycloak: KeycloakServer, browser: Browser, comms_session: dict[str, Any], seeded: Seed,
) -> None:
    context = new_context(browser, storage_state=comms_session, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(stack.url + "/")
        page.locator("nav.komerbij-nav").get_by_role("link", name="Media").click()
        page.get_by_role("navigation", name="Media").get_by_role("link", name="CSV importeren").click()
        day = seeded.period[0] + timedelta(days=20)
        export = VENDOR_CSV.format(day=day.strftime("%d-%m-%Y"), run=uuid.uuid4().hex[:8]).encode("cp1252")
        page.get_by_label("CSV-bestand").set_input_files(
            files=[{"name": "monitoring-export.csv", "mimeType": "text/csv", "buffer": export}])
        page.get_by_role("button", name="Importeren").click()
        outcome = page.locator("#import-uitkomst").inner_text()
        assert outcome.startswith("2 vermeldingen bewaard, 2 nieuwe mediatitels aangemaakt.")
        assert "1 regel is niet bewaard" in outcome
        error_row = page.locator("#regelfouten tbody tr")
        assert error_row.count() == 1
        assert error_row.locator("td").all_inner_texts() == ["3", "Datum", "Verplicht veld is leeg"]
        kept = page.get_by_role("list").filter(has=page.get_by_role("heading", level=3))
        assert set(kept.get_by_role("heading", level=3).all_inner_texts()) == {
            "Samen aan tafel in Leeuwarden", "Koor zingt in Emmen voor ouderen"}

        page.get_by_role("link", name="Samen aan tafel in Leeuwarden").click()
        mention_id = page.url.rsplit("/", 1)[1]
        page.get_by_label("Uitlichten: deze vermelding komt in de nieuwsbrief").check()
        page.get_by_label("Positief").check()
        page.get_by_role("button", name="Opslaan").click()
        assert page.get_by_role("status").inner_text().strip() == "De wijzigingen zijn opgeslagen."
        assert page.get_by_text("Uitgelicht in de nieuwsbrief").is_visible()
    finally:
        context.close()
    token = password_token(keycloak, "communicatie")["access_token"]
    stored = httpx.get(f"{stack.url}/api/media/v1/mentions/{mention_id}",
                       headers={"Authorization": f"Bearer {token}"}).json()
    assert (stored["featured"], stored["sentiment"], stored["reach_estimate"]) == (True, "positive", 95_000)


def _number(text: str) -> int:
    return int(text.strip().replace(".", ""))


def test_the_dashboard_reached_from_the_start_page_shows_the_coverage_apis_numbers(
    stack: Stack, keycloak: KeycloakServer, browser: Browser, comms_session: dict[str, Any], seeded: Seed,
) -> None:
    context = new_context(browser, storage_state=comms_session)
    try:
        page = context.new_page()
        page.goto(stack.url + "/")  # no address but the front door's
        page.locator("nav.komerbij-nav").get_by_role("link", name="Media").click()
        page.get_by_role("navigation", name="Media").get_by_role("link", name="Dekking").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Dekking in de media"
        period = {"from": page.locator("#veld-from").input_value(), "to": page.locator("#veld-to").input_value()}
        assert (date.fromisoformat(period["from"]), date.fromisoformat(period["to"])) == seeded.period
        token = password_token(keycloak, "communicatie")["access_token"]
        api = httpx.get(f"{stack.url}/api/media/v1/coverage", params=period,
                        headers={"Authorization": f"Bearer {token}"}).json()

        shown = {key: _number(page.locator(f"#totaal-{name}").inner_text()) for key, name in (
            ("articles", "artikelen"), ("copies", "kopieen"), ("mentions", "vermeldingen"),
            ("reach_estimate", "geschat-bereik"))}
        assert shown == {k: api["totals"][k] for k in shown}
        assert shown["copies"] >= 2 and shown["articles"] >= 9  # the seeded campaign is in it
        per_medium = {}
        for row in page.locator("table[data-indeling=medium] tbody tr").all():
            per_medium[row.get_attribute("data-key")] = {
                cell.get_attribute("data-veld"): _number(cell.inner_text()) for cell in row.locator("td").all()}
        assert per_medium == {r["key"]: {f: r[f] for f in ("mentions", "articles", "copies", "reach_estimate")}
                              for r in api["by_medium"]}
        assert page.locator("svg[role=img]").count() == 6
        assert "Geschat bereik" in page.locator("main").inner_text()

        page.emulate_media(media="print")  # the programme team's report: no menu, no forms, the figures stay
        assert not page.locator("nav.komerbij-nav").is_visible()
        assert not page.locator("form.komerbij-period-form").is_visible()
        assert page.locator("#totaal-artikelen").is_visible()
        assert page.locator("svg[role=img]").first.is_visible()
    finally:
        context.close()


def _mention_errors(page: Page) -> None:
    page.get_by_role("button", name="Vermelding vastleggen").click()
    page.locator(".komerbij-error-summary").wait_for()


def _import_outcome(page: Page) -> None:
    export = VENDOR_CSV.format(day="01-10-2026", run=uuid.uuid4().hex[:8]).encode()
    page.get_by_label("CSV-bestand").set_input_files(
        files=[{"name": "monitoring-export.csv", "mimeType": "text/csv", "buffer": export}])
    page.get_by_role("button", name="Importeren").click()
    page.locator("#import-uitkomst").wait_for()


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_axe_finds_no_wcag_21_aa_violation_on_the_media_pages(
    stack: Stack, keycloak: KeycloakServer, browser: Browser, comms_session: dict[str, Any], seeded: Seed,
    width: str,
) -> None:
    states = [
        ("/media", "media-vermeldingen", None),
        (f"/media/vermeldingen/{seeded.mention_with_copies}", "media-vermelding", None),
        ("/media/vermeldingen/nieuw", "media-invoeren", None),
        ("/media/vermeldingen/nieuw", "media-invoeren-fouten", _mention_errors),
        ("/media/import", "media-import", None),
        ("/media/import", "media-import-uitkomst", _import_outcome),
        ("/media/feeds", "media-feeds", None),
        ("/media/titels", "media-titels", None),
        ("/media/dekking", "media-dekking", None),
    ]
    context = new_context(browser, width, bypass_csp=True, storage_state=comms_session)  # axe is an inline script
    found: dict[str, Any] = {}
    try:
        page = context.new_page()
        for path, name, action in states:
            page.goto(stack.url + path, wait_until="networkidle")
            if action is not None:
                action(page)
            assert page.locator("html").get_attribute("lang") == "nl"
            violations = axe_violations(page)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if violations or overflow > 0:
                found[name] = {"violations": violations, "overflow_px": overflow}
            screenshot(page, name, width)
    finally:
        context.close()
    assert found == {}, found
