"""The broker is Apache Kafka 4.x, and what the system relies on works against it with aiokafka 0.14: the idempotent
producer under a lost response, group commits across a restart, `komerbij topics ensure` on a bare broker."""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from support.infra import Infra
from support.kafka import read_topic

from komerbij.contracts import TOPICS
from komerbij.devtools.kafka import KafkaServer, kafka_version
from komerbij.devtools.processes import free_port
from komerbij.runtime.kafka import make_producer

pytestmark = pytest.mark.asyncio(loop_scope="module")  # the proxy serves from the module's loop
PRODUCE, FETCH, API_VERSIONS = 0, 1, 18
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


class LosingProxy:
    """A TCP proxy in front of the broker that can lose Produce responses: the broker has appended the batch, the
    producer never hears so and sends it again. The broker advertises the proxy, so every connection goes through it.

    Kafka answers a connection's requests in order, so each response is matched to its request's API key.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.upstream = 0
        self.lose = 0  # Produce responses still to lose
        self.lost = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            client_w.close()
            return
        asked: deque[int] = deque()

        async def requests() -> None:
            while frame := await _frame(client_r):
                asked.append(struct.unpack(">h", frame[4:6])[0])
                broker_w.write(frame)

        async def responses() -> None:
            while frame := await _frame(broker_r):
                if asked.popleft() == PRODUCE and self.lose:
                    self.lose -= 1
                    self.lost += 1
                    return  # the batch is in the log; the producer only sees its connection go
                client_w.write(frame)

        tasks = [asyncio.create_task(requests()), asyncio.create_task(responses())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        client_w.close()
        broker_w.close()


async def _frame(reader: asyncio.StreamReader) -> bytes:
    try:
        size = await reader.readexactly(4)
        return size + await reader.readexactly(struct.unpack(">i", size)[0])
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""


class ProxiedKafka(KafkaServer):
    """Our broker, advertising the proxy's port instead of its own."""

    def __init__(self, data_dir: Path, proxy: LosingProxy) -> None:
        super().__init__(data_dir, port=free_port(), controller_port=free_port())
        proxy.upstream = self.port
        self.proxy = proxy

    def _write_config(self) -> Path:
        config = super()._write_config()
        text = config.read_text().replace(f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                                          f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.proxy.port}")
        config.write_text(text)
        return config


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def proxied(infra: Infra) -> AsyncIterator[ProxiedKafka]:
    proxy = LosingProxy()
    await proxy.start()
    kafka = ProxiedKafka(infra.workdir / f"kafka-proxied-{uuid.uuid4().hex[:6]}", proxy)
    await asyncio.to_thread(kafka.start)
    try:
        yield kafka
    finally:
        await asyncio.to_thread(kafka.stop)
        await proxy.stop()


async def _new_topic(bootstrap: str, partitions: int) -> str:
    topic = f"t-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    return topic


async def _values(bootstrap: str, topic: str) -> list[bytes]:
    return [r.value for r in await read_topic(bootstrap, topic, until=lambda rs: True, to_end=True)]


@pytest.mark.slow
async def test_a_lost_produce_response_makes_a_plain_producer_write_twice_and_the_idempotent_one_once(
    proxied: ProxiedKafka,
) -> None:
    bootstrap = f"127.0.0.1:{proxied.proxy.port}"
    plain_topic, idempotent_topic = await _new_topic(bootstrap, 1), await _new_topic(bootstrap, 1)

    plain = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await plain.start()
    try:
        proxied.proxy.lose, proxied.proxy.lost = 1, 0
        await plain.send_and_wait(plain_topic, b"plain", key=b"k")
    finally:
        await plain.stop()
    assert proxied.proxy.lost == 1  # the fault happened: the producer had to send again
    assert await _values(bootstrap, plain_topic) == [b"plain", b"plain"]  # and without idempotence that doubles

    producer = make_producer(bootstrap, client_id="komerbij-tests")  # the outbox relay's producer
    await producer.start()
    try:
        proxied.proxy.lose, proxied.proxy.lost = 1, 0
        for i in range(10):
            await producer.send_and_wait(idempotent_topic, f"m{i}".encode(), key=b"k")
    finally:
        await producer.stop()
    assert proxied.proxy.lost == 1
    assert await _values(bootstrap, idempotent_topic) == [f"m{i}".encode() for i in range(10)]


@pytest.mark.slow
async def test_group_commits_and_a_broker_restart_keep_data(proxied: ProxiedKafka) -> None:
    bootstrap = f"127.0.0.1:{proxied.proxy.port}"
    topic, group = await _new_topic(bootstrap, 2), f"g-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for i in range(50):
            await producer.send_and_wait(topic, str(i).encode(), key=str(i % 5).encode())
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=20)
    await consumer.start()
    try:
        seen = await _consume(consumer, 20)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert len(seen) == 20

    await asyncio.to_thread(proxied.stop)
    await asyncio.to_thread(proxied.start)  # same data dir: the log and the group's committed offsets must survive

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        rest = await _consume(consumer, 30)
        end = await consumer.end_offsets([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        rest += [r for records in (await consumer.getmany(timeout_ms=500)).values() for r in records]
    finally:
        await consumer.stop()
    assert sum(end.values()) == 50
    assert len(rest) == 30  # resumes after the 20 committed: none lost, none repeated
    assert sorted(r.value for r in seen + rest) == sorted(str(i).encode() for i in range(50))


async def _consume(consumer: AIOKafkaConsumer, wanted: int, timeout: float = 60) -> list:
    found: list = []
    deadline = time.monotonic() + timeout
    while len(found) < wanted:
        assert time.monotonic() < deadline, f"{len(found)} of {wanted} records within {timeout}s"
        for records in (await consumer.getmany(timeout_ms=500, max_records=wanted - len(found))).values():
            found += records
    return found


def komerbij(*args: str) -> subprocess.CompletedProcess[str]:
    # One broker: the topic layout of `make run` (production's default is 3 replicas, min.insync 2).
    env = {**os.environ, "KAFKA_REPLICATION_FACTOR": "1", "KAFKA_MIN_INSYNC_REPLICAS": "1"}
    return subprocess.run([sys.executable, "-m", "komerbij.devtools.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.slow
async def test_topics_ensure_creates_the_registry_with_its_settings_and_is_idempotent(proxied: ProxiedKafka) -> None:
    # This broker has none of the registry's topics (the session's has them all: nothing would be created there),
    # and no other test here makes any of them.
    bootstrap = f"127.0.0.1:{proxied.proxy.port}"
    first = await asyncio.to_thread(komerbij, "--bootstrap", bootstrap, "topics", "ensure")
    second = await asyncio.to_thread(komerbij, "--bootstrap", bootstrap, "topics", "ensure")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    created = first.stdout.strip().rpartition("created now: ")[2].partition(" (replication factor")[0].split(", ")
    assert sorted(created) == sorted(TOPICS)
    assert "created now: none" in second.stdout
    partitions, retention = await _described(bootstrap)
    assert partitions == {name: topic.partitions for name, topic in TOPICS.items()}
    assert retention == {name: topic.retention_ms for name, topic in TOPICS.items()}


async def _described(bootstrap: str) -> tuple[dict[str, int], dict[str, int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(TOPICS))
        partitions = {t["topic"]: len(t["partitions"]) for t in described}
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in TOPICS])
    finally:
        await admin.close()
    retention = {}
    for response in configs:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            retention[name] = next(int(e[1]) for e in entries if e[0] == "retention.ms")
    return partitions, retention
