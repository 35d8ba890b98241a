"""Configuration from the environment (pydantic-settings).

A missing or invalid value stops the service at start with one line naming the variable, rather than a traceback
an operator has to read.
"""

from __future__ import annotations

import sys
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Variables every service reads. A service adds its own in a subclass (documented in the README table)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = Field(description="PostgreSQL DSN of this service's own database")
    kafka_bootstrap_servers: str = Field(description="Kafka bootstrap servers, comma separated")
    public_base_url: str = Field("http://127.0.0.1:8000", description="Base URL people use to reach this service")
    log_level: str = "INFO"
    jwt_secret: str | None = Field(None, description="HS256 secret for tokens (local use)")
    jwt_jwks_url: str | None = Field(None, description="JWKS URL of the OIDC issuer (RS256, production)")
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    retry_max_attempts: int = Field(5, ge=1, le=20)
    retry_initial_backoff_seconds: float = Field(0.2, gt=0)
    retry_max_backoff_seconds: float = Field(10.0, gt=0)
    consumer_batch_max_records: int = Field(
        500, ge=1, description="Most records a consumer takes per fetch and applies in one transaction"
    )
    consumer_batch_time_budget_seconds: float = Field(
        60.0, gt=0, description="Time a consumer spends on one batch before handing the rest back to Kafka; keep it "
        "well under Kafka's max.poll.interval.ms (300 s)"
    )
    outbox_poll_interval_seconds: float = Field(1.0, gt=0)
    outbox_batch_size: int = Field(500, ge=1)
    outbox_max_attempts: int = Field(
        5, ge=2, le=50, description="Tries of an outbox row that fails for a reason no retry fixes before it is parked"
    )
    outbox_retry_backoff_seconds: float = Field(
        1.0, gt=0, description="First wait before a failed outbox row is tried again (doubles each time, at most 5 min)"
    )
    metrics_refresh_seconds: float = Field(15.0, gt=0)
    db_pool_max_size: int = Field(10, ge=1)
    load_demo_data: bool = Field(False, description="Load demo data at start (make run sets it)")

    @model_validator(mode="after")
    def _one_way_to_check_tokens(self) -> ServiceSettings:
        if not self.jwt_secret and not self.jwt_jwks_url:
            raise ValueError("JWT_SECRET: set it (local HS256) or set JWT_JWKS_URL (RS256 via an OIDC issuer)")
        return self


class TopicSettings(BaseSettings):
    """How `komerbij topics ensure` lays topics out over the brokers.

    The defaults are production's (three brokers: a write acknowledged by `acks=all` is on at least two of them);
    `make run` and the tests run one broker and create their topics with 1 and 1.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    kafka_replication_factor: int = Field(3, ge=1, description="Replicas of every topic's partitions")
    kafka_min_insync_replicas: int = Field(
        2, ge=1, description="Replicas that must have a write before `acks=all` acknowledges it"
    )
    kafka_topic_partitions: str = Field(
        "", description="Partitions per topic where the registry's number is not wanted, e.g. media.mentions=6"
    )

    @field_validator("kafka_topic_partitions")
    @classmethod
    def _topic_equals_count(cls, value: str) -> str:
        partitions_override(value)  # raises ValueError naming what is wrong
        return value

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> TopicSettings:
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                f"KAFKA_MIN_INSYNC_REPLICAS: {self.kafka_min_insync_replicas} is more than KAFKA_REPLICATION_FACTOR "
                f"({self.kafka_replication_factor}): no write could ever be acknowledged"
            )
        return self

    @property
    def partitions(self) -> dict[str, int]:
        return partitions_override(self.kafka_topic_partitions)


def partitions_override(value: str) -> dict[str, int]:
    """`topic=count,topic=count` as a dict; only topics of the registry, each at least one partition."""
    from komerbij.contracts.topics import TOPICS

    found: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        topic, sep, count = part.partition("=")
        topic = topic.strip()
        if not sep or not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"{part!r} is not topic=partitions (a whole number, at least 1)")
        if topic not in TOPICS:
            raise ValueError(f"{topic!r} is not a topic of the registry")
        found[topic] = int(count)
    return found


S = TypeVar("S", bound=BaseSettings)


def describe_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    if err["loc"]:
        variable = str(err["loc"][0]).upper()
        return f"configuration error: {variable}: {err['msg']}"
    return f"configuration error: {err['msg'].removeprefix('Value error, ')}"


def load_settings(cls: type[S]) -> S:
    try:
        return cls()
    except ValidationError as exc:
        print(describe_error(exc), file=sys.stderr)
        raise SystemExit(2) from None
