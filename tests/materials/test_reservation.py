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


async def test_racing_mixed_orders_kits_and_cancels_never_deadlock_and_conserve_stock(materials: Materials) -> None:
    """Orders with lines in different orders and kits sharing components race with cancels and fulfilment; locks are
    always taken in one order, so PostgreSQL never has to break a deadlock (which would surface as an error here)."""
    stock = {"POSTER-A3": 300, "POSTER-A2": 120, "VLOERSTICKER": 120, "PLACEMAT": 60, "ANSICHTKAART": 120}
    for sku, n in stock.items():
        await materials.add_stock(sku, n)
    baskets = [
        [("KIT-COMPLEET", 2), ("POSTER-A3", 5)],
        [("POSTER-A3", 5), ("KIT-COMPLEET", 1), ("PLACEMAT", 2)],
        [("ANSICHTKAART", 4), ("POSTER-A2", 3), ("VLOERSTICKER", 2)],
        [("VLOERSTICKER", 2), ("ANSICHTKAART", 2), ("KIT-COMPLEET", 1)],
    ]
    codes = sorted(municipalities())[:40]
    first = await asyncio.gather(*(materials.place(code, baskets[i % 4]) for i, code in enumerate(codes)))
    placed = [(code, r.json()["id"]) for code, r in zip(codes, first, strict=True)
              if r.json()["status"] == "confirmed"]

    async def cancel(code: str, order_id: str) -> int:
        r = await materials.client.post(f"/v1/orders/{order_id}/cancel",
                                        headers=auth("organiser", municipality=code))
        return r.status_code

    async def pick(order_id: str) -> int:
        r = await materials.client.post(f"/v1/orders/{order_id}/status", json={"status": "picking"},
                                        headers=auth("fulfilment"))
        return r.status_code

    assert len(placed) >= 20
    contested, uncontested = placed[::2], placed[1::2]
    new_orders = [materials.place(code, baskets[(i + 1) % 4]) for i, code in enumerate(codes)]
    cancels = [cancel(code, order_id) for code, order_id in contested]
    picks = [pick(order_id) for _, order_id in contested]  # each races the cancel of the same order
    more_picks = [pick(order_id) for _, order_id in uncontested]

    results = await asyncio.gather(*new_orders, *cancels, *picks, *more_picks)

    n, c = len(new_orders), len(cancels)
    assert all(r.status_code == 201 for r in results[:n])
    cancel_codes, pick_codes = results[n:n + c], results[n + c:n + 2 * c]
    assert all(sorted(pair) == [200, 409] for pair in zip(cancel_codes, pick_codes, strict=True))  # one wins
    assert results[n + 2 * c:] == [200] * len(uncontested)
    await assert_conservation(materials)
    await assert_quota_matches_orders(materials)
