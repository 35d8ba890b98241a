"""Dead letters: what a consumer could not process, kept on `<topic>.dlq` with the reason, and replayed on demand.

The value and the CloudEvents headers are kept unchanged; `dlq_*` headers add the error class and message, where the
message came from (topic, partition, offset), the consumer group and the number of attempts. Replay strips the
`dlq_*` headers and publishes the message back to its origin, once: the replayer's own consumer group remembers how
far it got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from komerbij.contracts.topics import dlq_of
from komerbij.runtime.kafka import client_settings, make_producer

log = logging.getLogger(__name__)
PREFIX = "dlq_"
REPLAY_GROUP = "komerbij-dlq-replay"


def describe(exc: BaseException) -> str:
    """The reason, without echoing input values (a pydantic message would repeat e-mail addresses)."""
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors(include_input=False)]
        return "; ".join(parts)[:1000]
    return str(exc)[:1000]


def dead_letter_headers(
    record: ConsumerRecord, *, error_class: str, error_message: str, group: str, attempts: int
) -> list[tuple[str, bytes]]:
    original = [(k, v) for k, v in (record.headers or ()) if not k.startswith(PREFIX)]
    extra = {
        "error_class": error_class,
        "error_message": error_message[:1000],
        "topic": record.topic,
        "partition": str(record.partition),
        "offset": str(record.offset),
        "group": group,
        "attempts": str(attempts),
        "at": datetime.now(UTC).isoformat(),
    }
    return original + [(PREFIX + k, v.encode()) for k, v in extra.items()]


def header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode(errors="replace")
    return None


async def replay(bootstrap: str, topic: str, *, idle_timeout: float = 5.0) -> int:
    """Publish the dead letters of `topic` back to where they came from; returns how many were replayed."""
    dlq = dlq_of(topic)
    consumer = AIOKafkaConsumer(
        dlq, bootstrap_servers=bootstrap, group_id=REPLAY_GROUP, enable_auto_commit=False,
        auto_offset_reset="earliest", **client_settings().client_options(),
    )
    producer = make_producer(bootstrap, client_id="komerbij-dlq-replay")
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        partitions = [TopicPartition(dlq, p) for p in (consumer.partitions_for_topic(dlq) or ())]
        end = await consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + idle_timeout
        while True:
            positions = {tp: await consumer.position(tp) for tp in consumer.assignment()}
            if consumer.assignment() and all(positions[tp] >= end.get(tp, 0) for tp in positions):
                break
            if asyncio.get_running_loop().time() > deadline:
                break
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    headers = list(record.headers or ())
                    origin = header(headers, PREFIX + "topic") or topic
                    clean = [(k, v) for k, v in headers if not k.startswith(PREFIX)]
                    await producer.send_and_wait(origin, value=record.value, key=record.key, headers=clean)
                    replayed += 1
                deadline = asyncio.get_running_loop().time() + idle_timeout
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    log.info("dead letters replayed", extra={"topic": topic, "count": replayed})
    return replayed
