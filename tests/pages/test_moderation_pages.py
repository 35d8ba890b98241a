"""The moderators' room through the front door: the queue with its warnings (the same venue at the same time, the
same title in the same municipality that day), approving, rejecting with a reason, held edits of published activities
as a difference, and trusted organisers. HTML tests with a signed session; in Chromium, a moderator who logs in through
Keycloak sees a held edit as a difference, and axe-core checks the room at phone and desktop width.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser
from support.browser import axe_violations, new_context, screenshot
from support.frontdoor import Stack
from support.services import auth

from komerbij.devtools.keycloak import DEMO_PASSWORD
from pages.registration_pages import (
    api,
    at,
    field_error,
    logged_in,
    organiser,
    published,
    submit,
    text_of,
)

UTRECHT = "GM0344"


def moderator(stack: Stack) -> tuple[httpx.Client, str]:
    return logged_in(stack, "moderator", name="Esther Bakker")


def queue_item(html: str, title: str) -> str:
    """The text of the queue entry with this title."""
    for item in re.findall(r'<li class="komerbij-queue__item">(.*?)</li>\s*(?=<li class="komerbij-queue__item">|</ul>)',
                           html, re.S):
        if f">{title}</h3>" in item:
            return text_of(item)
    raise AssertionError(f"{title!r} is not in the queue")


def test_the_queue_warns_of_the_same_venue_at_the_same_time_and_the_same_title_that_day(stack: Stack) -> None:
    venue = {"name": "Stadsbibliotheek", "street": f"Oudegracht {uuid.uuid4().int % 900 + 100}",
             "postcode": "3511 AP", "city": "Utrecht"}
    tag = uuid.uuid4().hex[:5]
    who = organiser(UTRECHT)
    first = published(stack, who, title=f"Voorleesuur {tag}", municipality=UTRECHT, venue=venue,
                      starts_at=at(2, 14), ends_at=at(2, 16))
    same_place = submit(stack, who, title=f"Schaakmiddag {tag}", municipality=UTRECHT, venue=venue,
                        starts_at=at(2, 15), ends_at=at(2, 17))
    same_title = submit(stack, who, title=f"voorleesuur  {tag.upper()}", municipality=UTRECHT, starts_at=at(2, 10),
                        ends_at=at(2, 11))  # another venue, the same day: entered twice?
    submit(stack, title=f"Voorleesuur {tag}", municipality="GM0363", starts_at=at(2, 10),
                       ends_at=at(2, 11))
    client, _ = moderator(stack)
    with client:
        html = client.get("/moderatie").text
    place = queue_item(html, f"Schaakmiddag {tag}")
    assert f"op dezelfde locatie, op hetzelfde moment: Voorleesuur {tag} (gepubliceerd" in place
    title = queue_item(html, f"voorleesuur  {tag.upper()}")
    assert f"dezelfde titel in dezelfde gemeente op dezelfde dag: Voorleesuur {tag} (gepubliceerd). Dubbel" in title
    assert "Let op" not in queue_item(html, f"Voorleesuur {tag}")  # another municipality: no warning
    assert f'href="/agenda/{first["id"]}"' in html  # the moderator can look at the other one
    queue = httpx.get(f"{api(stack)}/v1/moderation/queue", headers=auth("moderator")).json()["items"]
    similar = {i["id"]: [c["id"] for c in i["similar"]] for i in queue}
    assert similar[same_title["id"]] == [first["id"]] and similar[same_place["id"]] == []  # the API says so too


def test_approving_puts_an_activity_in_the_agenda_and_rejecting_needs_a_reason(stack: Stack) -> None:
    who = organiser(UTRECHT)
    good = submit(stack, who, title=f"Buurtbingo {uuid.uuid4().hex[:5]}", municipality=UTRECHT)
    bad = submit(stack, who, title=f"Verkoopmiddag {uuid.uuid4().hex[:5]}", municipality=UTRECHT)
    client, csrf = moderator(stack)
    with client:
        approved = client.post(f"/moderatie/activiteiten/{good['id']}/goedkeuren", data={"csrf_token": csrf})
        assert approved.status_code == 303 and approved.headers["location"] == "/moderatie"
        assert f"‘{good['title']}’ staat nu in de agenda." in text_of(client.get("/moderatie").text)
        twice = client.post(f"/moderatie/activiteiten/{good['id']}/goedkeuren", data={"csrf_token": csrf},
                            follow_redirects=True)
        assert "Dit was al beoordeeld" in text_of(twice.text)  # a colleague was quicker: no error page
        form = client.get(f"/moderatie/activiteiten/{bad['id']}/afwijzen")
        assert form.status_code == 200 and bad["title"] in form.text
        empty = client.post(f"/moderatie/activiteiten/{bad['id']}/afwijzen", data={"csrf_token": csrf, "reason": " "})
        assert empty.status_code == 422 and field_error(empty.text, "veld-reason") == "vul dit in"
        rejected = client.post(f"/moderatie/activiteiten/{bad['id']}/afwijzen",
                               data={"csrf_token": csrf, "reason": "Hier wordt iets verkocht."})
        assert rejected.status_code == 303
    agenda = httpx.get(f"{stack.url}/agenda", params={"gemeente": "Utrecht", "zoek": good["title"]}).text
    assert good["title"] in agenda
    assert httpx.get(f"{api(stack)}/v1/activities/{bad['id']}", headers=who).json()["reject_reason"] == (
        "Hier wordt iets verkocht.")


def test_a_trusted_organiser_publishes_at_once_until_the_trust_is_withdrawn(stack: Stack) -> None:
    subject = f"organiser-{uuid.uuid4().hex[:8]}"
    who = organiser(UTRECHT, subject=subject)
    first = submit(stack, who, title=f"Wijkwandeling {uuid.uuid4().hex[:5]}", municipality=UTRECHT)
    client, csrf = moderator(stack)
    with client:
        html = client.get("/moderatie").text
        entry = re.search(rf'<input type="hidden" name="subject" value="{subject}">', html)
        assert entry is not None  # the queue offers to trust the person who submitted it
        trusted = client.post("/moderatie/vertrouwd", data={
            "csrf_token": csrf, "organisation": UTRECHT, "subject": subject,
            "note": f"Welzijn West (aanmelder van ‘{first['title']}’)"}, follow_redirects=True)
        assert "publiceert voortaan zonder moderatie" in text_of(trusted.text)
        assert f"Welzijn West (aanmelder van ‘{first['title']}’)" in text_of(trusted.text)
        assert submit(stack, who, municipality=UTRECHT)["status"] == "published"
        elsewhere = organiser("GM0363", subject=subject)  # the same person acting for another organisation
        assert submit(stack, elsewhere)["status"] == "submitted"
        withdrawn = client.post("/moderatie/vertrouwd/intrekken",
                                data={"csrf_token": csrf, "subject": subject, "organisation": UTRECHT},
                                follow_redirects=True)
        assert "Het vertrouwen is ingetrokken" in text_of(withdrawn.text)
    assert submit(stack, who, municipality=UTRECHT)["status"] == "submitted"


def held_edit(stack: Stack) -> dict[str, Any]:
    """A published activity whose organiser (not trusted) changed its title and time: held for a moderator."""
    who = organiser(UTRECHT)
    a = published(stack, who, title=f"Koersbal {uuid.uuid4().hex[:5]}", municipality=UTRECHT,
                  starts_at=at(1, 14), ends_at=at(1, 16))
    r = httpx.patch(f"{api(stack)}/v1/activities/{a['id']}", headers=who,
                    json={"title": a["title"] + " en koffie", "starts_at": at(1, 15), "capacity": 30})
    assert r.status_code == 200 and r.json()["held_edit"]["status"] == "pending", r.text
    return {**a, "who": who, "edit_id": r.json()["held_edit"]["id"]}


def test_a_held_edit_is_approved_or_rejected_from_the_queue(stack: Stack) -> None:
    approve, reject = held_edit(stack), held_edit(stack)
    client, csrf = moderator(stack)
    with client:
        html = client.get("/moderatie").text
        done = client.post(f"/moderatie/wijzigingen/{approve['edit_id']}/goedkeuren", data={"csrf_token": csrf})
        assert done.status_code == 303
        empty = client.post(f"/moderatie/wijzigingen/{reject['edit_id']}/afwijzen", data={"csrf_token": csrf})
        assert empty.status_code == 422 and field_error(empty.text, "veld-reason") == "vul dit in"
        no = client.post(f"/moderatie/wijzigingen/{reject['edit_id']}/afwijzen",
                         data={"csrf_token": csrf, "reason": "Houd de oude tijd aan."})
        assert no.status_code == 303
        gone = client.get(f"/moderatie/wijzigingen/{reject['edit_id']}/afwijzen")
        assert gone.status_code == 404 and "Wijziging niet gevonden" in gone.text
    assert f"{approve['title']} en koffie" in html  # shown before the decision
    assert httpx.get(f"{api(stack)}/v1/activities/{approve['id']}").json()["title"] == approve["title"] + " en koffie"
    kept = httpx.get(f"{api(stack)}/v1/activities/{reject['id']}", headers=reject["who"]).json()
    assert kept["title"] == reject["title"] and kept["held_edit"]["reason"] == "Houd de oude tijd aan."


# --- in the browser ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_axe_finds_no_violation_in_the_moderators_room_and_a_held_edit_shows_as_a_difference(
    stack: Stack, keycloak: Any, browser: Browser, width: str
) -> None:
    edit = held_edit(stack)
    venue = {"name": "Buurthuis Ondiep", "street": f"Amsterdamsestraatweg {uuid.uuid4().int % 900 + 100}",
             "postcode": "3551 CX", "city": "Utrecht"}
    who = organiser(UTRECHT)
    published(stack, who, title="Samen soep maken", municipality=UTRECHT, venue=venue, starts_at=at(4, 12),
              ends_at=at(4, 14))
    submit(stack, who, title="Soeplunch voor de buurt", municipality=UTRECHT, venue=venue, starts_at=at(4, 13),
           ends_at=at(4, 15))
    context = new_context(browser, width, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(stack.url + "/moderatie")
        page.locator("#username").fill("moderator")  # Keycloak's own form
        page.locator("#password").fill(DEMO_PASSWORD)
        page.locator("#kc-login").click()
        page.wait_for_url(f"{stack.url}/moderatie")
        page.wait_for_load_state("networkidle")
        table = page.get_by_role("table", name=f"Wat verandert er aan ‘{edit['title']}’?")
        rows = [[cell.strip() for cell in row.split("\t")] for row in table.locator("tbody tr").all_inner_texts()]
        assert rows[0] == ["Titel", edit["title"], edit["title"] + " en koffie"]
        assert rows[1][0] == "Begint" and rows[1][1].endswith("14:00 uur") and rows[1][2].endswith("15:00 uur")
        assert len(rows) == 2  # the capacity went live at once: not held, not shown
        assert page.locator("del", has_text=edit["title"]).count() >= 1
        violations = axe_violations(page)
        assert violations == [], violations
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        screenshot(page, "moderatie", width)
        page.get_by_role("link", name=f"Wijziging afwijzen: {edit['title']}").click()
        page.get_by_role("button", name="Wijziging afwijzen").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#veld-reason-fout").is_visible()
        assert axe_violations(page) == []
        screenshot(page, "moderatie-afwijzen", width)
    finally:
        context.close()
