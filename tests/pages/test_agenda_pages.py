"""The public side of registration through the front door: the agenda with its filters and pages, an activity's page
with the sign-up form and its result, the cancel page behind the mail link, the compact agenda for municipalities'
websites, and the calendars. HTML tests with httpx first; then, in Chromium, a resident who uses only the keyboard,
the form without JavaScript, and axe-core on every page at phone and desktop width.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from icalendar import Calendar
from playwright.sync_api import Browser, Page
from support.browser import RequestLog, axe_violations, new_context, screenshot
from support.frontdoor import Stack

from komerbij.runtime.web import SESSION_COOKIE
from pages.registration_pages import (
    api,
    at,
    csrf_of,
    field_error,
    input_value,
    organiser,
    published,
    sign_up,
    submit,
    tab_to,
    text_of,
)

DEN_BOSCH = "GM0796"  # 's-Hertogenbosch, "Den Bosch" to most: the filter takes the name people use
VLIELAND = "GM0096"  # a municipality of its own for the pages test


@pytest.fixture(scope="module")
def agenda(stack: Stack) -> dict[str, Any]:
    """Activities in 's-Hertogenbosch, which no other test uses: a walk to find, a coffee morning the category filter
    leaves out, one that is full, and one still waiting for a moderator (not in the agenda)."""
    who = organiser(DEN_BOSCH)
    venue = {"name": "Wijkcentrum De Hambaken", "street": "Hambakenweg 14", "postcode": "5231 KD",
             "city": "'s-Hertogenbosch"}
    walk = published(stack, who, title="Rollatorwandeling langs de Dommel", category="wandelen_bewegen",
                     municipality=DEN_BOSCH, venue=venue, starts_at=at(2, 10), ends_at=at(2, 12), capacity=15,
                     description="Een rustige wandeling van een half uur, met koffie na afloop.")
    coffee = published(stack, who, title="Koffieochtend in de wijk", category="koffie_ontmoeting",
                       municipality=DEN_BOSCH, venue={**venue, "street": "Hambakenweg 16"}, starts_at=at(3, 10),
                       ends_at=at(3, 12), capacity=None)
    full = published(stack, who, title="Wandelclub Vol", category="wandelen_bewegen", municipality=DEN_BOSCH,
                     venue={**venue, "street": "Hambakenweg 18"}, starts_at=at(4, 10), ends_at=at(4, 11), capacity=1,
                     max_party_size=1)
    sign_up(stack, full["id"], name="Eerste")
    draft = submit(stack, who, title="Wandeling in beoordeling", category="wandelen_bewegen",
                   municipality=DEN_BOSCH, venue={**venue, "street": "Hambakenweg 20"})
    return {"walk": walk, "coffee": coffee, "full": full, "draft": draft}


def get(stack: Stack, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(stack.url + path, headers={"accept": "text/html"}, **kwargs)


def titles(html: str) -> list[str]:
    return [text_of(t).strip() for t in re.findall(r'class="komerbij-activity-card__title">(.*?)</h', html, re.S)]


def test_the_agenda_finds_activities_by_the_municipalitys_everyday_name_and_category(
    stack: Stack, agenda: dict[str, Any]
) -> None:
    page = get(stack, "/agenda", params={"gemeente": "den bosch", "categorie": "wandelen_bewegen"})
    assert page.status_code == 200 and '<html lang="nl"' in page.text
    found = titles(page.text)
    assert "Rollatorwandeling langs de Dommel" in found and "Wandelclub Vol" in found
    assert "Koffieochtend in de wijk" not in found  # another category
    assert "Wandeling in beoordeling" not in found  # not published
    text = text_of(page.text)
    assert "2 activiteiten gevonden" in text and "Agenda 's-Hertogenbosch" in text
    assert input_value(page.text, "veld-gemeente") == "den bosch"  # as typed
    assert f"/agenda.ics?gemeente={DEN_BOSCH}" in page.text and "webcal://" in page.text  # subscribe to the feed
    assert '<option value="Den Bosch">' in page.text  # the names people use are suggested

    by_text = get(stack, "/agenda", params={"gemeente": "'s-Hertogenbosch", "zoek": "dommel koffie"})
    assert titles(by_text.text) == ["Rollatorwandeling langs de Dommel"]  # every word, in title or description
    online = get(stack, "/agenda", params={"gemeente": "Den Bosch", "waar": "online"})
    assert "Geen activiteiten gevonden" in online.text
    by_day = get(stack, "/agenda", params={"gemeente": "Den Bosch", "van": at(3, 0)[:10], "tot": at(3, 0)[:10]})
    assert titles(by_day.text) == ["Koffieochtend in de wijk"]


def test_an_unknown_municipality_and_a_wrong_date_are_named_at_their_fields_with_what_was_typed(stack: Stack) -> None:
    page = get(stack, "/agenda", params={"gemeente": "Amsterdm", "van": "31-02-2027", "tot": "", "zoek": "koken"})
    assert page.status_code == 422
    assert field_error(page.text, "veld-gemeente") == "we kennen geen gemeente ‘Amsterdm’; bedoelt u Amsterdam?"
    assert field_error(page.text, "veld-van") == "geen geldige datum; schrijf die als 30-09-2027"
    assert input_value(page.text, "veld-gemeente") == "Amsterdm" and input_value(page.text, "veld-zoek") == "koken"
    assert 'href="#veld-gemeente"' in page.text  # the summary at the top links to the field


def test_the_agenda_pages_through_many_results_and_keeps_the_filters(stack: Stack) -> None:
    who = organiser(VLIELAND)
    for n in range(22):
        published(stack, who, title=f"Strandwandeling {n:02d}", category="natuur", municipality=VLIELAND,
                  starts_at=at(n % 7, 9, n), ends_at=at(n % 7, 11))
    first = get(stack, "/agenda", params={"gemeente": "Vlieland", "categorie": "natuur"})
    assert "22 activiteiten gevonden" in text_of(first.text) and len(titles(first.text)) == 20
    assert "U ziet 1 tot en met 20, op datum." in text_of(first.text)
    nav = re.search(r'<nav class="komerbij-pagination".*?</nav>', first.text, re.S)
    assert nav is not None
    second = re.search(r'href="([^"]+)" rel="next"', nav.group(0))
    assert second is not None
    query = parse_qs(urlsplit(second.group(1).replace("&amp;", "&")).query)
    assert query["pagina"] == ["2"] and query["gemeente"] == ["Vlieland"] and query["categorie"] == ["natuur"]
    page_two = get(stack, "/agenda" + second.group(1).replace("&amp;", "&"))
    assert len(titles(page_two.text)) == 2 and not set(titles(page_two.text)) & set(titles(first.text))
    assert 'aria-current="page"><span class="komerbij-visually-hidden">Pagina </span>2' in page_two.text


def test_an_activity_page_says_when_where_with_a_route_what_for_whom_and_places_left(
    stack: Stack, agenda: dict[str, Any]
) -> None:
    walk = agenda["walk"]
    page = get(stack, f"/agenda/{walk['id']}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Rollatorwandeling langs de Dommel" in text and "10:00–12:00 uur" in text
    assert "Wijkcentrum De Hambaken" in text and "Hambakenweg 14, 5231 KD 's-Hertogenbosch" in text
    assert ('href="https://www.openstreetmap.org/directions?to=Hambakenweg%2014%2C%205231%20KD%20%27s-Hertogenbosch"'
            in page.text)  # a link to a route planner; the page itself loads nothing from there
    # Other tests of this module sign up for the walk (in any order): the page must say what the API says now.
    places_left = httpx.get(f"{api(stack)}/v1/activities/{walk['id']}").json()["places_left"]
    assert "Ouderen, Iedereen" in text and "Gratis" in text and f"Nog {places_left} van de 15 plaatsen vrij" in text
    assert f'href="/agenda/{walk["id"]}.ics">Zet in je agenda' in page.text
    assert 'name="consent"' in page.text and "30 dagen na de Week tegen Eenzaamheid" in text  # the privacy text
    full = get(stack, f"/agenda/{agenda['full']['id']}")
    assert "Vol — wachtlijst" in text_of(full.text) and ">Op de wachtlijst</button>" in full.text
    assert get(stack, f"/agenda/{agenda['draft']['id']}").status_code == 404  # not public yet
    assert get(stack, "/agenda/geen-activiteit").status_code == 404
    assert "Pagina niet gevonden" in get(stack, f"/agenda/{uuid.uuid4()}").text  # a Dutch page, not JSON


@contextmanager
def sign_up_form(stack: Stack, activity_id: str) -> Iterator[tuple[httpx.Client, str]]:
    """A visitor's browser session on the activity's page, and the CSRF token of its form."""
    with httpx.Client(base_url=stack.url, headers={"accept": "text/html"}) as client:
        yield client, csrf_of(client.get(f"/agenda/{activity_id}").text)


def test_a_sign_up_with_mistakes_shows_every_message_at_its_field_and_keeps_what_was_typed(
    stack: Stack, agenda: dict[str, Any]
) -> None:
    with sign_up_form(stack, agenda["walk"]["id"]) as (client, csrf):
        answer = client.post(f"/agenda/{agenda['walk']['id']}", data={
            "csrf_token": csrf, "name": "Truus <de Vries>", "email": "truus-at-example", "phone": "",
            "party_size": "9"})
        assert answer.status_code == 422
        html = answer.text
        assert field_error(html, "veld-email") == "geen geldig e-mailadres"
        assert field_error(html, "veld-consent") == "zonder uw toestemming kunnen we uw aanmelding niet bewaren"
        assert field_error(html, "veld-name") == "gebruik alleen letters, cijfers, spaties en . , ' - & ( )"
        assert input_value(html, "veld-name") == "Truus &lt;de Vries&gt;"  # kept, and escaped
        assert input_value(html, "veld-email") == "truus-at-example" and input_value(html, "veld-party-size") == "9"
        assert 'aria-invalid="true"' in html and 'href="#veld-consent"' in html
        # the activity's own rule (at most 4 per sign-up) comes from the use case, at its field too
        too_many = client.post(f"/agenda/{agenda['walk']['id']}", data={
            "csrf_token": csrf, "name": "Truus de Vries", "email": "truus@example.org", "party_size": "9",
            "consent": "ja"})
        assert too_many.status_code == 422
        assert field_error(too_many.text, "veld-party-size") == (
            "u kunt zich voor deze activiteit met hooguit 4 personen aanmelden")
        assert input_value(too_many.text, "veld-email") == "truus@example.org"


def test_one_address_signs_up_once_and_the_second_time_is_told_so_at_the_email_field(
    stack: Stack, agenda: dict[str, Any]
) -> None:
    address = f"henk-{uuid.uuid4().hex[:6]}@example.org"
    sign_up(stack, agenda["coffee"]["id"], name="Henk", email=address)
    with sign_up_form(stack, agenda["coffee"]["id"]) as (client, csrf):
        again = client.post(f"/agenda/{agenda['coffee']['id']}", data={
            "csrf_token": csrf, "name": "Henk", "email": address.upper(), "party_size": "1", "consent": "ja"})
    assert again.status_code == 409
    assert (field_error(again.text, "veld-email") or "").startswith("Met dit e-mailadres is al iemand aangemeld")
    assert input_value(again.text, "veld-email") == address.upper()


def test_the_sign_up_posts_the_form_and_the_result_page_says_what_happens_next(
    stack: Stack, agenda: dict[str, Any]
) -> None:
    with sign_up_form(stack, agenda["walk"]["id"]) as (client, csrf):
        refused = client.post(f"/agenda/{agenda['walk']['id']}", data={"name": "Ria", "consent": "ja"})
        assert refused.status_code == 403 and "Formulier niet geaccepteerd" in refused.text  # no CSRF token
        done = client.post(f"/agenda/{agenda['walk']['id']}", data={
            "csrf_token": csrf, "name": "Ria", "email": "", "phone": "06 12345678", "party_size": "2",
            "consent": "ja"})
        assert done.status_code == 303
        result = client.get(done.headers["location"])
        assert done.headers["location"].startswith("/aanmelding/") and "token" not in done.headers["location"]
        assert result.status_code == 200 and result.headers["cache-control"] == "no-store"
        assert result.headers["referrer-policy"] == "no-referrer"  # the page holds the cancel link
        text = text_of(result.text)
        assert "U bent aangemeld" in text and "Met 2 personen" in text
        assert "U heeft geen e-mailadres opgegeven, dus u krijgt geen e-mail" in text
        assert "Kom op" in text and "Wijkcentrum De Hambaken" in text
        assert f'href="/agenda/{agenda["walk"]["id"]}.ics">Zet in je agenda' in result.text
        cancel = re.search(r'href="(/aanmelding/[^"]+/annuleren\?token=[^"]+)"', result.text)
        assert cancel is not None
    assert httpx.get(stack.url + done.headers["location"]).status_code == 404  # another browser: not shown

    with sign_up_form(stack, agenda["full"]["id"]) as (waiting_client, csrf):
        waiting = waiting_client.post(f"/agenda/{agenda['full']['id']}", data={
            "csrf_token": csrf, "name": "Wim", "email": f"wim-{uuid.uuid4().hex[:6]}@example.org",
            "party_size": "1", "consent": "ja"}, follow_redirects=True)
    assert "U staat op de wachtlijst" in text_of(waiting.text) and "plaats 1 van de wachtlijst" in text_of(waiting.text)


def test_the_cancel_page_asks_first_cancels_on_the_button_and_the_old_mail_link_shows_the_same_page(
    stack: Stack, agenda: dict[str, Any]
) -> None:
    signup = sign_up(stack, agenda["walk"]["id"], name="Kees")
    page_path = f"/aanmelding/{signup['id']}/annuleren?token={signup['cancel_token']}"
    client = httpx.Client(base_url=stack.url, headers={"accept": "text/html"})
    with client:
        asked = client.get(page_path)
        assert asked.status_code == 200 and "Wilt u uw aanmelding annuleren?" in asked.text
        assert 'class="utrecht-page-header"' in asked.text  # the site's own look, header and all
        assert f'action="{page_path}"' in asked.text.replace("&amp;", "&")
        old_link = client.get(f"/api/registration/v1/signups/{signup['id']}/cancel",
                              params={"token": signup["cancel_token"]})
        assert old_link.status_code == 200 and text_of(old_link.text) == text_of(asked.text).replace(
            csrf_of(asked.text), csrf_of(old_link.text))  # the same page
        listed = httpx.get(f"{api(stack)}/v1/activities/{agenda['walk']['id']}/signups",
                           headers=organiser(DEN_BOSCH)).json()["items"]
        assert {p["id"]: p["status"] for p in listed}[signup["id"]] == "confirmed"  # asking changed nothing
        without_token = client.post(page_path, data={})
        assert without_token.status_code == 403
        done = client.post(page_path, data={"csrf_token": csrf_of(asked.text)})
        assert done.status_code == 200 and "Uw aanmelding is geannuleerd" in done.text
        again = client.post(page_path, data={"csrf_token": csrf_of(asked.text)})
        assert "Deze aanmelding was al geannuleerd" in again.text
    wrong = httpx.get(f"{stack.url}/aanmelding/{signup['id']}/annuleren", params={"token": "geraden"})
    assert "Deze aanmelding was al geannuleerd" in wrong.text  # cancelled: nothing more to guard
    other = sign_up(stack, agenda["walk"]["id"], name="Lies")
    guessed = httpx.get(f"{stack.url}/aanmelding/{other['id']}/annuleren", params={"token": "geraden"})
    assert guessed.status_code == 404 and "Deze link werkt niet (meer)" in guessed.text


def test_the_embedded_agenda_may_be_framed_by_other_sites_and_opens_activities_in_the_whole_window(
    stack: Stack, agenda: dict[str, Any]
) -> None:
    embed = get(stack, "/agenda/embed", params={"gemeente": DEN_BOSCH})
    assert embed.status_code == 200
    csp = embed.headers["content-security-policy"]
    assert "frame-ancestors *" in csp and "x-frame-options" not in embed.headers
    assert "Rollatorwandeling langs de Dommel" in embed.text and "Koffieochtend in de wijk" in embed.text
    links = re.findall(r'<a [^>]*href="(/agenda[^"]*)"[^>]*>', embed.text)
    assert links and all('target="_top"' in tag for tag in re.findall(r"<a [^>]*>", embed.text))
    assert 'class="utrecht-page-header"' not in embed.text  # compact: no header or menu
    assert "set-cookie" not in embed.headers
    for path in ("/agenda", f"/agenda/{agenda['walk']['id']}", "/"):
        page = get(stack, path)
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"], path
        assert page.headers["x-frame-options"] == "DENY", path
    assert get(stack, "/agenda/embed", params={"gemeente": "GM9999"}).status_code == 404


def test_the_calendars_at_page_addresses_link_to_the_activity_pages(stack: Stack, agenda: dict[str, Any]) -> None:
    walk = agenda["walk"]
    one = httpx.get(f"{stack.url}/agenda/{walk['id']}.ics")
    assert one.status_code == 200 and one.headers["content-type"].startswith("text/calendar")
    [event] = Calendar.from_ical(one.content).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Rollatorwandeling langs de Dommel"
    assert str(event["URL"]).endswith(f"/agenda/{walk['id']}")  # to the page people read, not the JSON
    feed = httpx.get(f"{stack.url}/agenda.ics", params={"gemeente": "Den Bosch"})
    assert feed.status_code == 200 and feed.headers["etag"]
    summaries = {str(e["SUMMARY"]) for e in Calendar.from_ical(feed.content).walk("VEVENT")}
    assert {"Rollatorwandeling langs de Dommel", "Koffieochtend in de wijk"} <= summaries
    assert "Wandeling in beoordeling" not in summaries
    same = httpx.get(f"{api(stack)}/v1/agenda.ics", params={"municipality": DEN_BOSCH})
    assert same.headers["etag"] == feed.headers["etag"] and same.content == feed.content  # the API's feed
    assert httpx.get(f"{stack.url}/agenda/{agenda['draft']['id']}.ics").status_code == 404


def test_the_pages_public_writes_are_rate_limited_per_client(stack: Stack, agenda: dict[str, Any]) -> None:
    """Sign-up and cancel through the pages count against the same per-client limit as the API (this machine is
    exempt, so the client is named by the trusted front door's X-Forwarded-For, as nginx does for a visitor)."""
    registration = stack.services["registration"].url
    visitor = {"X-Forwarded-For": f"203.0.113.{uuid.uuid4().int % 250 + 1}", "accept": "text/html"}
    with httpx.Client(base_url=registration, headers=visitor) as client:
        csrf = csrf_of(client.get(f"/agenda/{agenda['coffee']['id']}").text)
        answers = [client.post(f"/agenda/{agenda['coffee']['id']}", data={"csrf_token": csrf, "name": "x"})
                   for _ in range(20)]
        assert {a.status_code for a in answers} == {422}  # the burst: refused for what they say, not counted out
        limited = client.post(f"/agenda/{agenda['coffee']['id']}", data={"csrf_token": csrf, "name": "x"})
        assert limited.status_code == 429 and limited.headers["retry-after"]
        assert "Te veel verzoeken" in limited.text and '<html lang="nl"' in limited.text  # a page, in Dutch
        cancel = client.post(f"/aanmelding/{uuid.uuid4()}/annuleren?token=t", data={"csrf_token": csrf})
        assert cancel.status_code == 429


# --- in the browser ----------------------------------------------------------------------------------------------


def focused_name(page: Page) -> str:
    return page.evaluate("document.activeElement.labels?.[0]?.textContent?.trim() || "
                         "document.activeElement.textContent.trim()")


def test_a_resident_finds_an_activity_with_the_filters_and_signs_up_using_only_the_keyboard(
    stack: Stack, browser: Browser, agenda: dict[str, Any]
) -> None:
    context = new_context(browser, "desktop")
    log = RequestLog()
    try:
        page = context.new_page()
        log.attach(page)
        page.goto(stack.url + "/")
        tab_to(page, "the way to the agenda", "el.textContent.trim() === 'Zoek een activiteit bij u in de buurt'")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{stack.url}/agenda")
        tab_to(page, "the municipality field", "el.id === 'veld-gemeente'")
        page.keyboard.type("Den Bosch")
        tab_to(page, "more filters", "el.tagName === 'SUMMARY'")
        page.keyboard.press("Enter")  # unfolds them
        tab_to(page, "the category", "el.id === 'veld-categorie'")
        page.keyboard.type("Wandelen")  # a closed select takes the typed label
        assert page.evaluate("document.activeElement.value") == "wandelen_bewegen"
        tab_to(page, "the search button", "el.textContent.trim() === 'Zoeken'")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/agenda\?.*gemeente=Den\+Bosch.*"))
        assert "2 activiteiten gevonden" in page.locator("main").inner_text()
        tab_to(page, "the walk", "el.textContent.trim() === 'Rollatorwandeling langs de Dommel'")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{stack.url}/agenda/{agenda['walk']['id']}")
        tab_to(page, "the name field", "el.id === 'veld-name'")
        page.keyboard.type("Annie Schmidt")
        page.keyboard.press("Tab")
        page.keyboard.type(f"annie-{uuid.uuid4().hex[:6]}@example.org")
        tab_to(page, "the consent box", "el.id === 'veld-consent-1'")
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        assert focused_name(page) == "Aanmelden"
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/aanmelding/[0-9a-f-]+$"))
        assert page.get_by_role("heading", level=1).inner_text() == "U bent aangemeld"
        assert page.get_by_role("link", name="Zet in je agenda").is_visible()
        assert log.outside() == []  # no request left this machine on the way
    finally:
        context.close()


def test_signing_up_works_without_javascript(stack: Stack, browser: Browser, agenda: dict[str, Any]) -> None:
    context = new_context(browser, "phone", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{stack.url}/agenda/{agenda['coffee']['id']}")
        page.get_by_label("Naam").fill("Jan Klaassen")
        page.get_by_label("Telefoonnummer").fill("06 87654321")
        page.get_by_role("button", name="Aanmelden").click()  # no consent yet: the server says so at the field
        page.wait_for_load_state()
        assert "zonder uw toestemming" in page.locator("#veld-consent-fout").inner_text()
        assert page.get_by_label("Naam").input_value() == "Jan Klaassen"  # kept
        page.get_by_label("Ik ga akkoord met het bewaren van deze gegevens").check()
        page.get_by_role("button", name="Aanmelden").click()
        page.wait_for_url(re.compile(r".*/aanmelding/[0-9a-f-]+$"))
        assert page.get_by_role("heading", level=1).inner_text() == "U bent aangemeld"
    finally:
        context.close()


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_axe_finds_no_violation_on_the_agenda_activity_sign_up_cancel_and_embed_pages(
    stack: Stack, browser: Browser, agenda: dict[str, Any], width: str
) -> None:
    context = new_context(browser, width, bypass_csp=True)  # axe is injected as an inline script
    try:
        page = context.new_page()

        def check(path: str | None, name: str) -> None:
            if path is not None:
                page.goto(stack.url + path, wait_until="networkidle")
            assert page.locator("html").get_attribute("lang") == "nl"
            violations = axe_violations(page)
            assert violations == [], (name, violations)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow}px wider than the screen"
            screenshot(page, name, width)

        check("/agenda?gemeente=Den+Bosch", "agenda")
        check(f"/agenda/{agenda['walk']['id']}", "activiteit")
        page.get_by_label("Naam").fill("Riet")
        page.get_by_label("E-mailadres").fill("niet-goed")
        page.get_by_role("button", name="Aanmelden").click()
        page.wait_for_load_state("networkidle")
        check(None, "aanmelden-fout")
        page.get_by_label("E-mailadres").fill(f"riet-{uuid.uuid4().hex[:6]}@example.org")
        page.get_by_label("Ik ga akkoord met het bewaren van deze gegevens").check()
        page.get_by_role("button", name="Aanmelden").click()
        page.wait_for_url(re.compile(r".*/aanmelding/[0-9a-f-]+$"))
        page.wait_for_load_state("networkidle")
        check(None, "aanmelding")
        page.get_by_role("link", name="aanmelding annuleren").click()
        page.wait_for_load_state("networkidle")
        check(None, "annuleren")
        page.get_by_role("button", name="Ja, annuleer mijn aanmelding").click()
        page.wait_for_load_state("networkidle")
        assert "Uw aanmelding is geannuleerd" in page.locator("main").inner_text()
        check(None, "geannuleerd")
        check(f"/agenda/embed?gemeente={DEN_BOSCH}", "agenda-embed")
        assert SESSION_COOKIE in {c["name"] for c in context.cookies()}
    finally:
        context.close()
