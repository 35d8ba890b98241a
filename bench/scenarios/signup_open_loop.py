"""Scenario 5, sign-ups in an open loop: a fixed arrival rate (request i due at t0 + i/rate, as real traffic
arrives, whatever the server's pace), against registration and, in the same run with the same bodies, against the
bare baseline (`bench.baseline_app`). A request that would exceed `max_in_flight` is skipped and counted as an error,
not queued (`bench.load.open_loop`), so an overloaded server shows up as errors instead of a silently lower rate.

Unlike the closed loop of scenario 1, latency here is not set by the number of clients (Little's law): it is the
time one sign-up takes at a given load, which is what a person signing up meets."""

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
from bench.load import open_loop
from bench.stats import check, latency_summary

MAX_IN_FLIGHT = 256


async def _measure(ctx: Context, url: str, pid: int, database: str, activities: list[str], tag: str,
                   profile_name: str | None = None) -> dict[str, Any]:
    """One second at the rate as warm-up (not counted), then the measured open loop."""
    o = ctx.opts
    rate, seconds = o.open_rate, o.open_seconds
    total = int(rate * seconds)
    rng = random.Random(11)  # the same activity sequence for service and baseline
    picks = [rng.randrange(len(activities)) for _ in range(total + int(rate) + 1)]

    async def request(client: httpx.AsyncClient, i: int) -> tuple[int, Any]:
        r = await client.post(f"{url}/v1/activities/{activities[picks[i]]}/signups", json=fixtures.signup_body(tag, i))
        return r.status_code, None

    await open_loop(lambda c, i: request(c, total + i), rate=rate, seconds=1, max_in_flight=MAX_IN_FLIGHT)
    server, me = Sampler(pid), Sampler(os.getpid())
    cpu0 = (server.cpu_seconds(), me.cpu_seconds(), database_cpu_seconds(database))
    profiler = Profiler(pid, profile_name, min(o.profile_seconds, seconds)).start() if profile_name else None
    run = await open_loop(request, rate=rate, seconds=seconds, max_in_flight=MAX_IN_FLIGHT)
    cpu1 = (server.cpu_seconds(), me.cpu_seconds(), database_cpu_seconds(database))
    profile = await profiler.finish() if profiler else None
    ok = run.ok(201)
    done = max(len(run.outcomes), 1)
    lateness = [x.started - x.scheduled for x in run.outcomes if x.scheduled is not None and x.status]
    return {
        "requests": len(run.outcomes), "ok": len(ok), "errors": len(run.outcomes) - len(ok),
        "statuses": run.status_counts(), "connections": run.connections,
        "wall_seconds": round(run.wall_seconds, 2),
        "achieved_rate_per_s": round(len(ok) / seconds, 1),
        "latency": latency_summary(x.latency for x in ok),
        # How late the generator sent requests (its own event loop busy): large values mean the client, not the
        # server, could not keep the rate, and the latencies above understate the server's.
        "send_lateness": latency_summary(lateness),
        "server_cpu_ms_per_request": round((cpu1[0] - cpu0[0]) * 1000 / done, 3),
        "client_cpu_ms_per_request": round((cpu1[1] - cpu0[1]) * 1000 / done, 3),
        "postgres_cpu_ms_per_request": round((cpu1[2] - cpu0[2]) * 1000 / done, 3),
        "client_cpu_utilisation": round((cpu1[1] - cpu0[1]) / run.wall_seconds, 2) if run.wall_seconds else 0.0,
        "profile": str(profile) if profile else None,
    }


async def run(ctx: Context) -> dict[str, Any]:
    o = ctx.opts
    infra = ctx.infra
    results: dict[str, Any] = {"rate_per_s": o.open_rate, "seconds": o.open_seconds, "activities": o.activities,
                               "max_in_flight": MAX_IN_FLIGHT}
    tag = f"o{int(time.time())}"

    dsn = infra.new_database("bench_baseline_open")
    with service("bench.baseline_app", service_env(infra, dsn), ctx.log_dir) as base:
        ids = [str(uuid.uuid4()) for _ in range(o.activities)]
        results["baseline"] = await _measure(ctx, base.url, base.proc.pid, _name(dsn), ids,  # type: ignore[union-attr]
                                             f"{tag}b")

    dsn = infra.new_database("bench_registration_open")
    with service("komerbij.registration", service_env(infra, dsn), ctx.log_dir) as reg:
        activities = await fixtures.published_activities(reg.url, o.activities)
        results["service"] = await _measure(ctx, reg.url, reg.proc.pid, _name(dsn), activities,  # type: ignore[union-attr]
                                            f"{tag}r", "signup_open_loop-registration" if o.profile else None)

    s = results["service"]
    results["targets"] = [
        check(f"service p99 ms at {o.open_rate:g}/s", s["latency"]["p99_ms"], "<", 100),
        check("service errors (incl. skipped)", s["errors"], "==", 0),
    ]
    return results


def _name(dsn: str) -> str:
    return urlparse(dsn).path.lstrip("/")
