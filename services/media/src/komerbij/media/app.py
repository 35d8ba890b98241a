"""Wiring of the media service: the one place where its routes, handlers and jobs are put together."""

from __future__ import annotations

from komerbij.media.settings import Settings
from komerbij.runtime.service import ServiceSpec, serve

SPEC = ServiceSpec(
    name="media",
    title="komerbij media",
    description="Media mentions of the week: outlets, feeds, manual and CSV entry, coverage.",
    settings_class=Settings,
    migrations_package="komerbij.media.migrations",
    default_port=8003,
)


def main() -> None:
    serve(SPEC)
