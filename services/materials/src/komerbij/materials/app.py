"""Wiring of the materials service: the one place where its routes, handlers and jobs are put together."""

from __future__ import annotations

from komerbij.contracts.events.materials import EVENTS
from komerbij.materials.demo import load_demo_data
from komerbij.materials.entrypoints.api import catalog, fulfilment, orders
from komerbij.materials.entrypoints.jobs import JOBS
from komerbij.materials.entrypoints.metrics import refresh_business_metrics
from komerbij.materials.entrypoints.pages import my_orders, ordering, stock, warehouse
from komerbij.materials.settings import Settings
from komerbij.runtime.service import ServiceSpec, serve

SPEC = ServiceSpec(
    name="materials",
    title="komerbij materials",
    description="The free Kom erbij kit: catalog, stock, quotas, orders and fulfilment.",
    settings_class=Settings,
    migrations_package="komerbij.materials.migrations",
    routers=[catalog.router, orders.router, fulfilment.router, ordering.router, my_orders.router, warehouse.router,
             stock.router],
    publishes=list(EVENTS),
    jobs=JOBS,
    refreshers=[refresh_business_metrics],
    on_start=[load_demo_data],
    default_port=8002,
)


def main() -> None:
    serve(SPEC)
