"""Settings of the registration service (environment variables; see the README's configuration table)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pydantic import Field, model_validator

from komerbij.runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from komerbij.runtime.service import Runtime


class Settings(ServiceSettings):
    public_base_url: str = "http://127.0.0.1:8001"
    cancel_link_secret: str | None = Field(
        None, description="Key of participants' cancel links, the same in registration and notifications "
        "(falls back to JWT_SECRET)"
    )

    @model_validator(mode="after")
    def _cancel_links_need_a_key(self) -> Settings:
        if not (self.cancel_link_secret or self.jwt_secret):
            raise ValueError("CANCEL_LINK_SECRET: set it (needed when tokens are checked through JWT_JWKS_URL)")
        return self

    @property
    def cancel_link_key(self) -> str:
        return self.cancel_link_secret or self.jwt_secret or ""


def settings_of(rt: Runtime) -> Settings:
    """The runtime holds the settings as the base class; this service always starts it with its own."""
    return cast(Settings, rt.settings)
