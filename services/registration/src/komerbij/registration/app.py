"""Wiring of the registration service: the one place where its routes, handlers and jobs are put together."""

from __future__ import annotations

from komerbij.registration.settings import Settings
from komerbij.runtime.service import ServiceSpec, serve

SPEC = ServiceSpec(
    name="registration",
    title="komerbij registration",
    description="Activities for the Week tegen Eenzaamheid, moderation, the public agenda and sign-ups.",
    settings_class=Settings,
    migrations_package="komerbij.registration.migrations",
    default_port=8001,
)


def main() -> None:
    serve(SPEC)
