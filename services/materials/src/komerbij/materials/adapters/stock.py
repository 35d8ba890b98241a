"""SQL for the catalog and its stock. Every change is one conditional UPDATE, so concurrent transactions serialise
on the SKU row and a condition that fails leaves the row untouched (no read-then-write race)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from komerbij.materials.domain.catalog import Sku


async def load_catalog(conn: asyncpg.Connection) -> dict[str, Sku]:
    rows = await conn.fetch(
        """SELECT s.sku, s.name, s.description, s.unit, s.max_per_order, s.quota_per_municipality,
                  s.low_stock_threshold,
                  coalesce(array_agg(ARRAY[c.component, c.quantity::text] ORDER BY c.component)
                           FILTER (WHERE c.component IS NOT NULL), '{}') AS components
           FROM skus s LEFT JOIN bundle_components c ON c.bundle = s.sku
           GROUP BY s.sku ORDER BY s.position"""
    )
    return {
        r["sku"]: Sku(
            r["sku"], r["name"], r["description"], r["unit"], r["max_per_order"], r["quota_per_municipality"],
            r["low_stock_threshold"], tuple((part, int(n)) for part, n in r["components"]),
        )
        for r in rows
    }


async def levels(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT sku, on_hand, reserved, shipped FROM skus ORDER BY position")
    return {r["sku"]: r for r in rows}


async def bundle_reserved(conn: asyncpg.Connection) -> dict[str, int]:
    """Bundles held by orders that still hold stock (bundles have no stock row of their own)."""
    rows = await conn.fetch(
        """SELECT l.sku, sum(l.quantity)::int AS n FROM order_lines l
           JOIN orders o ON o.id = l.order_id JOIN skus s ON s.sku = l.sku
           WHERE s.is_bundle AND o.status IN ('confirmed', 'picking') GROUP BY l.sku"""
    )
    return {r["sku"]: r["n"] for r in rows}


async def reserve(conn: asyncpg.Connection, sku: str, quantity: int) -> asyncpg.Record | None:
    """Move `quantity` from free to reserved if that much is free; returns the levels after, or None."""
    return await conn.fetchrow(
        """UPDATE skus SET on_hand = on_hand - $2, reserved = reserved + $2
           WHERE sku = $1 AND on_hand >= $2 AND NOT is_bundle RETURNING on_hand, reserved""",
        sku, quantity,
    )


async def release(conn: asyncpg.Connection, sku: str, quantity: int) -> None:
    await conn.execute(
        "UPDATE skus SET on_hand = on_hand + $2, reserved = reserved - $2 WHERE sku = $1", sku, quantity
    )


async def ship(conn: asyncpg.Connection, sku: str, quantity: int) -> None:
    await conn.execute(
        "UPDATE skus SET reserved = reserved - $2, shipped = shipped + $2 WHERE sku = $1", sku, quantity
    )


async def adjust(conn: asyncpg.Connection, sku: str, delta: int) -> asyncpg.Record | None:
    """Add (or remove) free stock; None when removing more than is free (reserved stock belongs to orders)."""
    return await conn.fetchrow(
        """UPDATE skus SET on_hand = on_hand + $2
           WHERE sku = $1 AND on_hand + $2 >= 0 AND NOT is_bundle RETURNING on_hand, reserved""",
        sku, delta,
    )


async def record_adjustment(
    conn: asyncpg.Connection, sku: str, delta: int, reason: str, actor: str, on_hand_after: int, now: datetime,
    actor_name: str | None = None,
) -> int:
    return await conn.fetchval(
        """INSERT INTO stock_adjustments (sku, delta, reason, actor, on_hand_after, created_at, actor_name)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
        sku, delta, reason, actor, on_hand_after, now, actor_name,
    )


async def adjustments(conn: asyncpg.Connection, sku: str | None, limit: int) -> list[asyncpg.Record]:
    """Newest first; `sku` None: of every item (the programme team's page)."""
    return await conn.fetch(
        """SELECT id, sku, delta, reason, actor, on_hand_after, created_at, actor_name FROM stock_adjustments
           WHERE ($1::text IS NULL OR sku = $1) ORDER BY id DESC LIMIT $2""",
        sku, limit,
    )
