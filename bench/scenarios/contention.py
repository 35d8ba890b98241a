"""Scenario 4, contention: K kit orders at once (one connection each) for one SKU with stock S, each from a
municipality's organiser with its own Idempotency-Key. Orders/s, latency, and the oversell count from the database:
confirmed quantity above S, plus any break of conservation (on hand + reserved + shipped = all adjustments)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
from support.services import auth

from bench.context import Context
from bench.harness import Profiler, Sampler, database_cpu_seconds, service, service_env
from bench.load import Outcome, http_client
from bench.stats import check, latency_summary
from komerbij.runtime.reference import municipalities

SKU = "POSTER-A3"


def order_body(code: str) -> dict[str, Any]:
    return {
        "lines": [{"sku": SKU, "quantity": 1}],
        "delivery_address": {"organisation": f"Gemeente {code}", "attention": "Team Welzijn", "street": "Amstel 1",
                             "postcode": "1011 PN", "city": "Amsterdam"},
        "contact": {"email": f"welzijn-{code.lower()}@example.org", "phone": "020-1111111"},
        "wanted_by": "2027-09-20",
    }


def _count(keys: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return counts


async def run(ctx: Context) -> dict[str, Any]:
    o = ctx.opts
    stock, orders = o.stock, o.orders
    dsn = ctx.infra.new_database("bench_materials")
    database = urlparse(dsn).path.lstrip("/")
    codes = sorted(municipalities())
    # Quantity 1 each, spread over all municipalities: the per-municipality quota (100) never decides, stock does.
    requests = []
    for i in range(orders):
        code = codes[i % len(codes)]
        headers = auth("organiser", municipality=code, subject=f"organiser-{code}")
        headers["Idempotency-Key"] = str(uuid.uuid4())
        requests.append((headers, order_body(code)))

    with service("komerbij.materials", service_env(ctx.infra, dsn), ctx.log_dir) as mat:
        # One client (one connection) per order, as 1,000 people would each come with their own: the connections
        # open in the burst itself. (Opened beforehand, the first ones idled past uvicorn's 5 s keep-alive and were
        # closed under the requests.) Separate clients, because one httpx pool of 1,000 connections costs this
        # process more CPU per request than the service spends.
        clients = [http_client(1, timeout=60, base_url=mat.url) for _ in range(orders)]
        try:
            client = http_client(1, timeout=60, base_url=mat.url)  # the admin's and the catalog's, not an order's
            clients.append(client)
            r = await client.post(f"/v1/catalog/{SKU}/stock", json={"delta": stock, "reason": "benchmark"},
                                  headers=auth("admin", subject="bench-admin"))
            if r.status_code != 201:
                raise RuntimeError(f"stock adjustment failed: {r.status_code} {r.text[:300]}")
            gate = asyncio.Event()

            async def one(i: int) -> Outcome:
                await gate.wait()
                headers, body = requests[i]
                started = time.monotonic()
                try:
                    resp = await clients[i].post("/v1/orders", json=body, headers=headers)
                    return Outcome(i, resp.status_code, started, time.monotonic(), body=resp.json())
                except (httpx.HTTPError, OSError) as exc:
                    return Outcome(i, 0, started, time.monotonic(), error=type(exc).__name__)

            tasks = [asyncio.create_task(one(i)) for i in range(orders)]
            await asyncio.sleep(0.5)  # every task is parked at the gate: they start together
            profiler = Profiler(mat.proc.pid, "contention-materials", 15).start() if o.profile else None  # type: ignore[union-attr]
            server = Sampler(mat.proc.pid)  # type: ignore[union-attr]
            cpu0 = (server.cpu_seconds(), database_cpu_seconds(database))
            began = time.monotonic()
            gate.set()
            outcomes = await asyncio.wait_for(asyncio.gather(*tasks), timeout=180)
            wall = time.monotonic() - began
            cpu1 = (server.cpu_seconds(), database_cpu_seconds(database))
            profile = await profiler.finish() if profiler else None
            catalog = {i["sku"]: i for i in (await client.get("/v1/catalog")).json()["items"]}[SKU]
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))

    conn = await asyncpg.connect(dsn)
    try:
        db = await conn.fetchrow(
            """SELECT s.on_hand, s.reserved, s.shipped,
                      (SELECT coalesce(sum(delta), 0) FROM stock_adjustments a WHERE a.sku = s.sku) AS adjusted,
                      (SELECT coalesce(sum(r.quantity), 0) FROM order_reservations r JOIN orders o ON o.id = r.order_id
                       WHERE r.sku = s.sku AND o.status IN ('confirmed', 'picking', 'shipped', 'delivered'))
                       AS confirmed_quantity,
                      (SELECT count(*) FROM orders WHERE status = 'confirmed') AS confirmed_orders,
                      (SELECT count(*) FROM orders) AS orders
               FROM skus s WHERE s.sku = $1""",
            SKU,
        )
    finally:
        await conn.close()

    ok = [x for x in outcomes if x.status == 201]
    by_status: dict[str, int] = {}
    for x in ok:
        key = x.body["status"] + (f":{x.body['reason']}" if x.body.get("reason") else "")
        by_status[key] = by_status.get(key, 0) + 1
    confirmed_api = by_status.get("confirmed", 0)
    conservation_break = abs(db["on_hand"] + db["reserved"] + db["shipped"] - db["adjusted"])
    oversell = max(db["confirmed_quantity"] - stock, 0) + max(confirmed_api - stock, 0) + conservation_break \
        + abs(db["reserved"] - db["confirmed_quantity"])
    results: dict[str, Any] = {
        "orders": orders, "stock": stock, "sku": SKU, "wall_seconds": round(wall, 2),
        "orders_per_s": round(len(outcomes) / wall, 1),
        "http_statuses": _count(str(x.status) if x.status else (x.error or "error") for x in outcomes),
        "order_statuses": by_status, "latency": latency_summary(x.latency for x in ok),
        "database": {k: int(v) for k, v in dict(db).items()},
        "catalog_api": {k: catalog.get(k) for k in ("stock_on_hand", "reserved", "shipped")},
        "server_cpu_ms_per_order": round((cpu1[0] - cpu0[0]) * 1000 / orders, 3),
        "postgres_cpu_ms_per_order": round((cpu1[1] - cpu0[1]) * 1000 / orders, 3),
        "oversell": oversell, "profile": str(profile) if profile else None,
    }
    results["targets"] = [
        check("oversell", oversell, "==", 0),
        check("orders answered 201", len(ok), "==", orders),
        check("confirmed orders (all stock sold, none lost)", confirmed_api, "==", min(stock, orders)),
    ]
    return results
