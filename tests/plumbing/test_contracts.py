"""Contracts: committed JSON Schemas stay compatible, CloudEvents headers round-trip, topics are bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, create_model

from komerbij.contracts import TOPICS, CloudEventAttributes, from_kafka_headers, to_kafka_headers
from komerbij.contracts.events import ALL_EVENTS
from komerbij.contracts.events.base import Event
from komerbij.contracts.schemas import breaking_changes, file_name, schema_of
from komerbij.contracts.topics import DAY_MS, dlq_of

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "schemas"


def committed(type_name: str) -> dict:
    return json.loads((SCHEMAS / file_name(type_name)).read_text())


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.__name__)
def test_every_event_has_a_committed_schema_its_model_still_satisfies(cls: type[Event]) -> None:
    path = SCHEMAS / file_name(cls.TYPE)
    assert path.exists(), f"run `make schemas` and commit {path.name}"
    assert breaking_changes(committed(cls.TYPE), schema_of(cls)) == []


def test_every_committed_schema_belongs_to_a_model() -> None:
    # Deleting a model whose type is published would strand its consumers.
    assert {p.name for p in SCHEMAS.glob("*.json")} == {file_name(c.TYPE) for c in ALL_EVENTS}


def test_type_names_are_versioned_and_unique() -> None:
    names = [c.TYPE for c in ALL_EVENTS]
    assert len(names) == len(set(names))
    assert all(n.startswith("nl.komerbij.") and n.rsplit(".", 1)[1].startswith("v") for n in names)


class _Venue(BaseModel):
    name: str
    postcode: str


class _VenueRenamed(BaseModel):
    name: str
    zip: str


_FIELDS: dict[str, Any] = {
    "thing_id": (str, ...),
    "title": (str, ...),
    "capacity": (int | None, None),
    "venue": (_Venue, ...),
}


def _model(drop: tuple[str, ...] = (), **changes: Any) -> type[Event]:
    """A version of one event model, as a developer editing it would make it."""
    fields = {k: v for k, v in {**_FIELDS, **changes}.items() if k not in drop}
    model = create_model("Thing", __base__=Event, **fields)
    model.TYPE, model.TOPIC, model.KEY_FIELD = "nl.komerbij.test.thing.v1", "registration.activities", "thing_id"
    return model


@pytest.mark.parametrize(
    ("drop", "changes", "expected"),
    [
        (("title",), {}, "title: field removed or renamed"),
        ((), {"title": (int, ...)}, "title: type changed"),
        ((), {"capacity": (int, ...)}, "capacity: optional field made required"),
        ((), {"organiser": (str, ...)}, "organiser: new required field"),
        ((), {"venue": (_VenueRenamed, ...)}, "venue.postcode: field removed or renamed"),
    ],
)
def test_compatibility_check_catches_each_kind_of_breaking_change(drop: tuple, changes: dict, expected: str) -> None:
    """A test of the test: each deliberate breaking change must be reported."""
    assert expected in breaking_changes(schema_of(_model()), schema_of(_model(drop, **changes)))


def test_compatibility_check_allows_an_added_optional_field() -> None:
    assert breaking_changes(schema_of(_model()), schema_of(_model(note=(str | None, None)))) == []


def test_cloudevents_attributes_travel_as_binary_mode_headers() -> None:
    attrs = CloudEventAttributes(id="e-1", source="/komerbij/registration", type="nl.komerbij.x.v1",
                                 time=datetime(2027, 10, 1, 12, tzinfo=UTC), subject="a-1", correlationid="c-1")
    headers = to_kafka_headers(attrs)
    names = {k for k, _ in headers}
    assert {"ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject", "ce_correlationid",
            "content-type"} <= names
    assert dict(headers)["content-type"] == b"application/json"
    assert from_kafka_headers(headers) == attrs
    with pytest.raises(ValueError, match="ce_type"):
        from_kafka_headers([(k, v) for k, v in headers if k != "ce_type"])


def test_topic_registry_has_a_dlq_per_consumed_topic_and_bounds_personal_data() -> None:
    for name in ("registration.activities", "registration.signups", "materials.orders", "materials.stock",
                 "media.mentions", "notifications.deliveries"):
        assert name in TOPICS
    for topic in [t for t in TOPICS.values() if t.consumed]:
        assert dlq_of(topic.name) in TOPICS
    for topic in [t for t in TOPICS.values() if t.personal_data]:
        assert topic.retention_ms <= 90 * DAY_MS, topic.name
    assert TOPICS["registration.signups"].personal_data
    assert TOPICS["registration.signups.dlq"].retention_ms == TOPICS["registration.signups"].retention_ms
