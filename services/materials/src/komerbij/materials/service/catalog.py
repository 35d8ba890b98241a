"""Use cases of the catalog: what is on offer and in stock, and the programme team's stock adjustments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from komerbij.contracts.events.materials import StockAdjusted, StockLow
from komerbij.materials.adapters import stock
from komerbij.materials.domain.catalog import Sku, UnknownSku, crossed_below, kits_available
from komerbij.materials.domain.orders import RuleViolation
from komerbij.runtime.service import Runtime, UnitOfWork


@dataclass(frozen=True)
class CatalogEntry:
    item: Sku
    stock_on_hand: int
    reserved: int
    shipped: int

    @property
    def low(self) -> bool:
        return self.stock_on_hand < self.item.low_stock_threshold


async def catalog(rt: Runtime) -> list[CatalogEntry]:
    async with rt.pool.acquire() as conn:
        return await catalog_entries(conn)


async def catalog_entries(conn: asyncpg.Connection) -> list[CatalogEntry]:
    items = await stock.load_catalog(conn)
    level = await stock.levels(conn)
    bundles = await stock.bundle_reserved(conn)
    on_hand = {sku: r["on_hand"] for sku, r in level.items()}
    entries = []
    for item in items.values():
        if item.is_bundle:
            entries.append(CatalogEntry(item, kits_available(item, on_hand), bundles.get(item.sku, 0), 0))
        else:
            r = level[item.sku]
            entries.append(CatalogEntry(item, r["on_hand"], r["reserved"], r["shipped"]))
    return entries


async def adjust_stock(rt: Runtime, sku: str, delta: int, reason: str, actor: str, now: datetime,
                       actor_name: str | None = None) -> CatalogEntry:
    async with rt.uow() as uow:
        items = await stock.load_catalog(uow.conn)
        item = items.get(sku)
        if item is None:
            raise UnknownSku(sku)
        if item.is_bundle:
            raise RuleViolation("sku", "Een pakket heeft geen eigen voorraad; pas de voorraad van de onderdelen aan.")
        row = await stock.adjust(uow.conn, sku, delta)
        if row is None:
            free = (await stock.levels(uow.conn))[sku]["on_hand"]
            raise RuleViolation(
                "delta", f"Er zijn nog maar {free} vrij op voorraad; gereserveerde voorraad hoort bij bestellingen.",
                title="Niet genoeg voorraad",
            )
        await stock.record_adjustment(uow.conn, sku, delta, reason, actor, row["on_hand"], now, actor_name)
        await uow.emit(StockAdjusted(sku=sku, name=item.name, stock_on_hand=row["on_hand"],
                                     reserved=row["reserved"], delta=delta, reason=reason))
        await emit_if_low(uow, item, before=row["on_hand"] - delta, after=row["on_hand"], reserved=row["reserved"])
        return next(e for e in await catalog_entries(uow.conn) if e.item.sku == sku)


def stock_low(item: Sku, *, before: int, after: int, reserved: int) -> StockLow | None:
    """The StockLow signal when this change crossed the item's threshold. `before` and `after` come from the row
    this transaction holds locked, so of two racing orders exactly one sees the crossing."""
    if not crossed_below(before, after, item.low_stock_threshold):
        return None
    return StockLow(sku=item.sku, name=item.name, stock_on_hand=after, reserved=reserved,
                    threshold=item.low_stock_threshold)


async def emit_if_low(uow: UnitOfWork, item: Sku, *, before: int, after: int, reserved: int) -> None:
    low = stock_low(item, before=before, after=after, reserved=reserved)
    if low is not None:
        await uow.emit(low)


async def adjustment_history(rt: Runtime, sku: str | None, limit: int) -> list[asyncpg.Record]:
    """The audit trail of one item, or (`sku` None) of all of them, newest first."""
    async with rt.pool.acquire() as conn:
        if sku is not None and sku not in await stock.load_catalog(conn):
            raise UnknownSku(sku)
        return await stock.adjustments(conn, sku, limit)
