"""The organisers' room through the front door: the organisation's activities with status, seats and waitlist; the
form to register and change an activity, with every error at its field in Dutch and the typed values kept; the
participant list and its CSV; calling an activity off with a message to the participants. HTML tests with a signed
session; in Chromium, an organiser who logs in through Keycloak's own form registers an activity that a moderator
approves into the agenda, and axe-core checks every page of the room at phone and desktop width.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from support.browser import axe_violations, new_context, screenshot
from support.frontdoor import Stack
from support.infra import Infra, run_sync
from support.kafka import read_topic
from support.services import auth

from komerbij.contracts.topics import REGISTRATION_SIGNUPS
from komerbij.devtools.keycloak import DEMO_PASSWORD
from pages.registration_pages import (
    api,
    at,
    csrf_of,
    field_error,
    input_value,
    logged_in,
    next_week,
    organiser,
    published,
    sign_up,
    submit,
    text_of,
)

SCHIERMONNIKOOG = "GM0088"  # an organisation of its own for these tests
ROTTERDAM = "GM0599"  # organisator-rotterdam's, for the pictures


@pytest.fixture(scope="module")
def island(stack: Stack) -> dict[str, Any]:
    """Schiermonnikoog's activities in each state, with sign-ups and a waitlist."""
    who = organiser(SCHIERMONNIKOOG)
    waiting = submit(stack, who, title="Wadlopen met een gids", municipality=SCHIERMONNIKOOG)
    open_ = published(stack, who, title="Eilandlunch", municipality=SCHIERMONNIKOOG, capacity=2, max_party_size=2)
    sign_up(stack, open_["id"], name="Jelle", party_size=2)
    sign_up(stack, open_["id"], name="Sietske")  # waitlisted: the two seats are taken
    rejected = submit(stack, who, title="Verkoopdemonstratie", municipality=SCHIERMONNIKOOG)
    r = httpx.post(f"{api(stack)}/v1/activities/{rejected['id']}/reject", headers=auth("moderator"),
                   json={"reason": "Dit is geen open activiteit voor de week."})
    assert r.status_code == 200, r.text
    return {"who": who, "waiting": waiting, "open": open_, "rejected": rejected}


def island_organiser(stack: Stack) -> tuple[httpx.Client, str]:
    return logged_in(stack, "organiser", municipality=SCHIERMONNIKOOG, name="Sjoukje Visser")


def test_a_visitor_is_sent_to_the_login_and_other_roles_get_a_dutch_refusal(stack: Stack) -> None:
    anonymous = httpx.get(f"{stack.url}/organisator")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/organisator"
    client, _ = logged_in(stack, "moderator")
    with client:
        refused = client.get("/organisator")
    assert refused.status_code == 403 and "Geen toegang" in refused.text


def test_the_list_shows_each_activity_with_its_status_seats_waitlist_and_the_reason_of_a_rejection(
    stack: Stack, island: dict[str, Any]
) -> None:
    client, _ = island_organiser(stack)
    with client:
        page = client.get("/organisator")
        only_rejected = client.get("/organisator", params={"status": "rejected"})
    assert page.status_code == 200
    cards = {text_of(title).strip(): text_of(card) for title, card in re.findall(
        r'<li class="komerbij-activity-card">\s*<h3[^>]*>(.*?)</h3>(.*?)</li>', page.text, re.S)}
    assert {"Wadlopen met een gids", "Eilandlunch", "Verkoopdemonstratie"} <= set(cards)
    assert "Rollatorwandeling langs de Dommel" not in cards and "Eettafel in de Huiskamer" not in cards  # its own only
    assert "In beoordeling" in cards["Wadlopen met een gids"]
    assert "Gepubliceerd" in cards["Eilandlunch"] and "2 van 2 plaatsen bezet" in cards["Eilandlunch"]
    assert "Wachtlijst 1" in cards["Eilandlunch"]
    assert "Afgewezen" in cards["Verkoopdemonstratie"]
    assert "Reden van afwijzing Dit is geen open activiteit voor de week." in cards["Verkoopdemonstratie"]
    assert "gemeente Schiermonnikoog" in text_of(page.text)
    assert "1 activiteit (afgewezen)" in text_of(only_rejected.text)


def new_activity_form(client: httpx.Client) -> str:
    page = client.get("/organisator/activiteiten/nieuw")
    assert page.status_code == 200
    return csrf_of(page.text)


def test_a_new_activity_with_mistakes_shows_each_message_at_its_field_in_dutch_and_keeps_what_was_typed(
    stack: Stack
) -> None:
    client, _ = island_organiser(stack)
    with client:
        csrf = new_activity_form(client)
        form = {"csrf_token": csrf, "title": "  ", "description": "Samen het wad op.", "category": "",
                "starts_at": at(2, 14), "ends_at": "", "venue.name": "Strandpaviljoen", "venue.street": "Badweg 1",
                "venue.postcode": "9166", "venue.city": "Schiermonnikoog", "capacity": "veel",
                "max_party_size": "4", "price_eur": "2,50", "accessibility": "wheelchair",
                "contact.name": "VVV", "contact.email": "vvv@example.org"}
        answer = client.post("/organisator/activiteiten/nieuw", data=form)
        assert answer.status_code == 422
        html = answer.text
        expected = {
            "veld-title": "vul dit in", "veld-category": "kies een van de mogelijkheden", "veld-ends-at": "vul dit in",
            "veld-venue-postcode": "geen geldige postcode; schrijf die als 1234 AB",
            "veld-target-groups": "kies er minstens 1", "veld-capacity": "vul een heel getal in, bijvoorbeeld 4",
        }
        assert {k: field_error(html, k) for k in expected} == expected
        for field_id in expected:
            assert f'href="#{field_id}"' in html  # each in the summary, linking to its field
        assert input_value(html, "veld-venue-name") == "Strandpaviljoen" and input_value(
            html, "veld-price-eur") == "2,50" and input_value(html, "veld-capacity") == "veel"
        assert "Samen het wad op.</textarea>" in html
        assert re.search(r'value="wheelchair" checked', html)  # the ticked box stays ticked
        # right shape, wrong together: the rules of the use case come back at their fields too
        fixed = {**form, "title": "Wadlopen", "category": "natuur", "ends_at": at(2, 13),
                 "venue.postcode": "9166 PR", "capacity": "20", "target_groups": "iedereen"}
        ruled = client.post("/organisator/activiteiten/nieuw", data=fixed)
        assert ruled.status_code == 422
        assert field_error(ruled.text, "veld-ends-at") == "de eindtijd moet na de begintijd liggen"
        assert input_value(ruled.text, "veld-title") == "Wadlopen"
        created = client.post("/organisator/activiteiten/nieuw", data={**fixed, "ends_at": at(2, 17)})
        assert created.status_code == 303
        detail = client.get(created.headers["location"])
    text = text_of(detail.text)
    assert "Uw activiteit is aangemeld" in text and "In beoordeling" in text
    assert "Wadlopen" in text and "Strandpaviljoen" in text
    activity_id = created.headers["location"].rsplit("/", 1)[1]
    stored = httpx.get(f"{api(stack)}/v1/activities/{activity_id}", headers=organiser(SCHIERMONNIKOOG)).json()
    assert stored["status"] == "submitted" and stored["price_eur"] == 2.5 and stored["capacity"] == 20
    assert stored["venue"]["postcode"] == "9166 PR" and stored["municipality"] == SCHIERMONNIKOOG


def test_the_participant_list_and_its_csv_are_for_the_organisation_only(
    stack: Stack, island: dict[str, Any]
) -> None:
    activity_id = island["open"]["id"]
    client, _ = island_organiser(stack)
    with client:
        page = client.get(f"/organisator/activiteiten/{activity_id}/deelnemers")
        csv = client.get(f"/organisator/activiteiten/{activity_id}/deelnemers.csv")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    text = text_of(page.text)
    assert "Jelle" in text and "Sietske" in text and "Wachtlijst" in text and "Aangemeld" in text
    assert f'href="/organisator/activiteiten/{activity_id}/deelnemers.csv"' in page.text
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    rows = csv.text.lstrip("\ufeff").splitlines()
    assert rows[0] == "naam,e-mail,telefoon,aantal personen,status,aangemeld op"
    assert rows[1].startswith("Jelle,jelle-") and ",2,bevestigd," in rows[1] and ",1,wachtlijst," in rows[2]
    other, _ = logged_in(stack, "organiser", municipality="GM0363")
    with other:
        assert other.get(f"/organisator/activiteiten/{activity_id}/deelnemers").status_code == 403
        assert other.get(f"/organisator/activiteiten/{activity_id}/deelnemers.csv").status_code == 403
        assert other.get(f"/organisator/activiteiten/{island['waiting']['id']}").status_code == 404  # a draft
    colleague, _ = logged_in(stack, "organiser", municipality=SCHIERMONNIKOOG, name="Collega")
    with colleague:  # every organiser of the organisation, not only who registered it
        assert colleague.get(f"/organisator/activiteiten/{activity_id}/deelnemers").status_code == 200


def test_calling_an_activity_off_sends_the_organisers_message_to_every_participant(
    stack: Stack, infra: Infra
) -> None:
    who = organiser(SCHIERMONNIKOOG)
    a = published(stack, who, title="Vogels kijken", municipality=SCHIERMONNIKOOG, capacity=1, max_party_size=1)
    first, second = sign_up(stack, a["id"], name="Hylke"), sign_up(stack, a["id"], name="Tjitske")
    client, csrf = island_organiser(stack)
    with client:
        form = client.get(f"/organisator/activiteiten/{a['id']}/annuleren")
        assert "2 aanmeldingen krijgen daarover bericht" in text_of(form.text)
        too_long = client.post(f"/organisator/activiteiten/{a['id']}/annuleren",
                               data={"csrf_token": csrf, "message": "x" * 1001})
        assert too_long.status_code == 422
        assert field_error(too_long.text, "veld-message") == "gebruik hooguit 1000 tekens"
        message = "Het waait te hard. Kom op 5 oktober naar de vogelwacht; daar is het binnen."
        done = client.post(f"/organisator/activiteiten/{a['id']}/annuleren",
                           data={"csrf_token": csrf, "message": message})
        assert done.status_code == 303
        detail = client.get(done.headers["location"])
    assert "Geannuleerd" in text_of(detail.text) and "krijgt bericht met uw toelichting" in text_of(detail.text)
    public = httpx.get(f"{stack.url}/agenda/{a['id']}")
    assert "Deze activiteit gaat niet door." in text_of(public.text) and 'name="consent"' not in public.text
    wanted = {first["id"], second["id"]}

    def ours(record: Any) -> bool:
        data = json.loads(record.value)
        return data.get("signup_id") in wanted and data.get("reason") == "activity_cancelled"

    records = run_sync(read_topic(infra.kafka_bootstrap, REGISTRATION_SIGNUPS.name, keep=ours,
                                  until=lambda found: len(found) >= 2))
    assert {json.loads(r.value)["message"] for r in records} == {message}  # for the mail to each of them


def test_an_edit_of_a_published_activity_waits_for_a_moderator_and_says_so(stack: Stack) -> None:
    who = organiser(SCHIERMONNIKOOG)
    a = published(stack, who, title="Zeehonden spotten", municipality=SCHIERMONNIKOOG, capacity=10)
    client, csrf = island_organiser(stack)
    with client:
        form = client.get(f"/organisator/activiteiten/{a['id']}/wijzigen")
        assert input_value(form.text, "veld-title") == "Zeehonden spotten"
        assert input_value(form.text, "veld-starts-at") == at(1, 17)[:16]  # Amsterdam time, to the minute
        values = form_values(form.text)
        changed = client.post(f"/organisator/activiteiten/{a['id']}/wijzigen",
                              data={**values, "csrf_token": csrf, "title": "Zeehonden kijken", "capacity": "12"})
        assert changed.status_code == 303
        detail = client.get(changed.headers["location"])
        again = client.get(f"/organisator/activiteiten/{a['id']}/wijzigen")
    text = text_of(detail.text)
    assert "Uw wijziging wacht op een moderator" in text and "Wijziging in beoordeling: titel." in text
    public = httpx.get(f"{api(stack)}/v1/activities/{a['id']}").json()
    assert public["title"] == "Zeehonden spotten" and public["capacity"] == 12  # held, and live at once
    assert input_value(again.text, "veld-title") == "Zeehonden kijken"  # the form shows what waits


def form_values(html: str) -> dict[str, Any]:
    """What a browser would send for a form as it is shown (text inputs, text areas, chosen options, ticked boxes)."""
    values: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or name.group(1) == "csrf_token":
            continue
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if kind and kind.group(1) in ("checkbox", "radio"):
            if " checked" in tag:
                values.setdefault(name.group(1), []).append(value.group(1) if value else "on")
        else:
            values[name.group(1)] = (value.group(1) if value else "").replace("&amp;", "&")
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        values[name] = text
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        values[name] = chosen.group(1) if chosen else ""
    return values


# --- in the browser ----------------------------------------------------------------------------------------------


def log_in_through(page: Page, username: str) -> None:
    """On Keycloak's own login form, as a person would."""
    page.locator("#username").fill(username)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("#kc-login").click()


def fill_activity(page: Page, title: str, postcode: str) -> None:
    start, _ = next_week()
    page.get_by_label("Titel").fill(title)
    page.get_by_label("Beschrijving").fill("Samen eten aan lange tafels.\n\nIedereen is welkom.")
    page.get_by_label("Soort activiteit").select_option("eettafel")
    page.get_by_label("Ouderen").check()
    page.get_by_label("Begint op").fill(f"{start.isoformat()}T12:00")
    page.get_by_label("Eindigt op").fill(f"{start.isoformat()}T14:00")
    page.get_by_label("Naam van de locatie").fill("Buurthuis De Pijp")
    page.get_by_label("Straat en huisnummer").fill(f"Sarphatipark {uuid.uuid4().int % 900 + 100}")
    page.get_by_label("Postcode").fill(postcode)
    page.locator("#veld-venue-city").fill("Amsterdam")
    page.get_by_label("Aantal plaatsen").fill("30")
    page.locator("#veld-contact-name").fill("Buurthuis De Pijp")
    page.locator("#veld-contact-email").fill("pijp@example.org")


def test_an_organiser_logs_in_registers_an_activity_and_a_moderator_approves_it_into_the_agenda(
    stack: Stack, keycloak: Any, browser: Browser
) -> None:
    title = f"Buurtlunch {uuid.uuid4().hex[:6]}"
    context = new_context(browser)
    try:
        page = context.new_page()
        page.goto(stack.url + "/")
        page.get_by_role("link", name="Voor organisatoren").first.click()  # the way in on the start page
        log_in_through(page, "organisator-amsterdam")
        page.wait_for_url(f"{stack.url}/organisator")
        assert "Anna de Vries" in page.locator("header").inner_text()
        page.get_by_role("link", name="Nieuwe activiteit aanmelden").click()
        fill_activity(page, title, postcode="1073")
        page.get_by_role("button", name="Activiteit aanmelden").click()
        page.wait_for_load_state()
        assert page.locator("#veld-venue-postcode-fout").inner_text().endswith(
            "geen geldige postcode; schrijf die als 1234 AB")
        assert page.get_by_label("Titel").input_value() == title  # what was typed stays
        assert page.get_by_label("Ouderen").is_checked()
        page.get_by_label("Postcode").fill("1073 BX")
        page.get_by_role("button", name="Activiteit aanmelden").click()
        page.wait_for_url(re.compile(r".*/organisator/activiteiten/[0-9a-f-]+$"))
        assert "In beoordeling" in page.locator("main").inner_text()
        activity_url = page.url
    finally:
        context.close()

    moderation = new_context(browser)
    try:
        page = moderation.new_page()
        page.goto(stack.url + "/")
        page.get_by_role("link", name="Naar moderatie").click()
        log_in_through(page, "moderator")
        page.wait_for_url(f"{stack.url}/moderatie")
        page.get_by_role("button", name=f"Goedkeuren: {title}").click()
        page.wait_for_url(f"{stack.url}/moderatie")
        assert f"‘{title}’ staat nu in de agenda." in page.get_by_role("status").inner_text()
        page.get_by_role("link", name="Agenda", exact=True).click()
        page.get_by_label("Gemeente").fill("Amsterdam")
        page.get_by_label("Zoekwoord").fill(title)
        page.get_by_role("button", name="Zoeken").click()
        page.get_by_role("link", name=title).click()
        assert page.get_by_role("heading", level=1).inner_text() == title
        assert page.url == activity_url.replace("/organisator/activiteiten/", "/agenda/")
    finally:
        moderation.close()


@pytest.fixture(scope="module")
def rotterdam(stack: Stack) -> dict[str, Any]:
    """What organisator-rotterdam's room shows in the pictures."""
    who = organiser(ROTTERDAM)
    venue = {"name": "Huiskamer Oude Noorden", "street": "Zaagmolenkade 48", "postcode": "3035 KG",
             "city": "Rotterdam"}
    meal = published(stack, who, title="Eettafel in de Huiskamer", municipality=ROTTERDAM, venue=venue,
                     capacity=16, starts_at=at(0, 17, 30), ends_at=at(0, 19, 30))
    for name in ("Fatima", "Gerard", "Ans"):
        sign_up(stack, meal["id"], name=name, party_size=2)
    submit(stack, who, title="Muziekmiddag met het buurtkoor", category="muziek", municipality=ROTTERDAM,
           venue={**venue, "street": "Zaagmolenkade 50"}, starts_at=at(3, 14), ends_at=at(3, 16))
    return {"meal": meal}


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_axe_finds_no_violation_in_the_organisers_room(
    stack: Stack, keycloak: Any, browser: Browser, rotterdam: dict[str, Any], width: str
) -> None:
    context = new_context(browser, width, bypass_csp=True)
    try:
        page = context.new_page()

        def check(path: str | None, name: str) -> None:
            if path is not None:
                page.goto(stack.url + path, wait_until="networkidle")
            violations = axe_violations(page)
            assert violations == [], (name, violations)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow}px wider than the screen"
            screenshot(page, name, width)

        page.goto(stack.url + "/organisator")
        log_in_through(page, "organisator-rotterdam")
        page.wait_for_url(f"{stack.url}/organisator")
        page.wait_for_load_state("networkidle")
        check(None, "organisator")
        meal = rotterdam["meal"]["id"]
        check(f"/organisator/activiteiten/{meal}", "organisator-activiteit")
        check(f"/organisator/activiteiten/{meal}/deelnemers", "organisator-deelnemers")
        check(f"/organisator/activiteiten/{meal}/wijzigen", "organisator-wijzigen")
        check(f"/organisator/activiteiten/{meal}/annuleren", "organisator-annuleren")
        check("/organisator/activiteiten/nieuw", "organisator-nieuw")
        page.get_by_label("Titel").fill("Spelletjesmiddag")
        page.get_by_label("Postcode").fill("30")
        page.get_by_role("button", name="Activiteit aanmelden").click()
        page.wait_for_load_state("networkidle")
        assert page.locator(".komerbij-error-summary").is_visible()
        check(None, "organisator-nieuw-fouten")
    finally:
        context.close()
