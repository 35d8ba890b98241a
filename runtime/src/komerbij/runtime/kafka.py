"""Kafka wiring: the FastStream broker, the idempotent producer and the idempotent "ensure topics" step."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from komerbij.contracts.topics import TOPICS, Topic

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


async def ensure_topics(bootstrap: str, topics: list[Topic] | None = None) -> list[str]:
    """Create the registry's topics that are missing; returns the names created. Safe to run any number of times."""
    wanted = topics if topics is not None else list(TOPICS.values())
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="komerbij-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(t.name, t.partitions, 1, topic_configs=t.config()) for t in missing]
                )
            except TopicAlreadyExistsError:
                pass  # another process won the race; the topic is there, which is all we want
        return [t.name for t in missing]
    finally:
        await admin.close()
