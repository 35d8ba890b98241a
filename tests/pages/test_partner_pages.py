"""Notifications' pages in Chromium (issue 16.5, 16.7): the programme team's partner register behind Keycloak's login,
and a contact's preferences page reached from the link in a real mail. axe-core finds no WCAG 2.1 A/AA violation at
phone and desktop width; the contact's page works with the keyboard and without JavaScript.

The stack's notifications process does not send mail (other tests' events are not ours to send), so the mail here
is sent by the service's own dispatch code, in this process, from the delivery the running service recorded for a
real event, to a local SMTP server: the link is the one a contact would click.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from notifications.receivers import MailSink, WebhookReceiver
from playwright.sync_api import Browser, Page, expect
from support.browser import WIDTHS, axe_violations, new_context, screenshot
from support.frontdoor import Stack
from support.infra import Infra, run_sync
from support.kafka import cloudevent, produce
from support.services import auth

from komerbij.contracts.events.registration import ActivityPublished, Venue
from komerbij.devtools.keycloak import KeycloakServer
from komerbij.notifications.adapters.mail import Mailer
from komerbij.notifications.service.dispatch import Dispatcher, dispatch_due
from komerbij.notifications.settings import Settings
from komerbij.runtime import db

from .test_login import log_in

ADMIN = auth("admin")


def check_axe(page: Page, name: str) -> None:
    """axe at phone and desktop width on the page as it is, no sideways scrolling; screenshots for the README."""
    for width in ("phone", "desktop"):
        page.set_viewport_size(WIDTHS[width])
        violations = axe_violations(page)
        assert violations == [], (name, width, violations)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} at {width} is {overflow}px wider than the screen: " + page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth)"
            ".slice(-5).map(e => e.tagName + '.' + e.className).join(', ')")
        screenshot(page, name, width)


def test_the_programme_team_adds_a_webhook_sends_it_a_test_event_and_axe_finds_no_violation(
    infra: Infra, stack: Stack, keycloak: KeycloakServer, browser: Browser
) -> None:
    receiver = WebhookReceiver().start()
    context = new_context(browser, bypass_csp=True)  # axe is injected as an inline script
    try:
        tag = uuid.uuid4().hex[:6]
        hook = receiver.add(f"utrecht-{tag}")
        page = context.new_page()
        log_in(page, stack, "beheerder")
        page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Partners").click()
        page.wait_for_url(f"{stack.url}/partners")
        check_axe(page, "partners")

        page.get_by_label("Naam").fill(f"Gemeente Utrecht {tag}")
        page.get_by_label("Soort partner").select_option("municipality")
        page.get_by_label("Gemeente").fill("Utrecht")
        page.get_by_label("Id").fill(f"gm0344-{tag}")
        page.get_by_role("button", name="Partner toevoegen").click()
        page.wait_for_url(f"{stack.url}/partners/gm0344-{tag}")
        assert page.get_by_role("status").inner_text() == f"Partner Gemeente Utrecht {tag} is toegevoegd."

        page.get_by_label("Adres (URL)").fill(receiver.url(f"utrecht-{tag}"))
        page.get_by_label("Geheim").fill(hook.secret)
        page.get_by_role("button", name="Webhook toevoegen").click()
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^\s*De webhook is toegevoegd"))
        page.get_by_role("button", name=re.compile("^Testbericht sturen")).click()
        expect(page.get_by_role("status")).to_have_text(
            "Het testbericht is afgeleverd: de ontvanger antwoordde HTTP 204.")
        [request] = hook.requests
        assert request["verified"] and request["body"]["type"] == "nl.komerbij.notifications.test.v1"

        # The dispatcher turned the webhook off after failing for days; the receiver is fixed: on again.
        [webhook] = _api(stack, "GET", f"/v1/partners/gm0344-{tag}")["webhooks"]
        run_sync(_sql(stack, "UPDATE webhooks SET disabled_at = now(), failing_since = now() - interval '3 days' "
                             "WHERE id = $1", uuid.UUID(webhook["id"])))
        page.reload()
        page.get_by_role("button", name=re.compile("^Weer inschakelen")).click()
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^\s*De webhook is weer ingeschakeld"))
        [webhook] = _api(stack, "GET", f"/v1/partners/gm0344-{tag}")["webhooks"]
        assert webhook["disabled_at"] is None
        expect(page.get_by_role("button", name=re.compile("^Weer inschakelen"))).to_have_count(0)

        page.get_by_label("Naam").fill("Team Ontmoeten")
        page.get_by_label("E-mailadres").fill(f"ontmoeten-{tag}@utrecht.example")
        page.get_by_role("button", name="Contactpersoon toevoegen").click()
        expect(page.get_by_role("status")).to_have_text("Contactpersoon Team Ontmoeten is toegevoegd.")
        page.get_by_role("checkbox", name="Een nieuwe activiteit in de agenda").check()
        page.get_by_label("Gemeenten").fill("Utrecht")
        page.get_by_role("button", name="Abonnement toevoegen").click()
        expect(page.get_by_role("status")).to_have_text("Het abonnement is toegevoegd.")
        check_axe(page, "partner")

        # An activity in Utrecht: the running service records a mail and a webhook delivery (it sends nothing).
        publish(infra, activity_in("GM0344", f"Samen koken {tag}"))
        _wait_for(lambda: len(_api(stack, "GET", "/v1/deliveries", params={"partner": f"gm0344-{tag}"})["items"]) == 2,
                  "the two deliveries")
        page.get_by_role("link", name=f"Bezorglog van Gemeente Utrecht {tag}").click()
        page.wait_for_url(re.compile(re.escape(f"{stack.url}/partners/bezorgingen?partner=")))
        expect(page.get_by_role("heading", name="2 bezorgingen", exact=True)).to_be_visible()
        page.get_by_label("Kanaal").select_option("webhook")
        page.get_by_label("Toestand").select_option("pending")
        page.get_by_role("button", name="Filteren").click()
        page.wait_for_url(re.compile(r".*status=pending.*channel=webhook.*"))
        expect(page.get_by_role("heading", name="1 bezorging", exact=True)).to_be_visible()
        page.get_by_label("Toestand").select_option("delivered")
        page.get_by_role("button", name="Filteren").click()
        expect(page.get_by_role("heading", name="0 bezorgingen", exact=True)).to_be_visible()
        page.get_by_label("Toestand").select_option("pending")
        page.get_by_role("button", name="Filteren").click()
        check_axe(page, "bezorglog")
    finally:
        context.close()
        receiver.stop()


def activity_in(municipality: str, title: str) -> ActivityPublished:
    starts = datetime(2026, 10, 1, 12, tzinfo=UTC)
    return ActivityPublished(
        activity_id=str(uuid.uuid4()), edition_year=2026, title=title, category="eettafel", starts_at=starts,
        ends_at=starts + timedelta(hours=2), municipality=municipality, province=None, online=False,
        venue=Venue(name="Buurthuis", street="Slotlaan 1", postcode="3701 GA", city="Zeist"))


def publish(infra: Infra, event: ActivityPublished) -> None:
    """On the real topic, as registration's outbox relay puts it there."""
    value, headers = cloudevent(event)
    run_sync(produce(infra.kafka_bootstrap, event.TOPIC, [(event.key.encode(), value, headers)]))


def _api(stack: Stack, method: str, path: str, **kwargs: Any) -> Any:
    r = httpx.request(method, f"{stack.url}/api/notifications{path}", headers=ADMIN, timeout=30, **kwargs)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


async def _send_due_mail(stack: Stack, smtp_port: int) -> None:
    """One dispatch round, as the service's dispatch job runs it, on the stack's notifications database, with the
    front door as PAGES_BASE_URL (the stack's process was started before the front door had its port)."""
    env = {k.lower(): v for k, v in stack.services["notifications"].env.items()}
    settings = Settings(**{k: v for k, v in env.items() if k in Settings.model_fields and k not in (
        "smtp_port", "pages_base_url")}, smtp_port=smtp_port, pages_base_url=stack.url)
    pool = await db.create_pool(settings.database_url, max_size=2)
    try:
        mailer = Mailer(host="127.0.0.1", port=smtp_port, sender=settings.mail_from, timeout=10)
        await dispatch_due(Dispatcher(pool, settings, mailer, "/komerbij/tests", lambda: datetime.now(UTC)),
                           datetime.now(UTC))
    finally:
        await pool.close()


async def _sql(stack: Stack, query: str, *args: Any) -> None:
    """A change the service itself makes (not through a page), on the stack's notifications database."""
    connection = await asyncpg.connect(stack.services["notifications"].env["DATABASE_URL"])
    try:
        await connection.execute(query, *args)
    finally:
        await connection.close()


def _wait_for(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_a_contact_changes_preferences_from_a_real_mail_with_the_keyboard_and_axe_finds_no_violation(
    infra: Infra, stack: Stack, browser: Browser
) -> None:
    tag = uuid.uuid4().hex[:6]
    address = f"coordinator-{tag}@zeist.example"
    partner = _api(stack, "POST", "/v1/partners", json={"name": f"Coalitie Zeist {tag}", "kind": "local_coalition"})
    partner_id = partner["id"]
    _api(stack, "POST", f"/v1/partners/{partner_id}/contacts", json={"name": "Mila Jansen", "email": address})
    _api(stack, "POST", f"/v1/partners/{partner_id}/subscriptions",
         json={"event_types": ["ActivityPublished"], "municipalities": ["GM0355"]})
    event = activity_in("GM0355", f"Soep en verhalen {tag}")
    publish(infra, event)
    _wait_for(lambda: _api(stack, "GET", "/v1/deliveries", params={"partner": partner_id})["items"],
              "the stack's notifications service records the delivery")

    sink = MailSink().start()
    try:
        run_sync(_send_due_mail(stack, sink.port))
        [mail] = _wait_for(lambda: [m for m in sink.for_address(address) if event.title in str(m["Subject"])],
                           "the mail")
    finally:
        sink.stop()
    [link] = re.findall(r"http://\S+/voorkeuren/\S+", mail.get_body(("plain",)).get_content())
    assert link.startswith(f"{stack.url}/voorkeuren/")
    # RFC 8058 one-click stays as it was: the header pair, to the service's own unsubscribe link.
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https?://[^>]+/unsubscribe/[^>]+>", mail["List-Unsubscribe"].strip())

    context = new_context(browser, "phone", java_script_enabled=False)  # a phone, and no script needed
    try:
        page = context.new_page()
        page.goto(link)
        assert page.get_by_role("heading", level=1).inner_text() == "Uw meldingen"
        first = page.get_by_role("checkbox", name="Een nieuwe activiteit in de agenda")
        _tab_to(page, lambda: first.evaluate("el => el === document.activeElement"), "the first event type")
        page.keyboard.press("Tab")  # "Een activiteit gaat niet door"
        page.keyboard.press("Tab")  # "De week in de media"
        page.keyboard.press("Space")
        _tab_to(page, lambda: _focused_name(page) == "subscriptions.0.municipalities", "the municipalities")
        page.keyboard.press("Control+A")
        page.keyboard.type("Zeist, Utrechtse Heuvelrug")
        _tab_to(page, lambda: _focused_name(page) == "subscriptions.0.mode", "how often")
        page.keyboard.press("ArrowDown")  # the daily digest
        _tab_to(page, lambda: page.evaluate("document.activeElement.textContent.trim()") == "Voorkeuren opslaan",
                "the save button")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert page.get_by_role("status").inner_text() == "Uw voorkeuren zijn opgeslagen."
    finally:
        context.close()
    [subscription] = _api(stack, "GET", f"/v1/partners/{partner_id}")["subscriptions"]
    assert subscription["event_types"] == ["ActivityPublished", "MentionRecorded"]
    assert subscription["municipalities"] == ["GM0355", "GM1581"] and subscription["mode"] == "digest"

    context = new_context(browser, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(link, wait_until="networkidle")
        assert page.get_by_label("Gemeenten").input_value() == "Zeist, Utrechtse Heuvelrug"
        expect(page.get_by_role("checkbox", name="De week in de media")).to_be_checked()
        expect(page.get_by_role("radio", name=re.compile("^Eén keer per dag"))).to_be_checked()
        check_axe(page, "voorkeuren")

        page.get_by_role("button", name="Afmelden voor alle meldingen").click()
        expect(page.get_by_role("status")).to_have_text(
            "U bent afgemeld. U ontvangt geen meldingen meer van de Week tegen Eenzaamheid.")
        expect(page.get_by_role("button", name="Voorkeuren opslaan")).to_have_count(0)
    finally:
        context.close()
    [contact] = _api(stack, "GET", f"/v1/partners/{partner_id}")["contacts"]
    assert contact["unsubscribed_at"] is not None, "unsubscribed from everything"


def _focused_name(page: Page) -> str | None:
    return page.evaluate("document.activeElement && document.activeElement.getAttribute('name')")


def _tab_to(page: Page, there: Any, what: str, most: int = 60) -> None:
    """Tab until `there()` holds: the place is reachable with the keyboard, in a bounded number of steps."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if there():
            return
    raise AssertionError(f"{what}: not reached with {most} presses of Tab")
