"""Every event notifications routes, through real Kafka, PostgreSQL, SMTP and HTTP: each mail rendered (text and HTML)
and delivered to whom it concerns, each webhook signed and sent, and nothing else.

A partner for Tilburg (GM0855) with a contact and a webhook subscribes to every event a partner may subscribe to; it
owns the sign-ups. Participants, orderers and the admins get their transactional mails directly.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
import pytest_asyncio
from support.infra import Infra
from support.services import RunningService

from komerbij.contracts.events.base import Event
from komerbij.contracts.events.materials import (
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderLine,
    OrderPicking,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    StockLow,
)
from komerbij.contracts.events.media import MentionRecorded
from komerbij.contracts.events.registration import (
    ActivityCancelled,
    ActivityPublished,
    SignupActivityChanged,
    SignupCancelled,
    SignupConfirmed,
    SignupPromoted,
    SignupWaitlisted,
)
from komerbij.notifications.entrypoints.events import ROUTED

from .conftest import Publisher, activity, deliveries_of, make_partner, notifications, settle, signup
from .receivers import MailSink, WebhookReceiver

CONTACT = "meldingen@tilburg.example"
PARTICIPANT = "deelnemer@voorbeeld.example"
ORDERER = "inkoop@welzijntilburg.example"
ADMINS = "voorraad@programmateam.example"  # ADMIN_EMAILS of notification_env
PARTNER_TYPES = ["ActivityPublished", "ActivityCancelled", "MentionRecorded", "SignupConfirmed", "SignupWaitlisted",
                 "SignupPromoted", "SignupCancelled"]


@dataclass
class Case:
    """An event and what must come of it: mails by address (subject, words in both parts), and a webhook or not."""

    make: Callable[[str, str], Event]  # (tag, partner id) -> the event
    mails: dict[str, tuple[str, list[str]]]
    webhook: bool = False
    hidden: list[str] = field(default_factory=list)  # never in the partner's mail or webhook


def _signup(cls: type, **extra: object) -> Callable[[str, str], Event]:
    def make(tag: str, partner: str) -> Event:
        base = signup(PARTICIPANT, owner_partner_id=partner).model_dump()
        return cls(**{**base, "municipality": "GM0855", "activity_title": f"Koffie {tag}"}, **extra)
    return make


def _order(cls: type, **extra: object) -> Callable[[str, str], Event]:
    def make(tag: str, partner: str) -> Event:
        return cls(order_id=f"ORD-{tag}", municipality="GM0855", edition_year=2026, status=cls.__name__[5:].lower(),
                   lines=[OrderLine(sku="POSTER-A3", quantity=20)], organisation="Welzijn Tilburg",
                   contact_email=ORDERER, **extra)
    return make


def _activity(cls: type) -> Callable[[str, str], Event]:
    return lambda tag, partner: cls(**activity("GM0855", title=f"Eettafel {tag}").model_dump())


def _mention(tag: str, partner: str) -> Event:
    return MentionRecorded(mention_id=str(uuid.uuid4()), title=f"Tilburg eet samen {tag}", url="https://rtv.example/1",
                           outlet_id="omroep-brabant", outlet_name="Omroep Brabant", medium="tv", scope="regional",
                           published_at=datetime(2026, 10, 1, 9, tzinfo=UTC), municipalities=["GM0855"])


PARTICIPANT_ONLY = ["deelnemer@voorbeeld.example", "annuleren?token="]
CASES: dict[str, Case] = {
    "ActivityPublished": Case(_activity(ActivityPublished), {CONTACT: ("Nieuwe activiteit in Tilburg: Eettafel", [
        "Eettafel", "Buurthuis De Kroon"])}, webhook=True),
    "ActivityCancelled": Case(_activity(ActivityCancelled), {CONTACT: ("Activiteit gaat niet door: Eettafel", [
        "Eettafel"])}, webhook=True),
    "MentionRecorded": Case(_mention, {CONTACT: ("In de media: Tilburg eet samen", ["Omroep Brabant"])},
                            webhook=True),
    "SignupConfirmed": Case(_signup(SignupConfirmed), {
        PARTICIPANT: ("Bevestiging van uw aanmelding: Koffie", ["Fijn dat u erbij komt", "annuleren?token="]),
        CONTACT: ("Er is een nieuwe aanmelding: Koffie", ["Koffie"])}, webhook=True, hidden=PARTICIPANT_ONLY),
    "SignupWaitlisted": Case(_signup(SignupWaitlisted, waitlist_position=4), {
        PARTICIPANT: ("U staat op de wachtlijst: Koffie", ["wachtlijst (plaats 4)", "annuleren?token="]),
        CONTACT: ("Er staat iemand nieuw op de wachtlijst: Koffie", ["Koffie"])}, webhook=True,
        hidden=PARTICIPANT_ONLY),
    "SignupPromoted": Case(_signup(SignupPromoted), {
        PARTICIPANT: ("Er is plek voor u: Koffie", ["er is plek vrijgekomen", "annuleren?token="]),
        CONTACT: ("Iemand van de wachtlijst heeft een plek gekregen: Koffie", ["Koffie"])}, webhook=True,
        hidden=PARTICIPANT_ONLY),
    "SignupCancelled": Case(_signup(SignupCancelled, reason="participant"), {
        PARTICIPANT: ("Uw aanmelding is geannuleerd: Koffie", ["Uw aanmelding is geannuleerd voor"]),
        CONTACT: ("Er is een aanmelding geannuleerd: Koffie", ["Koffie"])}, webhook=True, hidden=PARTICIPANT_ONLY),
    "SignupActivityChanged": Case(_signup(SignupActivityChanged, changed_fields=["starts_at", "ends_at"]), {
        PARTICIPANT: ("Gewijzigde tijd of plaats: Koffie", ["is gewijzigd", "annuleren?token="])}),
    "OrderPlaced": Case(_order(OrderPlaced), {ORDERER: ("Bestelling ORD-", ["ontvangen", "20 x POSTER-A3"])}),
    "OrderConfirmed": Case(_order(OrderConfirmed), {ORDERER: ("Bestelling ORD-", ["bevestigd"])}),
    "OrderRejected": Case(_order(OrderRejected, reason="out_of_stock"), {ORDERER: ("Bestelling ORD-", [
        "niet worden uitgevoerd", "niet genoeg voorraad"])}),
    "OrderPicking": Case(_order(OrderPicking), {ORDERER: ("Bestelling ORD-", ["ingepakt"])}),
    "OrderShipped": Case(_order(OrderShipped, carrier="PostNL", tracking_code="3SABC123"), {
        ORDERER: ("Bestelling ORD-", ["verzonden", "PostNL", "3SABC123"])}),
    "OrderDelivered": Case(_order(OrderDelivered), {ORDERER: ("Bestelling ORD-", ["bezorgd"])}),
    "OrderCancelled": Case(_order(OrderCancelled), {ORDERER: ("Bestelling ORD-", ["geannuleerd"])}),
    "StockLow": Case(lambda tag, partner: StockLow(sku="PLACEMAT", name=f"Placemat {tag}", stock_on_hand=40,
                                                   reserved=30, threshold=50),
                     {ADMINS: ("Voorraad laag: Placemat", ["nog 40 op voorraad", "drempel 50"])}),
}


def test_every_routed_event_has_a_case() -> None:
    assert set(CASES) == {cls.__name__ for cls in ROUTED}


@pytest_asyncio.fixture
async def svc(infra: Infra, mail: MailSink) -> AsyncIterator[RunningService]:
    async with notifications(infra, mail) as service:
        yield service


def _parts(message: EmailMessage) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


@pytest.mark.parametrize("name", list(CASES))
async def test_the_event_is_rendered_and_delivered_to_whom_it_concerns_and_nobody_else(
    infra: Infra, svc: RunningService, mail: MailSink, receiver: WebhookReceiver, publisher: Publisher, name: str
) -> None:
    case, tag = CASES[name], uuid.uuid4().hex[:6]
    hook = receiver.add("tilburg")
    partner = (await make_partner(svc.client, kind="municipality", municipality="GM0855", name="Gemeente Tilburg",
                                  contact=CONTACT, hook=(receiver.url("tilburg"), hook.secret), id=f"tilburg-{tag}",
                                  subscription={"event_types": PARTNER_TYPES, "municipalities": ["GM0855"]}))["partner"]
    event = case.make(tag, partner)
    event_id = await publisher.publish(event)
    await settle(infra, svc)

    found = await deliveries_of(svc.client, event_id)
    assert {d["status"] for d in found} == {"delivered"}, [(d["channel"], d["status"], d["last_error"]) for d in found]
    assert sorted(d["channel"] for d in found) == sorted(["email"] * len(case.mails) + ["webhook"] * case.webhook)
    # The mails of this event's deliveries (on a Kafka shared with another test run, the partner's other
    # municipality events come here too), every one the SMTP server took.
    ids = {d["message_id"] for d in found}
    ours = mail.with_message_ids(ids)
    assert sorted(a for rcpts, _ in ours for a in rcpts) == sorted(case.mails)  # each once
    assert not [m for _, m in mail.messages if m["Message-ID"] not in ids and tag in m["Subject"]], "nobody else"
    for address, (subject, words) in case.mails.items():
        [message] = [m for rcpts, m in ours if address in rcpts]
        assert message["Subject"].startswith(subject) and tag in message["Subject"], message["Subject"]
        text, html = _parts(message)
        for word in words:
            assert word in text and word in html.replace("&amp;", "&"), (address, word)
        if address == CONTACT:
            assert not [w for w in case.hidden if w in text or w in html], "a partner sees no participant details"
    if case.webhook:
        [request] = hook.of_event(event_id)
        assert request["verified"] and request["body"]["id"] == event_id and request["body"]["type"] == event.TYPE
        assert not [w for w in case.hidden if w in str(request["body"])]
    else:
        assert hook.of_event(event_id) == []
