"""Settings of the notifications service (environment variables; see the README's configuration table)."""

from __future__ import annotations

from komerbij.runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    public_base_url: str = "http://127.0.0.1:8004"
