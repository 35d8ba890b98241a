"""Every order mail reaches the orderer, in Dutch, at the first attempt: event on the real topic → delivery row →
SMTP (aiosmtpd) → the mail as it arrived, both parts read. The orderer is typically a municipality's contact."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from support.infra import Infra
from support.kafka import start_group_at_end
from support.services import RunningService, eventually, running, settings_env

from komerbij.contracts.events.materials import (
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderEvent,
    OrderLine,
    OrderPicking,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
)
from komerbij.contracts.events.notifications import NotificationDelivered
from komerbij.notifications.app import build_spec

from .conftest import Publisher, deliveries_of, notification_env
from .receivers import MailSink

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def svc(infra: Infra, mail: MailSink) -> AsyncIterator[RunningService]:
    env = settings_env(infra, infra.new_database("notiforders"), **notification_env(mail))
    group = f"notifications-orders-{uuid.uuid4().hex[:6]}"
    spec = build_spec(group, dispatch_interval=0.1)
    await start_group_at_end(infra.kafka_bootstrap, group, spec.events.topics)  # type: ignore[union-attr]
    async with running(spec, env) as service:
        yield service


def _order(cls: type[OrderEvent], order_id: str, address: str, **extra: Any) -> OrderEvent:
    return cls(order_id=order_id, municipality="GM0193", edition_year=2026, status=cls.__name__[5:].lower(),
               lines=[OrderLine(sku="KIT-BASIS", quantity=2), OrderLine(sku="POSTER-A3", quantity=20)],
               organisation="Gemeente Zwolle", contact_email=address, contact_phone="038 498 9111",
               wanted_by="2026-09-18", **extra)


# Per event: the subject's end and words the opening sentence must have.
EXPECTED = {
    "OrderPlaced": ("is ontvangen", "hebben uw bestelling van het Kom erbij-pakket ontvangen"),
    "OrderConfirmed": ("is bevestigd", "Kom erbij-pakket is bevestigd"),
    "OrderRejected": ("kan niet worden uitgevoerd", "kan helaas niet worden uitgevoerd"),
    "OrderPicking": ("wordt ingepakt", "wordt nu ingepakt"),
    "OrderShipped": ("is verzonden", "Kom erbij-pakket is verzonden"),
    "OrderDelivered": ("is bezorgd", "Kom erbij-pakket is bezorgd"),
    "OrderCancelled": ("is geannuleerd", "Kom erbij-pakket is geannuleerd"),
}


async def test_every_order_mail_reaches_the_orderer_once_in_dutch_at_the_first_attempt(
    svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    tag = uuid.uuid4().hex[:6]
    address = f"inkoop-{tag}@zwolle.example"
    shipped, rejected, cancelled = (f"ORD-{tag}-{n}" for n in ("A", "B", "C"))
    lifecycles = {
        shipped: [_order(OrderPlaced, shipped, address), _order(OrderConfirmed, shipped, address),
                  _order(OrderPicking, shipped, address),
                  _order(OrderShipped, shipped, address, carrier="PostNL", tracking_code="3SKOM123456789"),
                  _order(OrderDelivered, shipped, address)],
        rejected: [_order(OrderPlaced, rejected, address),
                   _order(OrderRejected, rejected, address, reason="window_closed",
                          message="De bestelperiode voor 2026 is op 1 september gesloten.")],
        cancelled: [_order(OrderPlaced, cancelled, address), _order(OrderConfirmed, cancelled, address),
                    _order(OrderCancelled, cancelled, address)],
    }
    event_ids = {order_id: [await publisher.publish(e) for e in events] for order_id, events in lifecycles.items()}
    every = [e for ids in event_ids.values() for e in ids]

    async def all_final() -> list[dict]:
        found = [d for e in every for d in await deliveries_of(svc.client, e)]
        done = len(found) == len(every) and all(d["status"] in ("delivered", "failed", "skipped") for d in found)
        return found if done else []

    found = await eventually(all_final, timeout=60)
    assert [(d["status"], d["attempts"], d["last_error"]) for d in found] == [("delivered", 1, None)] * len(every)
    assert {d["recipient"] for d in found} == {"orderer"}
    outbox = [json.loads(r["payload"]) for r in await svc.runtime.pool.fetch(
        "SELECT payload FROM outbox WHERE type = $1", NotificationDelivered.TYPE)]
    assert sorted(e["delivery_id"] for e in outbox if e["event_id"] in every) == sorted(d["id"] for d in found)

    received = mail.for_address(address)
    assert len(received) == len(every) and len({m["Message-ID"] for m in received}) == len(every)
    for order_id, events in lifecycles.items():
        mails = [m for m in received if order_id in str(m["Subject"])]
        # One mailbox, one order: its mails arrive in the order things happened to it.
        assert [str(m["Subject"]) for m in mails] == [
            f"Bestelling {order_id} {EXPECTED[type(e).__name__][0]}" for e in events]
        for event, message in zip(events, mails, strict=True):
            _assert_sane(message, event, order_id)
    shipped_mail = next(m for m in received if str(m["Subject"]).endswith(f"{shipped} is verzonden"))
    assert "Vervoerder: PostNL, track-and-trace: 3SKOM123456789" in _text(shipped_mail)
    rejected_mail = next(m for m in received if "niet worden uitgevoerd" in str(m["Subject"]))
    assert "Reden: De bestelperiode voor 2026 is op 1 september gesloten." in _text(rejected_mail)
    placed_mail = next(m for m in received if str(m["Subject"]).endswith(f"{shipped} is ontvangen"))
    assert "Gewenst vóór: vrijdag 18 september 2026" in _text(placed_mail)


def _text(message: Any, kind: str = "plain") -> str:
    return message.get_body((kind,)).get_content().replace("\r\n", "\n")


def _assert_sane(message: Any, event: OrderEvent, order_id: str) -> None:
    text, html = _text(message), _text(message, "html")
    opening = EXPECTED[type(event).__name__][1]
    assert text.startswith("Beste Gemeente Zwolle,\n\n") and opening in text and opening in html
    assert f"Bestelling: {order_id}" in text and "- 2 x KIT-BASIS\n- 20 x POSTER-A3" in text
    assert "<li>20 x POSTER-A3</li>" in html and '<html lang="nl">' in html
    assert text.rstrip().endswith("Het programmateam van de Week tegen Eenzaamheid")
    assert message["Content-Language"] == "nl" and message["List-Unsubscribe"] is None  # transactional
    for part in (text, html):
        assert not re.search(r"None|Undefined|\{\{|\{%", part), part
    assert "\n\n\n" not in text, text
