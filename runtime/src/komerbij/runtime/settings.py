"""Configuration from the environment (pydantic-settings).

A missing or invalid value stops the service at start with one line naming the variable, rather than a traceback
an operator has to read.
"""

from __future__ import annotations

import sys
from typing import TypeVar

from pydantic import Field, ValidationError, model_validator
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
    metrics_refresh_seconds: float = Field(15.0, gt=0)
    db_pool_max_size: int = Field(10, ge=1)
    load_demo_data: bool = Field(False, description="Load demo data at start (make run sets it)")
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

    @model_validator(mode="after")
    def _one_way_to_check_tokens(self) -> ServiceSettings:
        if not self.jwt_secret and not self.jwt_jwks_url:
            raise ValueError("JWT_SECRET: set it (local HS256) or set JWT_JWKS_URL (RS256 via an OIDC issuer)")
        if not self.session_secret and not self.jwt_secret:
            raise ValueError("SESSION_SECRET: set it (needed when tokens are checked through JWT_JWKS_URL only)")
        return self

    @property
    def session_key(self) -> str:
        return self.session_secret or self.jwt_secret or ""


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
