"""The broker is Apache Kafka 4.x, and what the system relies on works against it with aiokafka 0.14."""

from __future__ import annotations

import asyncio
import struct
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from support.infra import Infra, own_kafka, run_sync

from komerbij.devtools.kafka import kafka_version

FETCH, API_VERSIONS = 1, 18
SHARE_GROUP_APIS = {76, 77, 78, 79}  # KIP-932 share groups: Apache Kafka 4.x
STREAMS_GROUP_HEARTBEAT = 88  # KIP-1071: Apache Kafka 4.1 and later


async def api_versions(bootstrap: str) -> dict[int, tuple[int, int]]:
    """Send a raw ApiVersions v0 request: the broker's own answer, not a client library's interpretation."""
    host, port = bootstrap.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    client_id = b"komerbij-test"
    header = struct.pack(">hhih", API_VERSIONS, 0, 7, len(client_id)) + client_id
    writer.write(struct.pack(">i", len(header)) + header)
    await writer.drain()
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    payload = await reader.readexactly(size)
    writer.close()
    correlation_id, error_code, count = struct.unpack(">ihi", payload[:10])
    assert (correlation_id, error_code) == (7, 0)
    versions = {}
    for i in range(count):
        key, low, high = struct.unpack(">hhh", payload[10 + 6 * i : 16 + 6 * i])
        versions[key] = (low, high)
    return versions


async def test_broker_answers_as_apache_kafka_4(infra: Infra) -> None:
    versions = await api_versions(infra.kafka_bootstrap)
    # Kafka 4.0 dropped Fetch v0-v3 (KIP-896); 4.x brokers answer the share-group and streams-group APIs.
    assert versions[FETCH][0] >= 4, versions[FETCH]
    assert versions.keys() >= SHARE_GROUP_APIS
    assert STREAMS_GROUP_HEARTBEAT in versions
    assert kafka_version().startswith("4.")
    if infra.kafka is not None:  # our own broker: the process runs the jar Maven resolved
        classpath = infra.kafka.proc.args[infra.kafka.proc.args.index("-cp") + 1]  # type: ignore[union-attr]
        assert (Path(classpath.removesuffix("*")) / f"kafka_2.13-{kafka_version()}.jar").is_file()


@pytest.mark.slow
def test_idempotent_producer_group_commits_and_restart_keep_data(infra: Infra) -> None:
    with own_kafka(infra.workdir) as kafka:
        topic, group = f"t-{uuid.uuid4().hex[:6]}", f"g-{uuid.uuid4().hex[:6]}"

        async def produce_and_consume_half() -> int:
            admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
            await admin.start()
            await admin.create_topics([NewTopic(topic, 2, 1)])
            await admin.close()
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=True)
            await producer.start()
            for i in range(50):
                await producer.send_and_wait(topic, str(i).encode(), key=str(i % 5).encode())
            await producer.stop()
            consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka.bootstrap, group_id=group,
                                        enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=20)
            await consumer.start()
            seen: list[bytes] = []
            while len(seen) < 20:
                for records in (await consumer.getmany(timeout_ms=1000, max_records=20 - len(seen))).values():
                    seen += [r.value for r in records]
            await consumer.commit()
            await consumer.stop()
            return len(seen)

        async def consume_rest() -> tuple[int, int]:
            consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka.bootstrap, group_id=group,
                                        enable_auto_commit=False, auto_offset_reset="earliest")
            await consumer.start()
            rest: list[bytes] = []
            for _ in range(30):
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    rest += [r.value for r in records]
                if len(rest) >= 30:
                    break
            end = await consumer.end_offsets([TopicPartition(topic, 0), TopicPartition(topic, 1)])
            await consumer.stop()
            return len(rest), sum(end.values())

        assert run_sync(produce_and_consume_half()) == 20
        kafka.stop()
        kafka.start()  # same data dir: the log and the group's committed offsets must survive
        rest, total = run_sync(consume_rest())
        assert total == 50
        assert rest == 30  # resumes after the 20 committed, none lost, none repeated
