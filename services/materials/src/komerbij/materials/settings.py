"""Settings of the materials service (environment variables; see the README's configuration table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from komerbij.runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from komerbij.runtime.service import Runtime


class Settings(ServiceSettings):
    public_base_url: str = "http://127.0.0.1:8002"
    order_window_close_days: int = Field(
        14, ge=0, le=365, description="Days before the edition starts on which the order window closes"
    )
    idempotency_key_ttl_hours: int = Field(
        48, ge=24, description="How long Idempotency-Keys of POST /v1/orders are kept (at least 24 h)"
    )
    contact_retention_days: int = Field(
        30, ge=1, description="Days after an order is delivered, cancelled or rejected before its contact is purged"
    )


def settings_of(rt: Runtime) -> Settings:
    """The runtime holds the settings as its base class; this service always starts with its own `Settings`."""
    assert isinstance(rt.settings, Settings)
    return rt.settings
