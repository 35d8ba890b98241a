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
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from prometheus_client import CollectorRegistry
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from komerbij.contracts.topics import TOPICS, Topic
from komerbij.runtime.settings import TopicSettings, load_settings

log = logging.getLogger(__name__)
GRACEFUL_TIMEOUT_SECONDS = 30.0


class KafkaClientSettings(BaseSettings):
    """How every Kafka client of the process connects: plain on a developer's machine, SASL (SCRAM) over TLS in a
    cluster, as the KafkaUser the operator made for the service (deploy/k8s). Read by each client maker rather than
    held in ServiceSettings, so the `komerbij` commands (topics, dlq replay) connect the same way."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", case_sensitive=False)

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = Field(None, description="CA bundle that signed the brokers' certificates")

    @model_validator(mode="after")
    def _credentials(self) -> KafkaClientSettings:
        if self.security_protocol.startswith("SASL") and not (self.sasl_username and self.sasl_password):
            raise ValueError("KAFKA_SASL_USERNAME: set it and KAFKA_SASL_PASSWORD for KAFKA_SECURITY_PROTOCOL="
                             f"{self.security_protocol}")
        return self

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.uses_ssl:
            options["ssl_context"] = create_ssl_context(cafile=self.ssl_cafile)
        if self.security_protocol.startswith("SASL"):
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password)
        return options

    def broker_security(self) -> BaseSecurity | None:
        """The same for FastStream's broker, which takes a security object instead."""
        ssl_context = create_ssl_context(cafile=self.ssl_cafile) if self.uses_ssl else None
        if self.security_protocol == "PLAINTEXT":
            return None
        if self.security_protocol == "SSL":
            return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
        sasl = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
        return sasl[self.sasl_mechanism](str(self.sasl_username), str(self.sasl_password), ssl_context=ssl_context,
                                         use_ssl=self.uses_ssl)


def client_settings() -> KafkaClientSettings:
    return load_settings(KafkaClientSettings)


def make_broker(bootstrap: str, *, service: str, registry: CollectorRegistry) -> KafkaBroker:
    """The broker that runs this service's subscribers; topics come from `ensure_topics`, never auto-created."""
    return KafkaBroker(
        bootstrap,
        security=client_settings().broker_security(),
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
        **client_settings().client_options(),
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
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="komerbij-topics",
                                **client_settings().client_options())
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
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="komerbij-topics",
                                **client_settings().client_options())
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
