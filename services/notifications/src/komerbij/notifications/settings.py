"""Settings of the notifications service (environment variables; see the README's configuration table)."""

from __future__ import annotations

from datetime import time, timedelta
from typing import TYPE_CHECKING, cast

from pydantic import Field, field_validator, model_validator

from komerbij.notifications.domain.digest import parse_time_of_day
from komerbij.notifications.domain.retries import parse_duration, parse_schedule
from komerbij.runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from komerbij.runtime.service import Runtime

MIN_UNSUBSCRIBE_SECRET_BYTES = 16  # an HMAC key of 128 bits


class Settings(ServiceSettings):
    public_base_url: str = "http://127.0.0.1:8004"
    pages_base_url: str | None = Field(
        None, description="The front door's address for people: every link in a mail (activity, order, mention, "
        "preferences page) starts with it; unset, PUBLIC_BASE_URL (one address for everything, as behind an ingress)"
    )
    consumer_group: str = Field("notifications", description="Kafka consumer group of the event handlers")
    smtp_host: str = Field("127.0.0.1", description="SMTP server (make run: the local catcher)")
    smtp_port: int = Field(1025, ge=1, le=65535, description="SMTP port (make run: the local catcher)")
    smtp_username: str | None = Field(None, description="SMTP login, when the relay needs one")
    smtp_password: str | None = Field(None, description="SMTP password, when the relay needs one")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS")
    smtp_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one SMTP conversation")
    smtp_connections: int = Field(
        4, ge=1, le=32,
        description="Most SMTP connections a dispatch round sends its mails over in parallel (one per 8 deliveries)"
    )
    mail_from: str = Field(
        "Week tegen Eenzaamheid <noreply@weektegeneenzaamheid.nl>", description="Sender of every mail"
    )
    admin_emails: str = Field("", description="Comma-separated addresses that receive StockLow alerts")
    unsubscribe_secret: str | None = Field(
        None, description="Key of unsubscribe tokens and address hashes; a key of its own, at least 16 bytes "
        "(only KOMERBIJ_DEV falls back to JWT_SECRET)"
    )
    cancel_link_secret: str | None = Field(
        None, description="Key of participants' cancel links, the same in registration and notifications "
        "(falls back to JWT_SECRET)"
    )
    unsubscribe_previous_secret: str | None = Field(
        None, description="The key before the last rotation: tokens and address hashes made with it still count"
    )
    unsubscribe_token_days: int = Field(90, ge=1, le=3650, description="Days an unsubscribe link keeps working")
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="Total time one webhook request may take, its answer included"
    )
    webhook_retry_schedule: str = Field(
        "5s,5m,30m,2h,5h,10h,10h", description="Waits before each retry of a webhook (Standard Webhooks' schedule)"
    )
    mail_retry_schedule: str = Field("1m,5m,30m,2h,6h", description="Waits before each retry of an e-mail")
    retry_jitter: float = Field(0.2, ge=0, lt=1, description="Each wait is spread by ± this fraction")
    webhook_disable_after: str = Field("24h", description="Failures spanning this long disable an endpoint")
    digest_time: str = Field("08:00", description="Daily digest time, Europe/Amsterdam")
    dispatch_interval_seconds: float = Field(
        1.0, gt=0, description="Fallback poll of the dispatcher (it is woken at once when deliveries are recorded; "
        "retries falling due are found by this poll)"
    )
    dispatch_enabled: bool = Field(
        True, description="Run the dispatcher in this process; false makes a consumer-only replica"
    )
    dispatch_batch_size: int = Field(
        100, ge=1, description="Deliveries the dispatcher claims per round (claimed and recorded a round at a time; "
        "a mail that could not finish within DELIVERY_LEASE_SECONDS is not started and is retried)"
    )
    delivery_lease_seconds: float = Field(
        120.0, gt=0, description="Lease of a dispatch round's claim, on the database's clock: no send is started that "
        "could not end within it, and a send still unrecorded after it (process killed) is attempted again"
    )
    newsletter_mails_per_second: float = Field(
        5.0, gt=0, le=1000, description="Pace of the nieuwsflits over all replicas together: mails handed to the "
        "SMTP relay per second, on average (at most a second's worth at once); set it to what the relay accepts"
    )
    contact_retention_days: int = Field(30, ge=1, description="Unsubscribed contacts are erased after this long")
    event_data_retention_days: int = Field(
        14, ge=1, description="Consumed event data (participants' details) is kept this long once delivered"
    )
    delivery_log_retention_days: int = Field(90, ge=1, description="Finished deliveries and their log are kept "
                                                                   "this long (as notifications.deliveries)")

    @field_validator("webhook_retry_schedule", "mail_retry_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @field_validator("webhook_disable_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("digest_time")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        parse_time_of_day(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not (self.unsubscribe_secret or self.jwt_secret):
            raise ValueError("UNSUBSCRIBE_SECRET: set it (needed when tokens are checked through JWT_JWKS_URL)")
        if not (self.cancel_link_secret or self.jwt_secret):
            raise ValueError("CANCEL_LINK_SECRET: set it (needed when tokens are checked through JWT_JWKS_URL)")
        if self.delivery_lease_seconds <= max(self.webhook_timeout_seconds, self.smtp_timeout_seconds):
            # A lease shorter than a send would let a second dispatcher resend while the first still waits.
            raise ValueError("DELIVERY_LEASE_SECONDS: must exceed WEBHOOK_TIMEOUT_SECONDS and SMTP_TIMEOUT_SECONDS")
        return self

    def startup_errors(self) -> list[str]:
        errors = super().startup_errors()
        if self.komerbij_dev:
            return errors
        if not self.unsubscribe_secret:
            errors.append("UNSUBSCRIBE_SECRET: required, a key of its own (e.g. `openssl rand -base64 32`)")
        elif self.unsubscribe_secret == self.jwt_secret:
            errors.append("UNSUBSCRIBE_SECRET: must differ from JWT_SECRET")
        elif len(self.unsubscribe_secret.encode()) < MIN_UNSUBSCRIBE_SECRET_BYTES:
            errors.append(f"UNSUBSCRIBE_SECRET: at least {MIN_UNSUBSCRIBE_SECRET_BYTES} bytes")
        return errors

    @property
    def unsubscribe_keys(self) -> tuple[str, ...]:
        """Oldest first: the last one signs, all of them verify (and recognise erased addresses)."""
        previous = (self.unsubscribe_previous_secret,) if self.unsubscribe_previous_secret else ()
        return (*previous, self.signing_secret)

    @property
    def pages_base(self) -> str:
        return (self.pages_base_url or self.public_base_url).rstrip("/")

    @property
    def admin_addresses(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.admin_emails.split(",") if a.strip())

    @property
    def signing_secret(self) -> str:
        return self.unsubscribe_secret or self.jwt_secret or ""

    @property
    def cancel_link_key(self) -> str:
        return self.cancel_link_secret or self.jwt_secret or ""

    @property
    def webhook_schedule(self) -> tuple[timedelta, ...]:
        return parse_schedule(self.webhook_retry_schedule)

    @property
    def mail_schedule(self) -> tuple[timedelta, ...]:
        return parse_schedule(self.mail_retry_schedule)

    @property
    def disable_after(self) -> timedelta:
        return parse_duration(self.webhook_disable_after)

    @property
    def digest_at(self) -> time:
        return parse_time_of_day(self.digest_time)


def settings_of(rt: Runtime) -> Settings:
    """The runtime holds the settings as the base class; this service always starts it with its own."""
    return cast(Settings, rt.settings)
