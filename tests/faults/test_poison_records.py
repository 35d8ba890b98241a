"""The matrix's own parts, without a running system: the poison records are really poison (a case that injected
something harmless would pass for the wrong reason), and the expected deliveries follow the product's rules."""

from __future__ import annotations

import json
import uuid

import pytest

from komerbij.contracts import EVENT_TYPES, CloudEventAttributes, from_kafka_headers, to_kafka_headers

from .invariants import expected_deliveries
from .poison import KINDS, _template
from .system import MUNICIPALITY

TOPICS = ["registration.activities", "registration.signups", "materials.orders", "materials.stock", "media.mentions"]


def _spoilt(kind: str, topic: str) -> tuple[bytes, list[tuple[str, bytes | None]]]:
    event, field = _template(topic, "t")
    headers = list(to_kafka_headers(CloudEventAttributes(id=str(uuid.uuid4()), source="/t", type=event.TYPE)))
    return KINDS[kind](event.model_dump_json().encode(), headers, field)


@pytest.mark.parametrize("topic", TOPICS)
def test_every_template_is_a_valid_event_of_a_type_notifications_routes(topic: str) -> None:
    from komerbij.notifications.entrypoints.events import ROUTED

    event, _ = _template(topic, "t")
    assert topic == event.TOPIC and type(event) in ROUTED
    assert type(event).model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize("topic", TOPICS)
def test_the_header_poison_leaves_the_body_valid_and_spoils_one_attribute(topic: str) -> None:
    body, headers = _spoilt("null-header", topic)
    assert dict(headers)["ce_id"] is None
    body2, headers2 = _spoilt("non-utf8-header", topic)
    with pytest.raises(UnicodeDecodeError):
        dict(headers2)["ce_type"].decode()  # type: ignore[union-attr]
    for value in (body, body2):
        json.loads(value)  # only the headers are wrong


@pytest.mark.parametrize("topic", TOPICS)
@pytest.mark.parametrize("kind", ["huge-integer", "deep-nesting"])
def test_the_body_poison_cannot_be_read_by_pythons_json_and_keeps_valid_headers(kind: str, topic: str) -> None:
    body, headers = _spoilt(kind, topic)
    with pytest.raises((ValueError, RecursionError)):
        json.loads(body)
    assert from_kafka_headers([(k, v) for k, v in headers if v is not None]).type in EVENT_TYPES


def test_expected_deliveries_follow_the_rules_written_in_the_matrix() -> None:
    partner = {("webhook", "partner"), ("email", "partner")}
    here, elsewhere = {"municipality": MUNICIPALITY}, {"municipality": "GM0599"}
    participant = {("email", "participant")}
    assert expected_deliveries("SignupConfirmed", {**here, "email": "a@b.example"}) == participant | partner
    assert expected_deliveries("SignupCancelled", {**here, "email": "a@b.example"}) == participant
    assert expected_deliveries("SignupConfirmed", {**elsewhere, "email": None}) == set()
    assert expected_deliveries("OrderShipped", {"contact_email": "c@d.example"}) == {("email", "orderer")}
    assert expected_deliveries("ActivityPublished", here) == partner
    assert expected_deliveries("MentionRecorded", {"municipalities": ["GM0599", MUNICIPALITY]}) == partner
    assert expected_deliveries("MentionRecorded", {"municipalities": []}) == set()
    assert expected_deliveries("StockLow", {}) == {("email", "admins")}
