"""Scenario 1, the sign-up API: N sign-ups over A activities from C concurrent clients (closed loop), against the
registration service and, in the same run, against the bare FastAPI + asyncpg baseline (`bench.baseline_app`)."""

from __future__ import annotations

import os
import random
import time
import uuid
from typing import Any
from urllib.parse import urlparse

import httpx

from bench import fixtures
from bench.context import Context
from bench.harness import Profiler, Sampler, database_cpu_seconds, service, service_env
from bench.load import closed_loop
from bench.stats import check, latency_summary


async def _measure(ctx: Context, url: str, pid: int, database: str, activities: list[str], tag: str,
                   profile_name: str | None = None) -> dict[str, Any]:
    """Warm-up (not counted), then the measured closed loop; CPU of server and client over the measured part."""
    o = ctx.opts
    rng = random.Random(9)  # the same activity sequence for service and baseline
    picks = [rng.randrange(len(activities)) for _ in range(o.signups + o.warmup)]


    async def request(client: httpx.AsyncClient, i: int) -> tuple[int, Any]:
        r = await client.post(f"{url}/v1/activities/{activities[picks[i]]}/signups", json=fixtures.signup_body(tag, i))
        return r.status_code, None

    async def measured(client: httpx.AsyncClient, i: int) -> tuple[int, Any]:
        return await request(client, i + o.warmup)

    await closed_loop(request, total=o.warmup, concurrency=o.clients, max_seconds=o.seconds)
    server = Sampler(pid)
    me = Sampler(os.getpid())
    cpu0 = (server.cpu_seconds(), me.cpu_seconds(), database_cpu_seconds(database))
    switches0 = server.proc.num_ctx_switches()
    profiler = Profiler(pid, profile_name, o.profile_seconds).start() if profile_name else None
    run = await closed_loop(measured, total=o.signups, concurrency=o.clients, max_seconds=o.seconds)
    cpu1 = (server.cpu_seconds(), me.cpu_seconds(), database_cpu_seconds(database))
    switches1 = server.proc.num_ctx_switches()
    profile = await profiler.finish() if profiler else None
    ok = run.ok(201)
    done = max(len(run.outcomes), 1)
    return {
        "requests": len(run.outcomes), "ok": len(ok), "statuses": run.status_counts(),
        "wall_seconds": round(run.wall_seconds, 2), "stopped_by_deadline": run.stopped_by_deadline,
        "throughput_per_s": round(len(ok) / run.wall_seconds, 1) if run.wall_seconds else 0.0,
        "latency": latency_summary(o.latency for o in ok),
        "server_cpu_ms_per_request": round((cpu1[0] - cpu0[0]) * 1000 / done, 3),
        "client_cpu_ms_per_request": round((cpu1[1] - cpu0[1]) * 1000 / done, 3),
        "postgres_cpu_ms_per_request": round((cpu1[2] - cpu0[2]) * 1000 / done, 3),
        # Involuntary switches: the server was runnable but preempted (two cores, four busy processes).
        "server_context_switches_per_request": {
            "voluntary": round((switches1.voluntary - switches0.voluntary) / done, 2),
            "involuntary": round((switches1.involuntary - switches0.involuntary) / done, 2)},
        "server_cpu_utilisation": round((cpu1[0] - cpu0[0]) / run.wall_seconds, 2) if run.wall_seconds else 0.0,
        "profile": str(profile) if profile else None,
    }


async def run(ctx: Context) -> dict[str, Any]:
    o = ctx.opts
    infra = ctx.infra
    results: dict[str, Any] = {"signups": o.signups, "activities": o.activities, "clients": o.clients,
                               "warmup": o.warmup}
    tag = f"s{int(time.time())}"

    # Baseline first: its activity ids only need to be UUIDs (no foreign key), the same count as the service's.
    dsn = infra.new_database("bench_baseline")
    with service("bench.baseline_app", service_env(infra, dsn), ctx.log_dir) as base:
        ids = [str(uuid.uuid4()) for _ in range(o.activities)]
        results["baseline"] = await _measure(ctx, base.url, base.proc.pid, _name(dsn), ids,  # type: ignore[union-attr]
                                             f"{tag}b")

    dsn = infra.new_database("bench_registration")
    with service("komerbij.registration", service_env(infra, dsn), ctx.log_dir) as reg:
        activities = await fixtures.published_activities(reg.url, o.activities)
        results["service"] = await _measure(ctx, reg.url, reg.proc.pid, _name(dsn), activities,  # type: ignore[union-attr]
                                            f"{tag}r", "signup_api-registration" if o.profile else None)
        async with httpx.AsyncClient(timeout=10) as client:
            metrics = (await client.get(f"{reg.url}/metrics")).text
        results["service"]["outbox_published"] = _metric(metrics, "komerbij_outbox_published_total")

    service_tp = results["service"]["throughput_per_s"]
    base_tp = results["baseline"]["throughput_per_s"]
    ratio = round(service_tp / base_tp, 3) if base_tp else float("nan")
    results["ratio"] = ratio
    results["targets"] = [
        check("throughput ratio (service/baseline)", ratio, ">=", 0.8),
        check("service p99 ms", results["service"]["latency"]["p99_ms"], "<", 100),
        check("service errors", len(results["service"]["statuses"]) - (1 if "201" in results["service"]["statuses"]
                                                                       else 0), "==", 0),
    ]
    return results


def _name(dsn: str) -> str:
    return urlparse(dsn).path.lstrip("/")


def _metric(text: str, name: str) -> float | None:
    total = None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
    return total
