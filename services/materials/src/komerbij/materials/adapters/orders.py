"""SQL for kit orders, their reservations, the municipalities' quota usage and idempotency keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

import asyncpg

from komerbij.materials.domain.orders import KitOrder, Line

_COLUMNS = """o.id, o.municipality, o.edition_year, o.status, o.reason, o.reason_message, o.organisation,
              o.attention, o.street, o.postcode, o.city, o.contact_email, o.contact_phone, o.wanted_by, o.carrier,
              o.tracking_code, o.created_at, o.updated_at,
              (SELECT coalesce(array_agg(ARRAY[l.sku, l.quantity::text] ORDER BY l.sku), '{}')
               FROM order_lines l WHERE l.order_id = o.id) AS lines"""


def _order(r: asyncpg.Record) -> KitOrder:
    return KitOrder(
        id=str(r["id"]), municipality=r["municipality"], edition_year=r["edition_year"], status=r["status"],
        reason=r["reason"], reason_message=r["reason_message"],
        lines=tuple(Line(sku, int(n)) for sku, n in r["lines"]), organisation=r["organisation"],
        attention=r["attention"], street=r["street"], postcode=r["postcode"], city=r["city"],
        contact_email=r["contact_email"], contact_phone=r["contact_phone"], wanted_by=r["wanted_by"],
        carrier=r["carrier"], tracking_code=r["tracking_code"], created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


async def insert(conn: asyncpg.Connection, order: KitOrder, placed_by: str,
                 reservations: dict[str, int] | None = None) -> None:
    """The order, its lines, its first status changes and what it holds in stock, in one statement: one round trip
    instead of four while the order's stock row is locked (every order of a burst for one SKU queues on it). The
    foreign keys of the child rows are checked at the end of the statement, after the order row exists."""
    order_id = uuid.UUID(order.id)
    closed_at = order.created_at if order.status == "rejected" else None
    held = reservations or {}
    await conn.execute(
        """WITH o AS (
             INSERT INTO orders (id, municipality, edition_year, status, reason, reason_message, organisation,
                                 attention, street, postcode, city, contact_email, contact_phone, wanted_by,
                                 placed_by, created_at, updated_at, closed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17)
             RETURNING id, created_at
           ), lines AS (
             INSERT INTO order_lines (order_id, sku, quantity)
             SELECT o.id, l.sku, l.quantity FROM o, unnest($18::text[], $19::int[]) AS l(sku, quantity)
           ), held AS (
             INSERT INTO order_reservations (order_id, sku, quantity)
             SELECT o.id, r.sku, r.quantity FROM o, unnest($20::text[], $21::int[]) AS r(sku, quantity)
           )
           INSERT INTO order_status_changes (order_id, status, changed_at)
           SELECT o.id, s.status, o.created_at FROM o, unnest(ARRAY['placed', $4]) AS s(status)""",
        order_id, order.municipality, order.edition_year, order.status, order.reason,
        order.reason_message, order.organisation, order.attention, order.street, order.postcode, order.city,
        order.contact_email, order.contact_phone, order.wanted_by, placed_by, order.created_at, closed_at,
        [line.sku for line in order.lines], [line.quantity for line in order.lines],
        list(held), list(held.values()),
    )


async def get(conn: asyncpg.Connection, order_id: uuid.UUID, *, for_update: bool = False) -> KitOrder | None:
    lock = " FOR UPDATE OF o" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM orders o WHERE o.id = $1{lock}", order_id)
    return _order(row) if row else None


Sort = Literal["created", "newest", "wanted_by"]
_ORDER_BY: dict[str, str] = {"created": "o.created_at, o.id", "newest": "o.created_at DESC, o.id",
                             "wanted_by": "o.wanted_by, o.created_at, o.id"}


async def search(
    conn: asyncpg.Connection, *, status: str | None, municipality: str | None, limit: int, offset: int,
    statuses: Sequence[str] | None = None, wanted_before: date | None = None, sort: Sort = "created",
) -> list[KitOrder]:
    """`status` is one status (the API's filter); `statuses` any of several (the warehouse's "to do")."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM orders o
            WHERE ($1::text IS NULL OR o.status = $1) AND ($2::text IS NULL OR o.municipality = $2)
              AND ($5::text[] IS NULL OR o.status = ANY($5)) AND ($6::date IS NULL OR o.wanted_by <= $6)
            ORDER BY {_ORDER_BY[sort]} LIMIT $3 OFFSET $4""",
        status, municipality, limit, offset, list(statuses) if statuses is not None else None, wanted_before,
    )
    return [_order(r) for r in rows]


async def latest(conn: asyncpg.Connection, municipality: str) -> KitOrder | None:
    """The organisation's most recent order: where the next one most likely goes too."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM orders o WHERE o.municipality = $1 ORDER BY o.created_at DESC, o.id LIMIT 1",
        municipality,
    )
    return _order(row) if row else None


async def municipalities(conn: asyncpg.Connection) -> list[str]:
    """The municipalities that have ordered (the warehouse's filter)."""
    return [r["municipality"] for r in await conn.fetch("SELECT DISTINCT municipality FROM orders ORDER BY 1")]


async def status_changes(conn: asyncpg.Connection, order_id: uuid.UUID) -> dict[str, datetime]:
    rows = await conn.fetch("SELECT status, changed_at FROM order_status_changes WHERE order_id = $1", order_id)
    return {r["status"]: r["changed_at"] for r in rows}


async def set_status(
    conn: asyncpg.Connection, order_id: uuid.UUID, status: str, now: datetime, *, closes: bool,
    carrier: str | None = None, tracking_code: str | None = None,
) -> None:
    await conn.execute(
        """UPDATE orders SET status = $2, updated_at = $3,
                  closed_at = CASE WHEN $4 THEN $3 ELSE closed_at END,
                  carrier = coalesce($5, carrier), tracking_code = coalesce($6, tracking_code)
           WHERE id = $1""",
        order_id, status, now, closes, carrier, tracking_code,
    )
    await conn.execute(
        """INSERT INTO order_status_changes (order_id, status, changed_at) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""",
        order_id, status, now,
    )


async def reservations(conn: asyncpg.Connection, order_id: uuid.UUID) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT sku, quantity FROM order_reservations WHERE order_id = $1 ORDER BY sku", order_id
    )
    return {r["sku"]: r["quantity"] for r in rows}


async def take_quota(
    conn: asyncpg.Connection, municipality: str, edition_year: int, sku: str, quantity: int, quota: int
) -> bool:
    """Count `quantity` against the quota if it still fits. The row lock of the upsert serialises a municipality's
    parallel orders, and the WHERE is evaluated on the latest committed value."""
    used = await conn.fetchval(
        """INSERT INTO quota_usage AS q (municipality, edition_year, sku, used) VALUES ($1, $2, $3, $4)
           ON CONFLICT (municipality, edition_year, sku) DO UPDATE SET used = q.used + EXCLUDED.used
           WHERE q.used + EXCLUDED.used <= $5
           RETURNING used""",
        municipality, edition_year, sku, quantity, quota,
    )
    return used is not None


async def quota_used(conn: asyncpg.Connection, municipality: str, edition_year: int, sku: str) -> int:
    used = await conn.fetchval(
        "SELECT used FROM quota_usage WHERE municipality = $1 AND edition_year = $2 AND sku = $3",
        municipality, edition_year, sku,
    )
    return used or 0


async def quota_usage(conn: asyncpg.Connection, municipality: str, edition_year: int) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT sku, used FROM quota_usage WHERE municipality = $1 AND edition_year = $2", municipality, edition_year
    )
    return {r["sku"]: r["used"] for r in rows}


async def give_back_quota(
    conn: asyncpg.Connection, municipality: str, edition_year: int, lines: Sequence[Line]
) -> None:
    for line in sorted(lines, key=lambda x: x.sku):
        await conn.execute(
            """UPDATE quota_usage SET used = used - $4
               WHERE municipality = $1 AND edition_year = $2 AND sku = $3""",
            municipality, edition_year, line.sku, line.quantity,
        )


async def claim_key(
    conn: asyncpg.Connection, scope: str, key: str, request_hash: str, order_id: uuid.UUID, now: datetime
) -> asyncpg.Record | None:
    """Claim an idempotency key for a new order. Returns None when claimed now; otherwise the earlier claim.

    A parallel request with the same key waits on the primary key until the first commits (and then sees its row)
    or rolls back (and then claims the key itself), so ten parallel retries make exactly one order."""
    claimed = await conn.fetchval(
        """INSERT INTO idempotency_keys (scope, key, request_hash, order_id, created_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING order_id""",
        scope, key, request_hash, order_id, now,
    )
    if claimed is not None:
        return None
    return await conn.fetchrow(
        "SELECT request_hash, order_id FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key
    )


async def purge_keys(conn: asyncpg.Connection, older_than: datetime) -> int:
    result = await conn.execute("DELETE FROM idempotency_keys WHERE created_at < $1", older_than)
    return int(result.split()[-1])


async def purge_contacts(conn: asyncpg.Connection, closed_before: datetime, now: datetime) -> int:
    result = await conn.execute(
        """UPDATE orders SET contact_email = NULL, contact_phone = NULL, attention = NULL, contact_purged_at = $2
           WHERE closed_at < $1 AND contact_purged_at IS NULL""",
        closed_before, now,
    )
    return int(result.split()[-1])


async def count_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*)::int AS n FROM orders GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def picklist(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT o.id, o.municipality, o.organisation, o.attention, o.street, o.postcode, o.city, o.wanted_by,
                  l.sku, s.name, s.unit, l.quantity,
                  (SELECT string_agg(c.quantity * l.quantity || ' × ' || c.component, '; ' ORDER BY c.component)
                   FROM bundle_components c WHERE c.bundle = l.sku) AS contents
           FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN skus s ON s.sku = l.sku
           WHERE o.status = 'confirmed' ORDER BY o.wanted_by, o.created_at, o.id, s.position"""
    )
