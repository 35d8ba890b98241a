"""The guarantees under concurrency, through the HTTP API on real PostgreSQL: no overselling, quotas hold across a
municipality's parallel orders, and one Idempotency-Key makes one order however often it is retried."""

from __future__ import annotations

import asyncio
import uuid

from support.services import auth

from komerbij.runtime.reference import municipalities
from materials.checks import assert_conservation, assert_quota_matches_orders
from materials.harness import Materials, order_body


async def test_two_hundred_concurrent_orders_for_fifty_posters_confirm_exactly_fifty(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 50)
    codes = sorted(municipalities())[:200]

    results = await asyncio.gather(*(materials.place(code, [("POSTER-A3", 1)]) for code in codes))

    assert all(r.status_code == 201 for r in results), {r.status_code for r in results}
    bodies = [r.json() for r in results]
    confirmed = [b for b in bodies if b["status"] == "confirmed"]
    rejected = [b for b in bodies if b["status"] == "rejected"]
    assert len(confirmed) == 50
    assert len(rejected) == 150
    assert {b["reason"] for b in rejected} == {"out_of_stock"}
    assert all("niet genoeg voorraad van Poster A3" in b["message"] for b in rejected)
    item = (await materials.catalog())["POSTER-A3"]
    assert (item["stock_on_hand"], item["reserved"]) == (0, 50)
    await assert_conservation(materials)
    # Stock went from 50 (at the threshold) to below it once: exactly one StockLow, however the orders raced.
    low = await materials.conn_fetch("SELECT key FROM outbox WHERE type = 'nl.komerbij.materials.stock.low.v1'")
    assert [r["key"] for r in low] == ["POSTER-A3"]


async def test_parallel_orders_of_one_municipality_never_exceed_its_quota(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 1000)  # plenty: only the quota (100 per municipality) can say no

    results = await asyncio.gather(*(materials.place("GM0363", [("POSTER-A3", 30)]) for _ in range(12)))

    bodies = [r.json() for r in results]
    confirmed = [b for b in bodies if b["status"] == "confirmed"]
    assert len(confirmed) == 3  # 3 × 30 = 90 ≤ 100; a fourth would make 120
    assert {b["reason"] for b in bodies if b["status"] == "rejected"} == {"quota_exceeded"}
    other = await materials.order("GM0599", [("POSTER-A3", 30)])
    assert other["status"] == "confirmed"  # another municipality has its own quota
    assert (await materials.catalog())["POSTER-A3"]["reserved"] == 120
    await assert_quota_matches_orders(materials)
    await assert_conservation(materials)


async def test_the_quota_counts_all_earlier_orders_of_the_municipality(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 1000)
    assert (await materials.order("GM0363", [("POSTER-A3", 45)]))["status"] == "confirmed"
    assert (await materials.order("GM0363", [("POSTER-A3", 45)]))["status"] == "confirmed"

    third = await materials.order("GM0363", [("POSTER-A3", 20), ("PLACEMAT", 1)])

    assert third["status"] == "rejected"
    assert third["reason"] == "quota_exceeded"
    assert "al 90 van de 100" in third["message"] and "nog 10 bij" in third["message"]
    assert (await materials.order("GM0363", [("POSTER-A3", 10)]))["status"] == "confirmed"
    await assert_quota_matches_orders(materials)
    await assert_conservation(materials)


async def test_ten_parallel_retries_with_one_idempotency_key_make_one_order(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    key = str(uuid.uuid4())

    results = await asyncio.gather(*(materials.place("GM0363", [("POSTER-A3", 10)], key=key) for _ in range(10)))

    assert [r.status_code for r in results] == [201] * 10
    assert len({r.json()["id"] for r in results}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in results) == 9
    assert len(await materials.conn_fetch("SELECT id FROM orders")) == 1
    assert (await materials.catalog())["POSTER-A3"]["reserved"] == 10
    placed = await materials.conn_fetch("SELECT id FROM outbox WHERE type = 'nl.komerbij.materials.order.placed.v1'")
    assert len(placed) == 1


async def test_the_same_key_with_a_different_body_is_a_conflict(materials: Materials) -> None:
    await materials.add_stock("POSTER-A3", 100)
    key = str(uuid.uuid4())
    first = await materials.order("GM0363", [("POSTER-A3", 10)], key=key)

    conflict = await materials.place("GM0363", [("POSTER-A3", 11)], key=key)
    retry = await materials.place("GM0363", [("POSTER-A3", 10)], key=key)

    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in conflict.json()["title"]
    assert retry.status_code == 201 and retry.json()["id"] == first["id"]
    assert len(await materials.conn_fetch("SELECT id FROM orders")) == 1


async def test_a_key_is_scoped_to_the_caller_so_another_organiser_gets_an_order_of_their_own(
    materials: Materials,
) -> None:
    await materials.add_stock("POSTER-A3", 100)
    key = str(uuid.uuid4())
    mine = await materials.order("GM0363", key=key)
    headers = {**auth("organiser", municipality="GM0599"), "Idempotency-Key": key}
    theirs = await materials.client.post("/v1/orders", json=order_body(), headers=headers)
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine["id"]
