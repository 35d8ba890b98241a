"""Settings of the dashboard service (environment variables; see the README's configuration table)."""

from __future__ import annotations

from pydantic import Field

from komerbij.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    public_base_url: str = "http://127.0.0.1:8005"
    consumer_group: str = Field("dashboard", description="Kafka consumer group of the read model (the rebuild "
                                "command resets this group's offsets)")
