"""Wiring of the notifications service: the one place where its routes, handlers and jobs are put together."""

from __future__ import annotations

from komerbij.notifications.settings import Settings
from komerbij.runtime.service import ServiceSpec, serve

SPEC = ServiceSpec(
    name="notifications",
    title="komerbij notifications",
    description="Partners and participants told what concerns them, by e-mail or signed webhook.",
    settings_class=Settings,
    migrations_package="komerbij.notifications.migrations",
    default_port=8004,
)


def main() -> None:
    serve(SPEC)
