"""Business metrics: orders by status and stock per SKU (a bounded set of labels), refreshed from the database."""

from __future__ import annotations

from komerbij.materials.adapters import orders, stock
from komerbij.materials.domain.orders import STATUSES
from komerbij.runtime.service import Runtime


async def refresh_business_metrics(rt: Runtime) -> None:
    m = rt.metrics  # `gauge` hands out the same gauge on every call
    by_status = m.gauge("komerbij_orders", "Kit orders by status", ["status"])
    on_hand = m.gauge("komerbij_stock_on_hand_items", "Free stock per SKU", ["sku"])
    reserved = m.gauge("komerbij_stock_reserved_items", "Stock reserved for orders per SKU", ["sku"])
    shipped = m.gauge("komerbij_stock_shipped_items", "Stock shipped to municipalities per SKU", ["sku"])
    threshold = m.gauge("komerbij_stock_low_threshold_items", "Low-stock threshold per SKU (alerts compare)", ["sku"])
    async with rt.pool.acquire() as conn:
        counts = await orders.count_by_status(conn)
        levels = await stock.levels(conn)
        catalog = await stock.load_catalog(conn)
    bundles = {sku for sku, item in catalog.items() if item.is_bundle}
    for status in STATUSES:
        by_status.labels(status).set(counts.get(status, 0))
    for sku, r in levels.items():
        if sku in bundles:  # a bundle has no stock row of its own (always 0)
            continue
        on_hand.labels(sku).set(r["on_hand"])
        reserved.labels(sku).set(r["reserved"])
        shipped.labels(sku).set(r["shipped"])
        threshold.labels(sku).set(catalog[sku].low_stock_threshold)
