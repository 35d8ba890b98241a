"""Wiring of the materials service: the one place where its routes, handlers and jobs are put together."""

from __future__ import annotations

from komerbij.materials.settings import Settings
from komerbij.runtime.service import ServiceSpec, serve

SPEC = ServiceSpec(
    name="materials",
    title="komerbij materials",
    description="The free Kom erbij kit: catalog, stock, quotas, orders and fulfilment.",
    settings_class=Settings,
    migrations_package="komerbij.materials.migrations",
    default_port=8002,
)


def main() -> None:
    serve(SPEC)
