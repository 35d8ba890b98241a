"""Invariants the materials tests assert after every scenario, straight from the service's database."""

from __future__ import annotations

from typing import Any


async def assert_conservation(materials: Any) -> None:
    """on hand + reserved + shipped = all stock ever adjusted in, per SKU; reserved and shipped match the orders."""
    rows = await materials.conn_fetch(
        """SELECT s.sku, s.on_hand, s.reserved, s.shipped,
                  (SELECT coalesce(sum(delta), 0) FROM stock_adjustments a WHERE a.sku = s.sku) AS adjusted,
                  (SELECT coalesce(sum(r.quantity), 0) FROM order_reservations r JOIN orders o ON o.id = r.order_id
                   WHERE r.sku = s.sku AND o.status IN ('confirmed', 'picking')) AS held,
                  (SELECT coalesce(sum(r.quantity), 0) FROM order_reservations r JOIN orders o ON o.id = r.order_id
                   WHERE r.sku = s.sku AND o.status IN ('shipped', 'delivered')) AS sent
           FROM skus s WHERE NOT s.is_bundle"""
    )
    for r in rows:
        assert r["on_hand"] + r["reserved"] + r["shipped"] == r["adjusted"], dict(r)
        assert r["reserved"] == r["held"], dict(r)
        assert r["shipped"] == r["sent"], dict(r)
        assert min(r["on_hand"], r["reserved"], r["shipped"]) >= 0, dict(r)


async def assert_quota_matches_orders(materials: Any) -> None:
    """The quota counters are exactly the live orders' quantities (rejected and cancelled orders take none), over
    every municipality, edition and SKU that has either: a live order without its counter row fails too."""
    rows = await materials.conn_fetch(
        """WITH live AS (
               SELECT o.municipality, o.edition_year, l.sku, sum(l.quantity) AS quantity
               FROM order_lines l JOIN orders o ON o.id = l.order_id
               WHERE o.status IN ('confirmed', 'picking', 'shipped', 'delivered')
               GROUP BY 1, 2, 3)
           SELECT coalesce(q.municipality, live.municipality) AS municipality,
                  coalesce(q.edition_year, live.edition_year) AS edition_year, coalesce(q.sku, live.sku) AS sku,
                  coalesce(q.used, 0) AS used, coalesce(live.quantity, 0) AS live
           FROM quota_usage q FULL JOIN live USING (municipality, edition_year, sku)"""
    )
    for r in rows:
        assert r["used"] == r["live"], dict(r)
