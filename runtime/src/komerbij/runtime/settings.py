"""Configuration from the environment (pydantic-settings).

A missing or invalid value stops the service at start with one line naming the variable, rather than a traceback
an operator has to read. Secrets are checked at start too (`startup_errors`): a short or well-known JWT secret is
only accepted in development (`KOMERBIJ_DEV=true`, which `make run` and docker compose set).
"""

from __future__ import annotations

import ipaddress
import sys
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The HS256 secret `make run` and docker compose give the services. Published in this repository, so a service
# outside development refuses it (`startup_errors`).
DEVELOPMENT_JWT_SECRET = "komerbij-local-development-secret-not-for-production"
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_JWT_SECRET_BYTES = 32

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """A comma-separated list of CIDRs (a bare address is its own /32 or /128); raises ValueError naming a bad one."""
    networks = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP network in CIDR notation (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


class ServiceSettings(BaseSettings):
    """Variables every service reads. A service adds its own in a subclass (documented in the README table)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = Field(description="PostgreSQL DSN of this service's own database")
    kafka_bootstrap_servers: str = Field(description="Kafka bootstrap servers, comma separated")
    public_base_url: str = Field("http://127.0.0.1:8000", description="Base URL people use to reach this service")
    log_level: str = "INFO"
    komerbij_dev: bool = Field(False, description="Development mode: accepts the development JWT secret and "
                                                  "short secrets (make run and docker compose set it)")
    jwt_secret: str | None = Field(None, description="HS256 secret for tokens (local use)")
    jwt_jwks_url: str | None = Field(None, description="JWKS URL of the OIDC issuer (RS256, production)")
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    retry_max_attempts: int = Field(5, ge=1, le=20)
    retry_initial_backoff_seconds: float = Field(0.2, gt=0)
    retry_max_backoff_seconds: float = Field(10.0, gt=0)
    consumer_batch_max_records: int = Field(
        2000, ge=1, description="Most records a consumer takes per fetch; each partition's share of them is applied "
        "in one transaction, the partitions side by side"
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
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="Largest request body a route takes unless it "
                                                                "names its own limit (uploads)")
    rate_limit_per_minute: float = Field(10.0, ge=0, description="Public writes (sign-up, cancel, unsubscribe) a "
                                                                 "client may make per minute, after its burst; 0 = "
                                                                 "no limit")
    rate_limit_burst: int = Field(20, ge=1, description="Public writes a client may make at once")
    rate_limit_exempt_networks: str = Field(
        "127.0.0.0/8,::1/128", description="Clients (CIDRs) the rate limit leaves alone: this machine's own "
        "(health checks, make run, tests, benchmarks)"
    )
    trusted_proxies: str = Field("", description="Proxies (CIDRs) whose X-Forwarded-For names the real client")
    outbound_allowed_networks: str = Field(
        "", description="Non-public networks (CIDRs) feeds and webhooks may still reach; make run and the tests "
        "open 127.0.0.0/8"
    )
    oidc_issuer: str | None = Field(
        None, description="OpenID Connect issuer people log in with on the pages (the Keycloak realm's URL); "
        "without it the pages offer no login"
    )
    oidc_client_id: str = Field("komerbij-web", description="Client id of the pages at the issuer")
    oidc_client_secret: str | None = Field(
        None, description="Client secret (confidential client); unset: a public client, PKCE only"
    )
    session_secret: str | None = Field(
        None, description="Signs the session cookie; the same value in every service behind one front door "
        "(falls back to JWT_SECRET)"
    )
    session_max_age_seconds: int = Field(8 * 3600, ge=300, description="How long a login lasts")

    @field_validator("rate_limit_exempt_networks", "trusted_proxies", "outbound_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @model_validator(mode="after")
    def _one_way_to_check_tokens(self) -> ServiceSettings:
        if not self.jwt_secret and not self.jwt_jwks_url:
            raise ValueError("JWT_SECRET: set it (local HS256) or set JWT_JWKS_URL (RS256 via an OIDC issuer)")
        if self.jwt_jwks_url and not (self.jwt_issuer and self.jwt_audience):
            # Without both, a token the issuer signed for any other application would be accepted here.
            missing = "JWT_ISSUER" if not self.jwt_issuer else "JWT_AUDIENCE"
            raise ValueError(f"{missing}: required with JWT_JWKS_URL")
        if not self.session_secret and not self.jwt_secret:
            raise ValueError("SESSION_SECRET: set it (needed when tokens are checked through JWT_JWKS_URL only)")
        return self

    @property
    def session_key(self) -> str:
        return self.session_secret or self.jwt_secret or ""

    def startup_errors(self) -> list[str]:
        """What must stop a service at start, though each value is well-formed: secrets fit only for development.

        A subclass adds its own (and calls this). Not a validator, so code that builds settings for a unit test
        need not invent production-grade secrets.
        """
        if self.komerbij_dev or not self.jwt_secret:
            return []
        if self.jwt_secret == DEVELOPMENT_JWT_SECRET:
            return ["JWT_SECRET: the development secret is public; set a secret of your own (or KOMERBIJ_DEV=true "
                    "on a development machine)"]
        if len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            return [f"JWT_SECRET: at least {MIN_JWT_SECRET_BYTES} bytes (e.g. `openssl rand -base64 48`)"]
        return []

    @property
    def outbound_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.outbound_allowed_networks)

    @property
    def proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def rate_limit_exempt(self) -> tuple[Network, ...]:
        return parse_networks(self.rate_limit_exempt_networks)


class ConfigurationError(ValueError):
    """A setting that must stop the service; the message is one line naming the variable."""


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
        return f"configuration error: {variable}: {err['msg'].removeprefix('Value error, ')}"
    return f"configuration error: {err['msg'].removeprefix('Value error, ')}"


def check_startup(settings: ServiceSettings) -> None:
    errors = settings.startup_errors()
    if errors:
        raise ConfigurationError(f"configuration error: {errors[0]}")


def load_settings(cls: type[S]) -> S:
    try:
        settings = cls()
        if isinstance(settings, ServiceSettings):  # topic layout and Kafka client settings have no secrets
            check_startup(settings)
    except ValidationError as exc:
        print(describe_error(exc), file=sys.stderr)
        raise SystemExit(2) from None
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    return settings
