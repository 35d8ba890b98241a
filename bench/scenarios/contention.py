"""Scenario 4, contention: K kit orders at once (one connection each) for one SKU with stock S, each from a
municipality's organiser with its own Idempotency-Key. Orders/s, latency, and the oversell count from the database:
confirmed quantity above S, plus any break of conservation (on hand + reserved + shipped = all adjustments).

In the same run, the same burst (same bodies, same gate, a client per order) against the baseline's bare
conditional `UPDATE` (`bench.baseline_app`, `POST /v1/orders`) on its own table with the same stock: the ratio is
service orders/s ÷ baseline orders/s."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
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


async def burst(url: str, requests: list[tuple[dict[str, str], dict[str, Any]]], *,
                pids: tuple[int, str], profile_name: str | None = None,
                profile: bool = False) -> tuple[list[Outcome], float, tuple[float, float], Path | None]:
    """All `requests` parked behind one gate, each with a client (one connection) of its own, released together:
    the outcomes, the wall time until the last answer, and the server's and PostgreSQL's CPU seconds meanwhile.

    One client per order, as 1,000 people would each come with their own: the connections open in the burst itself.
    (Opened beforehand, the first ones idled past uvicorn's 5 s keep-alive and were closed under the requests.)
    Separate clients, because one httpx pool of 1,000 connections costs this process more CPU per request than the
    service spends."""
    pid, database = pids
    clients = [http_client(1, timeout=60, base_url=url) for _ in range(len(requests))]
    try:
        gate = asyncio.Event()

        async def one(i: int) -> Outcome:
            await gate.wait()
            headers, body = requests[i]
            started = time.monotonic()
            try:
                resp = await clients[i].post("/v1/orders", json=body, headers=headers)
                return Outcome(i, resp.status_code, started, time.monotonic(), body=resp.json())
            except (httpx.HTTPError, OSError, ValueError) as exc:
                return Outcome(i, 0, started, time.monotonic(), error=type(exc).__name__)

        tasks = [asyncio.create_task(one(i)) for i in range(len(requests))]
        await asyncio.sleep(0.5)  # every task is parked at the gate: they start together
        profiler = Profiler(pid, profile_name, 15).start() if profile and profile_name else None
        server = Sampler(pid)
        cpu0 = (server.cpu_seconds(), database_cpu_seconds(database))
        began = time.monotonic()
        gate.set()
        outcomes = await asyncio.wait_for(asyncio.gather(*tasks), timeout=180)
        wall = time.monotonic() - began
        cpu1 = (server.cpu_seconds(), database_cpu_seconds(database))
        path = await profiler.finish() if profiler else None
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return list(outcomes), wall, (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]), path


def _statuses(outcomes: list[Outcome]) -> dict[str, int]:
    """The order statuses of the 201 answers, with the refusal's reason (`rejected:out_of_stock`)."""
    return _count(x.body["status"] + (f":{x.body['reason']}" if x.body.get("reason") else "")
                  for x in outcomes if x.status == 201)


def _numbers(outcomes: list[Outcome], wall: float, cpu: tuple[float, float]) -> dict[str, Any]:
    n = max(len(outcomes), 1)
    return {
        "wall_seconds": round(wall, 2), "orders_per_s": round(len(outcomes) / wall, 1),
        "http_statuses": _count(str(x.status) if x.status else (x.error or "error") for x in outcomes),
        "order_statuses": _statuses(outcomes),
        "latency": latency_summary(x.latency for x in outcomes if x.status == 201),
        "server_cpu_ms_per_order": round(cpu[0] * 1000 / n, 3),
        "postgres_cpu_ms_per_order": round(cpu[1] * 1000 / n, 3),
    }


async def baseline(ctx: Context, requests: list[tuple[dict[str, str], dict[str, Any]]]) -> dict[str, Any]:
    """The same burst against `bench.baseline_app`'s bare conditional UPDATE, on its own table with the same stock;
    what it sold is read back from its database (exactly the stock, no more)."""
    stock = ctx.opts.stock
    dsn = ctx.infra.new_database("bench_baseline_orders")
    with service("bench.baseline_app", service_env(ctx.infra, dsn), ctx.log_dir) as base:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("INSERT INTO skus (sku, on_hand) VALUES ($1, $2)", SKU, stock)
        finally:
            await conn.close()
        outcomes, wall, cpu, _ = await burst(base.url, requests,
                                             pids=(base.proc.pid, urlparse(dsn).path.lstrip("/")))  # type: ignore[union-attr]
    conn = await asyncpg.connect(dsn)
    try:
        on_hand = await conn.fetchval("SELECT on_hand FROM skus WHERE sku = $1", SKU)
    finally:
        await conn.close()
    result = _numbers(outcomes, wall, cpu)
    confirmed = result["order_statuses"].get("confirmed", 0)
    result.update({"on_hand_after": on_hand, "sold": stock - on_hand,
                   "sold_exactly_the_stock": stock - on_hand == confirmed == min(stock, len(requests))})
    return result


async def run(ctx: Context) -> dict[str, Any]:
    o = ctx.opts
    stock, orders = o.stock, o.orders
    codes = sorted(municipalities())
    # Quantity 1 each, spread over all municipalities: the per-municipality quota (100) never decides, stock does.
    requests = []
    for i in range(orders):
        code = codes[i % len(codes)]
        headers = auth("organiser", municipality=code, subject=f"organiser-{code}")
        headers["Idempotency-Key"] = str(uuid.uuid4())
        requests.append((headers, order_body(code)))

    base = await baseline(ctx, requests)

    dsn = ctx.infra.new_database("bench_materials")
    database = urlparse(dsn).path.lstrip("/")
    with service("komerbij.materials", service_env(ctx.infra, dsn), ctx.log_dir) as mat:
        async with http_client(1, timeout=60, base_url=mat.url) as client:  # the admin's and the catalog's
            r = await client.post(f"/v1/catalog/{SKU}/stock", json={"delta": stock, "reason": "benchmark"},
                                  headers=auth("admin", subject="bench-admin"))
            if r.status_code != 201:
                raise RuntimeError(f"stock adjustment failed: {r.status_code} {r.text[:300]}")
            outcomes, wall, cpu, profile = await burst(
                mat.url, requests, pids=(mat.proc.pid, database),  # type: ignore[union-attr]
                profile_name="contention-materials", profile=o.profile)
            catalog = {i["sku"]: i for i in (await client.get("/v1/catalog")).json()["items"]}[SKU]

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

    numbers = _numbers(outcomes, wall, cpu)
    ok = sum(1 for x in outcomes if x.status == 201)
    confirmed_api = numbers["order_statuses"].get("confirmed", 0)
    conservation_break = abs(db["on_hand"] + db["reserved"] + db["shipped"] - db["adjusted"])
    oversell = max(db["confirmed_quantity"] - stock, 0) + max(confirmed_api - stock, 0) + conservation_break \
        + abs(db["reserved"] - db["confirmed_quantity"])
    ratio = round(numbers["orders_per_s"] / base["orders_per_s"], 3) if base["orders_per_s"] else float("nan")
    results: dict[str, Any] = {
        "orders": orders, "stock": stock, "sku": SKU, **numbers,
        "database": {k: int(v) for k, v in dict(db).items()},
        "catalog_api": {k: catalog.get(k) for k in ("stock_on_hand", "reserved", "shipped")},
        "oversell": oversell, "profile": str(profile) if profile else None,
        "baseline": base, "ratio": ratio,
    }
    results["targets"] = [
        check("oversell", oversell, "==", 0),
        check("orders answered 201", ok, "==", orders),
        check("confirmed orders (all stock sold, none lost)", confirmed_api, "==", min(stock, orders)),
        check("throughput ratio (service/baseline)", ratio, ">=", 0.5),
        check("service p99 ms of the burst", numbers["latency"]["p99_ms"], "<", 1500),
        check("baseline sold exactly the stock", int(base["sold_exactly_the_stock"]), "==", 1),
    ]
    return results
