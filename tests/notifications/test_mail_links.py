"""Every link in every kind of mail opens a page at the front door (PAGES_BASE_URL), never a JSON route of an API;
a participant's confirmation carries the activity as an iCalendar file a calendar app takes as registration's own
event (issues 15.4 and 16.6). Through real Kafka, PostgreSQL and SMTP (aiosmtpd): the mails as the relay took them.

The links that are not pages of ours are the ones the issue keeps as they are: the participant's cancel link
(registration's own cancel page, its link from the event with the token notifications adds), the one-click
unsubscribe link (RFC 8058, at the service's PUBLIC_BASE_URL) and a press mention's link to the article itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest_asyncio
from icalendar import Calendar
from support.infra import Infra
from support.services import CANCEL_LINK_SECRET, RunningService, eventually

from komerbij.contracts.events.materials import OrderLine, OrderShipped, StockLow
from komerbij.contracts.events.media import MentionRecorded
from komerbij.contracts.events.registration import (
    ActivityPublished,
    SignupActivityChanged,
    SignupConfirmed,
    SignupWaitlisted,
    cancel_token,
)
from komerbij.notifications.domain.signatures import contact_of_preferences_token
from komerbij.notifications.service import digest
from komerbij.registration.adapters import calendar as registration_calendar

from .conftest import UNSUBSCRIBE_SECRET, Publisher, activity, make_partner, notifications, settle, signup
from .mail_links import links_of
from .receivers import MailSink

PAGES = "https://www.komerbij.test"  # the front door; PUBLIC_BASE_URL of the service is http://notifications.test
PUBLIC = "http://notifications.test"
REGISTRATION = "https://agenda.example.nl"  # registration's PUBLIC_BASE_URL, in the links its events carry
ARTICLE = "https://www.omroepbrabant.example/nieuws/samen-eten"
CONTACT = "meldingen@tilburg.example"
DIGEST_CONTACT = "overzicht@fonds.example"
PARTICIPANT = "deelnemer@voorbeeld.example"
ORDERER = "inkoop@welzijntilburg.example"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
EVERY_PARTNER_EVENT = ["ActivityPublished", "ActivityCancelled", "MentionRecorded", "SignupConfirmed",
                       "SignupWaitlisted", "SignupPromoted", "SignupCancelled"]


def assert_pages_only(message: EmailMessage, expected: set[str], *, also: set[str] = frozenset()) -> None:
    """The mail's links, in both parts, are exactly `expected` (pages at the front door) and `also` (the links the
    issue keeps as they are); nothing points at an API's /v1/ route but registration's cancel page."""
    text, html = links_of(message)
    assert text == html == expected | also, (message["Subject"], text ^ (expected | also), html ^ (expected | also))
    assert all(link.startswith(PAGES + "/") for link in expected), expected
    assert not [link for link in text | html if "/v1/" in link and "/cancel?token=" not in link], text | html
    assert "/api/" not in " ".join(text | html)


def preferences_link(message: EmailMessage) -> str:
    text, _ = links_of(message)
    [link] = [link for link in text if link.startswith(f"{PAGES}/voorkeuren/")]
    return link


@pytest_asyncio.fixture
async def svc(infra: Infra, mail: MailSink) -> AsyncIterator[RunningService]:
    # Without the service's digest job: the test sends the digest itself, at a moment it chooses.
    async with notifications(infra, mail, PAGES_BASE_URL=PAGES + "/", jobs_but=("digest",)) as service:
        yield service


async def test_every_mail_links_to_pages_at_the_front_door_and_the_confirmation_carries_the_activity(
    infra: Infra, svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    tag = uuid.uuid4().hex[:6]
    tilburg = await make_partner(svc.client, kind="municipality", municipality="GM0855", name="Gemeente Tilburg",
                                 contact=CONTACT, id=f"tilburg-{tag}",
                                 subscription={"event_types": EVERY_PARTNER_EVENT, "municipalities": ["GM0855"]})
    fonds = await make_partner(svc.client, kind="national_partner", sector="fondsen", contact=DIGEST_CONTACT,
                               subscription={"event_types": ["ActivityPublished", "MentionRecorded"],
                                             "provinces": ["Noord-Brabant"], "mode": "digest"})

    published = ActivityPublished(**{**activity("GM0855", title=f"Eettafel {tag}").model_dump(),
                                     "url": f"{REGISTRATION}/v1/activities/x"})  # registration's JSON route
    mention = MentionRecorded(mention_id=str(uuid.uuid4()), title=f"Tilburg eet samen {tag}", url=ARTICLE,
                              outlet_id="omroep-brabant", outlet_name="Omroep Brabant", medium="tv",
                              scope="regional", published_at=datetime(2026, 10, 1, 9, tzinfo=UTC),
                              municipalities=["GM0855"])
    base = signup(PARTICIPANT, owner_partner_id=tilburg["partner"]).model_dump()
    activity_id, signup_id = base["activity_id"], base["signup_id"]
    base.update(municipality="GM0855", activity_title=f"Koffie {tag}", location="Wijkcentrum De Poort, Tilburg",
                cancel_url=f"{REGISTRATION}/v1/signups/{signup_id}/cancel",  # without its token, as registration's
                activity_url=f"{REGISTRATION}/v1/activities/{activity_id}")
    confirmed = SignupConfirmed(**base)
    changed = SignupActivityChanged(**{**base, "starts_at": datetime(2026, 10, 3, 8, 30, tzinfo=UTC),
                                       "ends_at": datetime(2026, 10, 3, 10, 0, tzinfo=UTC),
                                       "location": "Bibliotheek LocHal, Tilburg"}, changed_fields=["starts_at"])
    waitlisted = SignupWaitlisted(**{**base, "signup_id": str(uuid.uuid4()), "email": f"wacht-{tag}@voorbeeld.example",
                                     "cancel_url": f"{REGISTRATION}/v1/signups/w-{tag}/cancel"}, waitlist_position=3)
    order_id = f"ORD-{tag}"
    shipped = OrderShipped(order_id=order_id, municipality="GM0855", edition_year=2026, status="shipped",
                           lines=[OrderLine(sku="POSTER-A3", quantity=20)], organisation="Welzijn Tilburg",
                           contact_email=ORDERER, carrier="PostNL", tracking_code="3SABC123")
    stock = StockLow(sku="PLACEMAT", name=f"Placemat {tag}", stock_on_hand=4, reserved=2, threshold=50)
    for event in (published, mention, confirmed, waitlisted, shipped, stock):
        await publisher.publish(event)
    await eventually(lambda: mail.received(PARTICIPANT, "Bevestiging"))
    await publisher.publish(changed)  # after the confirmation: a participant's mails go out in event order
    await settle(infra, svc)

    # A partner's contact: the activity's page, their preferences page, the one-click link.
    [activity_mail] = await mail.received(CONTACT, "Nieuwe activiteit")
    prefs = preferences_link(activity_mail)
    unsubscribe = activity_mail["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{PUBLIC}/unsubscribe/"), "the one-click link stays where it was"
    assert_pages_only(activity_mail, {f"{PAGES}/agenda/{published.activity_id}", prefs}, also={unsubscribe})
    token = prefs.removeprefix(f"{PAGES}/voorkeuren/")
    assert contact_of_preferences_token(UNSUBSCRIBE_SECRET, token) == tilburg["contact"]
    page = await svc.client.get(prefs.removeprefix(PAGES))
    assert page.status_code == 200 and "Gemeente Tilburg" in page.text, "the link opens the contact's page"

    [mention_mail] = await mail.received(CONTACT, "In de media")
    assert_pages_only(mention_mail, {f"{PAGES}/media/vermeldingen/{mention.mention_id}", preferences_link(
        mention_mail)}, also={ARTICLE, mention_mail["List-Unsubscribe"].strip("<>")})

    [organiser_mail] = await mail.received(CONTACT, "Er is een nieuwe aanmelding")
    assert_pages_only(organiser_mail, {f"{PAGES}/agenda/{activity_id}", preferences_link(organiser_mail)},
                      also={organiser_mail["List-Unsubscribe"].strip("<>")})

    # The participant: the activity's page and registration's cancel page (its link, with the token).
    cancel = f"{REGISTRATION}/v1/signups/{signup_id}/cancel?token={cancel_token(CANCEL_LINK_SECRET, signup_id)}"
    [confirmation] = await mail.received(PARTICIPANT, "Bevestiging")
    assert_pages_only(confirmation, {f"{PAGES}/agenda/{activity_id}"}, also={cancel})
    assert_invite(confirmation, activity_id, confirmed.starts_at, confirmed.ends_at, confirmed.location,
                  f"{PAGES}/agenda/{activity_id}")
    [moved] = await mail.received(PARTICIPANT, "Gewijzigde tijd of plaats")
    assert_pages_only(moved, {f"{PAGES}/agenda/{activity_id}"}, also={cancel})
    assert_invite(moved, activity_id, changed.starts_at, changed.ends_at, "Bibliotheek LocHal, Tilburg",
                  f"{PAGES}/agenda/{activity_id}")
    [on_waitlist] = await mail.received(f"wacht-{tag}@voorbeeld.example", "wachtlijst")
    assert list(on_waitlist.iter_attachments()) == [], "no place yet: nothing for the calendar"

    # The orderer: the order's page. The admins' stock alert has no link at all.
    [order_mail] = await mail.received(ORDERER, order_id)
    assert_pages_only(order_mail, {f"{PAGES}/bestellingen/{order_id}"})
    [stock_mail] = await mail.received("voorraad@programmateam.example", stock.name)
    assert_pages_only(stock_mail, set())

    # The daily digest: each item's page, the preferences page, the one-click link.
    assert await digest.send_digests(svc.runtime, datetime(2026, 9, 30, 21, 59, 30, tzinfo=UTC)) == 1
    await settle(infra, svc)
    [overview] = mail.for_address(DIGEST_CONTACT)
    assert_pages_only(overview, {f"{PAGES}/agenda/{published.activity_id}",
                                 f"{PAGES}/media/vermeldingen/{mention.mention_id}", preferences_link(overview)},
                      also={overview["List-Unsubscribe"].strip("<>")})
    digest_token = preferences_link(overview).removeprefix(f"{PAGES}/voorkeuren/")
    assert contact_of_preferences_token(UNSUBSCRIBE_SECRET, digest_token) == fonds["contact"]


def assert_invite(message: EmailMessage, activity_id: str, starts: datetime, ends: datetime, location: str,
                  page: str) -> None:
    """One `text/calendar; method=PUBLISH` attachment with one VEVENT: registration's UID for the activity, its
    times in Europe/Amsterdam, its place and its page."""
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH" and attachment.get_filename() == "activiteit.ics"
    calendar = Calendar.from_ical(attachment.get_content())
    assert calendar["METHOD"] == "PUBLISH"
    [event] = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert str(event["UID"]) == registration_calendar.uid(activity_id), "the UID registration's feed gives it"
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start == starts and end == ends
    assert str(getattr(start.tzinfo, "key", start.tzinfo)) == "Europe/Amsterdam"
    assert event["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert start.astimezone(AMSTERDAM).utcoffset() == timedelta(hours=2)  # summer time in October
    assert str(event["LOCATION"]) == location and str(event["URL"]) == page
    assert [c.name for c in calendar.walk() if c.name == "VTIMEZONE"] == ["VTIMEZONE"]
