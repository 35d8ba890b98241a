"""Records Kafka accepts and no healthy producer writes, put on the consumed topics in the middle of the load.

Each starts from a valid event of a type notifications routes (so it gets past the type lookup) and is spoilt one
way: a null `ce_id` header, a `ce_type` header that is not UTF-8, a 5000-digit integer in the body (Python's `int`
refuses more than 4300 digits), a body nested 100 000 deep (more than the parser's recursion allows). Its key names
the case and the kind, so its dead letter can be found and counted; its addresses start with `poison-`, so an effect
of one that was applied anyway would show.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from aiokafka import AIOKafkaProducer

from komerbij.contracts import CloudEventAttributes, Event, to_kafka_headers
from komerbij.contracts.events.materials import OrderLine, OrderPlaced, StockLow
from komerbij.contracts.events.media import MentionRecorded
from komerbij.contracts.events.newsletter import NewsletterProgress, NewsletterSent
from komerbij.contracts.events.registration import ActivityPublished, SignupConfirmed, Venue

from .invariants import Poison
from .system import MUNICIPALITY

Headers = list[tuple[str, bytes | None]]
STARTS = datetime(2027, 10, 1, 12, 0, tzinfo=UTC)


def _template(topic: str, label: str) -> tuple[Event, str]:
    """A valid event for `topic` and the name of one of its integer (or list) fields."""
    if topic == "registration.activities":
        return ActivityPublished(
            activity_id=str(uuid.uuid4()), edition_year=2027, title=f"poison {label}", category="eettafel",
            starts_at=STARTS, ends_at=STARTS + timedelta(hours=2), municipality=MUNICIPALITY, province=None,
            online=False, venue=Venue(name="Gif", street="Gifweg 1", postcode="1011 AA", city="Amsterdam"),
        ), "edition_year"
    if topic == "registration.signups":
        signup = str(uuid.uuid4())
        return SignupConfirmed(
            signup_id=signup, activity_id=str(uuid.uuid4()), activity_title=f"poison {label}", starts_at=STARTS,
            ends_at=STARTS + timedelta(hours=2), municipality=MUNICIPALITY, location="Gifweg 1, Amsterdam",
            name="Gif", email=f"poison-{label}@faults.example", phone=None, party_size=1,
            cancel_url=f"http://registration.faults.test/v1/signups/{signup}/cancel",
        ), "party_size"
    if topic == "materials.orders":
        return OrderPlaced(
            order_id=str(uuid.uuid4()), municipality=MUNICIPALITY, edition_year=2027, status="placed",
            lines=[OrderLine(sku="POSTER-A3", quantity=1)], organisation="Gif",
            contact_email=f"poison-{label}@faults.example", wanted_by=date(2027, 9, 20),
        ), "edition_year"
    if topic == "materials.stock":
        return StockLow(sku="POSTER-A3", name="Poster A3", stock_on_hand=1, reserved=0, threshold=50), "threshold"
    if topic == "media.mentions":
        return MentionRecorded(
            mention_id=str(uuid.uuid4()), title=f"poison {label}", url=None, outlet_id=str(uuid.uuid4()),
            outlet_name="Gif", medium="print", scope="regional", published_at=STARTS, municipalities=[MUNICIPALITY],
        ), "municipalities"
    if topic == "media.newsletters":
        return NewsletterSent(
            edition_id=str(uuid.uuid4()), number=1, title=f"poison {label}", intro="Gif", sent_at=STARTS,
            body_html="<p>Gif</p>", body_text="Gif",
        ), "number"
    if topic == "notifications.newsletters":
        return NewsletterProgress(edition_id=str(uuid.uuid4()), total=1, sent=0, at=STARTS), "total"
    raise ValueError(f"no template for {topic}")


def _null_ce_id(body: bytes, headers: Headers, field: str) -> tuple[bytes, Headers]:
    return body, [(k, None if k == "ce_id" else v) for k, v in headers]


def _non_utf8_ce_type(body: bytes, headers: Headers, field: str) -> tuple[bytes, Headers]:
    return body, [(k, b"\xff\xfe" + (v or b"") if k == "ce_type" else v) for k, v in headers]


def _huge_integer(body: bytes, headers: Headers, field: str) -> tuple[bytes, Headers]:
    data = json.loads(body)
    marker = "__HUGE__"
    data[field] = [marker] if isinstance(data[field], list) else marker
    return json.dumps(data).replace(f'"{marker}"', "1" + "0" * 4999).encode(), headers


def _deep_nesting(body: bytes, headers: Headers, field: str) -> tuple[bytes, Headers]:
    return b"[" * 100_000 + b"]" * 100_000, headers


KINDS: dict[str, Callable[[bytes, Headers, str], tuple[bytes, Headers]]] = {
    "null-header": _null_ce_id,
    "non-utf8-header": _non_utf8_ce_type,
    "huge-integer": _huge_integer,
    "deep-nesting": _deep_nesting,
}


async def inject(bootstrap: str, label: str, kind: str, topics: list[str]) -> list[Poison]:
    """One record of `kind` on each of `topics`, acknowledged by Kafka before this returns."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    sent: list[Poison] = []
    try:
        for topic in topics:
            event, field = _template(topic, label)
            attrs = CloudEventAttributes(id=str(uuid.uuid4()), source="/faults/poison", type=event.TYPE,
                                         subject=event.key)
            headers: Headers = list(to_kafka_headers(attrs))
            body, headers = KINDS[kind](event.model_dump_json().encode(), headers, field)
            key = f"poison-{label}-{kind}".encode()
            await producer.send_and_wait(topic, value=body, key=key, headers=headers)
            sent.append(Poison(topic, key, kind))
    finally:
        await producer.stop()
    return sent
