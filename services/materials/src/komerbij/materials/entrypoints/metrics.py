"""Business metrics: orders by status and stock per SKU (a bounded set of labels), refreshed from the database."""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakKeyDictionary

from prometheus_client import Gauge

from komerbij.materials.adapters import orders, stock
from komerbij.materials.domain.orders import STATUSES
from komerbij.runtime.metrics import Metrics
from komerbij.runtime.service import Runtime


@dataclass(frozen=True)
class _Gauges:
    orders: Gauge
    on_hand: Gauge
    reserved: Gauge
    shipped: Gauge


# One set per runtime (tests run several services in one process, each with its own registry).
_registered: WeakKeyDictionary[Metrics, _Gauges] = WeakKeyDictionary()


def _gauges(metrics: Metrics) -> _Gauges:
    if metrics not in _registered:
        _registered[metrics] = _Gauges(
            orders=metrics.gauge("komerbij_orders", "Kit orders by status", ["status"]),
            on_hand=metrics.gauge("komerbij_stock_on_hand_items", "Free stock per SKU", ["sku"]),
            reserved=metrics.gauge("komerbij_stock_reserved_items", "Stock reserved for orders per SKU", ["sku"]),
            shipped=metrics.gauge("komerbij_stock_shipped_items", "Stock shipped to municipalities per SKU", ["sku"]),
        )
    return _registered[metrics]


async def refresh_business_metrics(rt: Runtime) -> None:
    g = _gauges(rt.metrics)
    async with rt.pool.acquire() as conn:
        counts = await orders.count_by_status(conn)
        levels = await stock.levels(conn)
        bundles = {sku for sku, item in (await stock.load_catalog(conn)).items() if item.is_bundle}
    for status in STATUSES:
        g.orders.labels(status).set(counts.get(status, 0))
    for sku, r in levels.items():
        if sku in bundles:
            continue
        g.on_hand.labels(sku).set(r["on_hand"])
        g.reserved.labels(sku).set(r["reserved"])
        g.shipped.labels(sku).set(r["shipped"])
