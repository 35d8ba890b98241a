"""Kafka wiring: the FastStream broker, the idempotent producer and the idempotent "ensure topics" step.

`acks=all` only protects a write if the topic has more than one replica and `min.insync.replicas` above one: the
replication factor and `min.insync.replicas` of every topic come from configuration (`TopicSettings`), 3 and 2 in
production, 1 and 1 on the single broker of `make run` and the tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from komerbij.contracts.topics import TOPICS, Topic
from komerbij.runtime.settings import TopicSettings

log = logging.getLogger(__name__)
GRACEFUL_TIMEOUT_SECONDS = 30.0


def make_broker(bootstrap: str, *, service: str, registry: CollectorRegistry) -> KafkaBroker:
    """The broker that runs this service's subscribers; topics come from `ensure_topics`, never auto-created."""
    return KafkaBroker(
        bootstrap,
        client_id=f"komerbij-{service}",
        graceful_timeout=GRACEFUL_TIMEOUT_SECONDS,
        allow_auto_create_topics=False,
        enable_idempotence=True,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=service, metrics_prefix="komerbij")],
        logger=logging.getLogger(f"komerbij.{service}.broker"),
        log_level=logging.DEBUG,  # its "Received"/"Processed" per message; errors and dead letters stay loud
    )


def make_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    # Idempotence implies acks=all and keeps per-partition order across the producer's own retries.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=15000,
    )


@dataclass(frozen=True)
class TopicLayout:
    """How topics are spread over the brokers: replicas, `min.insync.replicas`, and partition counts that differ
    from the registry's. The default is one broker's (what `make run` and the tests start); `komerbij topics ensure`
    builds the layout from configuration (`TopicSettings`: production's 3 and 2 unless told otherwise)."""

    replication_factor: int = 1
    min_insync_replicas: int = 1
    partitions: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: TopicSettings) -> TopicLayout:
        return cls(settings.kafka_replication_factor, settings.kafka_min_insync_replicas, settings.partitions)

    def partitions_of(self, topic: Topic) -> int:
        return self.partitions.get(topic.name, topic.partitions)

    def new_topic(self, topic: Topic) -> NewTopic:
        config = {**topic.config(), "min.insync.replicas": str(self.min_insync_replicas)}
        return NewTopic(topic.name, self.partitions_of(topic), self.replication_factor, topic_configs=config)


class TooFewBrokers(RuntimeError):
    """The layout asks for more replicas than the cluster has brokers."""


async def ensure_topics(
    bootstrap: str, topics: list[Topic] | None = None, layout: TopicLayout | None = None, *,
    broker_wait: float = 30.0,
) -> list[str]:
    """Create the registry's topics that are missing; returns the names created. Safe to run any number of times.

    Existing topics are left as they are (`topic_drift` says where they differ from the layout): more partitions
    would move keys to other partitions, and more replicas need a reassignment an operator plans.
    """
    wanted = topics if topics is not None else list(TOPICS.values())
    layout = layout or TopicLayout()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="komerbij-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            await _wait_for_brokers(admin, layout.replication_factor, broker_wait)
            try:
                await admin.create_topics([layout.new_topic(t) for t in missing])
            except TopicAlreadyExistsError:
                pass  # another process won the race; the topic is there, which is all we want
        return [t.name for t in missing]
    finally:
        await admin.close()


async def _wait_for_brokers(admin: AIOKafkaAdminClient, wanted: int, timeout: float) -> None:
    """Brokers of a cluster that is starting register one by one (compose starts the topics job when each answers,
    not when all have joined): wait a little for as many as the replication factor asks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (brokers := len((await admin.describe_cluster())["brokers"])) < wanted:
        if loop.time() > deadline:
            raise TooFewBrokers(
                f"KAFKA_REPLICATION_FACTOR is {wanted} but the cluster has {brokers} broker(s) after {timeout:.0f} s; "
                "for a single broker set KAFKA_REPLICATION_FACTOR=1 and KAFKA_MIN_INSYNC_REPLICAS=1"
            )
        await asyncio.sleep(1.0)


async def topic_drift(bootstrap: str, layout: TopicLayout, topics: list[Topic] | None = None) -> list[str]:
    """Where existing topics differ from the layout (partitions, replicas, min.insync.replicas), one line each."""
    wanted = {t.name: t for t in (topics if topics is not None else TOPICS.values())}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="komerbij-topics")
    await admin.start()
    try:
        existing = sorted(set(await admin.list_topics()) & set(wanted))
        if not existing:
            return []
        described = {t["topic"]: t["partitions"] for t in await admin.describe_topics(existing)}
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in existing])
    finally:
        await admin.close()
    insync = {resource[3]: value for response in responses for resource in response.resources
              for name, value, *_ in resource[4] if name == "min.insync.replicas"}
    drift = []
    for name in existing:
        partitions = described[name]
        replicas = min(len(p["replicas"]) for p in partitions)
        if len(partitions) != layout.partitions_of(wanted[name]):
            drift.append(f"{name}: {len(partitions)} partitions, configured {layout.partitions_of(wanted[name])}")
        if replicas != layout.replication_factor:
            drift.append(f"{name}: replication factor {replicas}, configured {layout.replication_factor}")
        if insync.get(name) != str(layout.min_insync_replicas):
            drift.append(f"{name}: min.insync.replicas {insync.get(name)}, configured {layout.min_insync_replicas}")
    return drift
