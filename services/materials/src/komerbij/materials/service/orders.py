"""Use cases of ordering the kit: place (idempotently), read and list.

Placement is one transaction: claim the idempotency key, then, inside a savepoint, take the municipality's quota and
reserve stock; a refusal rolls back only the savepoint and the order is recorded as rejected with its reason. Rows
are always locked in the same order (key, quota rows by SKU, stock rows by SKU) so racing orders queue, never
deadlock.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from komerbij.contracts.events.materials import (
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    OrderRejected,
)
from komerbij.materials.adapters import orders, stock
from komerbij.materials.domain.catalog import Sku, physical_quantities
from komerbij.materials.domain.edition import Edition, upcoming_edition
from komerbij.materials.domain.orders import (
    IdempotencyConflict,
    KitOrder,
    Line,
    Reason,
    RuleViolation,
    UnknownOrder,
    check_lines,
    out_of_stock_message,
    quota_message,
    window_closed_message,
)
from komerbij.materials.service.catalog import CatalogEntry, catalog_entries, stock_low
from komerbij.runtime.outbox import OutboxRows, add_event
from komerbij.runtime.service import Runtime

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class OrderRequest:
    lines: tuple[Line, ...]
    organisation: str
    attention: str | None
    street: str
    postcode: str
    city: str
    contact_email: str
    contact_phone: str | None
    wanted_by: date

    def fingerprint(self) -> str:
        """Same body, same fingerprint: what decides whether a reused Idempotency-Key is a retry or a mistake."""
        canonical = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Placement:
    order: KitOrder
    replayed: bool


class _Refused(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def local_date(now: datetime) -> date:
    return now.astimezone(AMSTERDAM).date()


async def place_order(
    rt: Runtime, *, municipality: str, actor: str, request: OrderRequest, idempotency_key: str | None,
    now: datetime, close_days: int,
) -> Placement:
    today = local_date(now)
    order_id = uuid.uuid4()
    async with rt.uow() as uow:
        conn = uow.conn
        # The key first: a retry gets the original order even if the rules changed since (the clock, the catalog).
        # A new request that then breaks a rule rolls back, and its key with it.
        if idempotency_key is not None:
            earlier = await orders.claim_key(conn, f"{municipality}:{actor}", idempotency_key,
                                             request.fingerprint(), order_id, now)
            if earlier is not None:
                if earlier["request_hash"] != request.fingerprint():
                    raise IdempotencyConflict(idempotency_key)
                found = await orders.get(conn, earlier["order_id"])
                assert found is not None, "an idempotency key always points at an order of the same transaction"
                return Placement(found, replayed=True)
        if request.wanted_by < today:
            raise RuleViolation("wanted_by", "De gewenste leverdatum ligt in het verleden.")
        catalog = await stock.load_catalog(conn)
        check_lines(request.lines, catalog)

        edition = upcoming_edition(today, close_days)
        reason: Reason | None = None
        message: str | None = None
        reserved: dict[str, _Level] = {}
        if not edition.window_open(today):
            reason, message = "window_closed", window_closed_message(edition)
        else:
            try:
                async with conn.transaction():  # a savepoint: a refusal undoes quota and reservations only
                    await _take_quota(conn, municipality, edition.year, request.lines, catalog)
                    reserved = await _reserve(conn, request.lines, catalog)
            except _Refused as refused:
                reason, message, reserved = refused.reason, refused.message, {}

        order = KitOrder(
            id=str(order_id), municipality=municipality, edition_year=edition.year,
            status="confirmed" if reason is None else "rejected", reason=reason, reason_message=message,
            lines=request.lines, organisation=request.organisation, attention=request.attention,
            street=request.street, postcode=request.postcode, city=request.city,
            contact_email=request.contact_email, contact_phone=request.contact_phone, wanted_by=request.wanted_by,
            carrier=None, tracking_code=None, created_at=now, updated_at=now,
        )
        await orders.insert(conn, order, placed_by=actor,
                            reservations={sku: lv.before - lv.after for sku, lv in reserved.items()})
        # The order's events in one pipelined write (one round trip, not one per event), in this order: placed,
        # then confirmed or rejected, then low-stock signals, so a consumer reads them in causal order.
        events = OutboxRows()
        await add_event(events, OrderPlaced(**event_fields(order, status="placed")), source=uow.source)
        if reason is None:
            await add_event(events, OrderConfirmed(**event_fields(order)), source=uow.source)
        else:
            await add_event(events, OrderRejected(**event_fields(order), reason=reason, message=message),
                            source=uow.source)
        for sku, level in reserved.items():
            low = stock_low(catalog[sku], before=level.before, after=level.after, reserved=level.reserved)
            if low is not None:
                await add_event(events, low, source=uow.source)
        await events.write(conn)
        return Placement(order, replayed=False)


async def _take_quota(
    conn: asyncpg.Connection, municipality: str, edition_year: int, lines: tuple[Line, ...], catalog: dict[str, Sku]
) -> None:
    for line in sorted(lines, key=lambda x: x.sku):
        item = catalog[line.sku]
        fits = line.quantity <= item.quota_per_municipality and await orders.take_quota(
            conn, municipality, edition_year, line.sku, line.quantity, item.quota_per_municipality
        )
        if not fits:
            used = await orders.quota_used(conn, municipality, edition_year, line.sku)
            raise _Refused("quota_exceeded", quota_message(item, edition_year, used))


@dataclass(frozen=True)
class _Level:
    before: int
    after: int
    reserved: int


async def _reserve(conn: asyncpg.Connection, lines: tuple[Line, ...], catalog: dict[str, Sku]) -> dict[str, _Level]:
    quantities = physical_quantities(((line.sku, line.quantity) for line in lines), catalog)
    levels: dict[str, _Level] = {}
    for sku, quantity in quantities.items():
        row = await stock.reserve(conn, sku, quantity)
        if row is None:
            raise _Refused("out_of_stock", out_of_stock_message(catalog[sku]))
        levels[sku] = _Level(row["on_hand"] + quantity, row["on_hand"], row["reserved"])
    return levels


def event_fields(order: KitOrder, *, status: str | None = None) -> dict[str, object]:
    """What every order event carries: the order as it stands (the contact travels for notifications)."""
    return dict(
        order_id=order.id, municipality=order.municipality, edition_year=order.edition_year,
        status=status or order.status, lines=[OrderLine(sku=li.sku, quantity=li.quantity) for li in order.lines],
        organisation=order.organisation, contact_email=order.contact_email, contact_phone=order.contact_phone,
        wanted_by=order.wanted_by,
    )


async def get_order(rt: Runtime, order_id: str) -> KitOrder:
    try:
        key = uuid.UUID(order_id)
    except ValueError:
        raise UnknownOrder(order_id) from None
    async with rt.pool.acquire() as conn:
        order = await orders.get(conn, key)
    if order is None:
        raise UnknownOrder(order_id)
    return order


async def list_orders(
    rt: Runtime, *, status: str | None, municipality: str | None, limit: int, offset: int,
    statuses: Sequence[str] | None = None, wanted_before: date | None = None, sort: orders.Sort = "created",
) -> list[KitOrder]:
    async with rt.pool.acquire() as conn:
        return await orders.search(conn, status=status, municipality=municipality, limit=limit, offset=offset,
                                   statuses=statuses, wanted_before=wanted_before, sort=sort)


@dataclass(frozen=True)
class OrderingOverview:
    """What an organiser sees before ordering: the edition and its window, the catalog with free stock, how much of
    each item the municipality has used of its quota, and its previous order (whose address fills the form)."""

    edition: Edition
    window_open: bool
    entries: list[CatalogEntry]
    quota_used: dict[str, int]
    previous: KitOrder | None

    def quota_left(self, entry: CatalogEntry) -> int:
        return max(entry.item.quota_per_municipality - self.quota_used.get(entry.item.sku, 0), 0)


async def ordering_overview(rt: Runtime, *, municipality: str, now: datetime, close_days: int) -> OrderingOverview:
    today = local_date(now)
    edition = upcoming_edition(today, close_days)
    async with rt.pool.acquire() as conn:
        entries = await catalog_entries(conn)
        used = await orders.quota_usage(conn, municipality, edition.year)
        previous = await orders.latest(conn, municipality)
    return OrderingOverview(edition, edition.window_open(today), entries, used, previous)


async def status_history(rt: Runtime, order_id: str) -> dict[str, datetime]:
    """When the order reached each status it has had (steps from before this was kept have no moment)."""
    async with rt.pool.acquire() as conn:
        return await orders.status_changes(conn, uuid.UUID(order_id))


async def ordering_municipalities(rt: Runtime) -> list[str]:
    async with rt.pool.acquire() as conn:
        return await orders.municipalities(conn)
