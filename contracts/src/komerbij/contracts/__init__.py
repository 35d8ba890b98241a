"""Event contracts shared by every komerbij service.

This package imports nothing else of the project: it is what services agree on, so it must be installable alone.
"""

from komerbij.contracts.envelope import CloudEventAttributes, from_kafka_headers, header_pairs, to_kafka_headers
from komerbij.contracts.events import EVENT_TYPES, Event, event_class
from komerbij.contracts.topics import TOPICS, Topic, dlq_of

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "CloudEventAttributes",
    "Event",
    "Topic",
    "dlq_of",
    "event_class",
    "from_kafka_headers",
    "header_pairs",
    "to_kafka_headers",
]
