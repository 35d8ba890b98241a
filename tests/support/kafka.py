"""Reading and writing real Kafka topics in tests, without a consumer group (nothing committed, nothing shared)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from komerbij.contracts import CloudEventAttributes, Event, to_kafka_headers


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord]], bool],
    keep: Callable[[ConsumerRecord], bool] = lambda r: True,
    timeout: float = 60.0,
    to_end: bool = False,
) -> list[ConsumerRecord]:
    """All records of `topic` from the beginning that `keep` accepts, once `until(records)` holds (and, with
    `to_end`, once everything the topic held when called has been read: for "exactly this many" checks)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, [topic])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions) if to_end else {}
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(r for r in recs if keep(r))
            if until(records) and all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                return records
        raise AssertionError(f"{topic}: condition not met within {timeout}s; {len(records)} matching records")
    finally:
        await consumer.stop()


async def partitions_of(bootstrap: str, topics: list[str]) -> list[TopicPartition]:
    """Every partition of `topics`, asked of the broker (a fresh consumer's metadata does not know them yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    found = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    assert {tp.topic for tp in found} == set(topics), f"missing topics among {topics}"
    return sorted(found)


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()
    return None


def cloudevent(event: Event, *, event_id: str | None = None, source: str = "/tests") -> tuple[bytes, list]:
    attrs = CloudEventAttributes(id=event_id or str(uuid.uuid4()), source=source, type=event.TYPE,
                                 time=datetime.now(UTC), subject=event.key)
    return event.model_dump_json().encode(), to_kafka_headers(attrs)


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes, list]]) -> None:
    """Send (key, value, headers) tuples in order and wait for all acks."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k, headers=h) for k, v, h in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def data(record: ConsumerRecord) -> dict:
    """The JSON body, or {} for the poison messages other tests leave on shared topics."""
    try:
        body = json.loads(record.value)
    except (ValueError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


async def start_group_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit the current end of `topics` for a new consumer group.

    The services read a new group's topics from the beginning (right in production). In a test run the shared topics
    already hold every earlier test's events; a service under test that should only see its own starts here instead.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, topics)
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()
