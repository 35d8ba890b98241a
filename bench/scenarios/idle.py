"""Scenario 6, idle memory: each service started as deployed (its own database, its consumer group, the production
defaults), ready, then left alone for a few seconds; its resident set size (RSS) is what one replica costs before
any traffic. The target of issue 19 is < 150 MB per service.

The five start side by side and idle together: RSS does not depend on what the neighbours do, and one shared wait
keeps `--quick` short."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from support.kafka import start_group_at_end

from bench import fixtures
from bench.context import Context
from bench.harness import Sampler, service, service_env
from bench.stats import check

SERVICES = ("registration", "materials", "media", "notifications", "dashboard")
LIMIT_MB = 150


def _extra(name: str) -> dict[str, str]:
    """What a service needs beyond `service_env` to start: a consumer group of its own (the shared topics hold the
    other scenarios' events), and notifications its mail settings (nothing is mailed while idle)."""
    extra = {"CONSUMER_GROUP": fixtures.new_group(f"bench-idle-{name}")}
    if name == "notifications":
        extra.update({"UNSUBSCRIBE_SECRET": "bench-unsubscribe-secret", "PUBLIC_BASE_URL": "http://notifications.bench",
                      "DIGEST_TIME": "23:59"})
    return extra


async def run(ctx: Context) -> dict[str, Any]:
    idle_seconds = ctx.opts.idle_seconds
    results: dict[str, Any] = {"idle_seconds": idle_seconds, "services": {}}
    envs = {name: service_env(ctx.infra, ctx.infra.new_database(f"bench_idle_{name}"), **_extra(name))
            for name in SERVICES}
    # A new group reads its topics from the beginning, and the earlier scenarios left ~250,000 events there: a
    # consumer busy with them is not idle. Each group starts at the topics' end instead.
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.infra.kafka_bootstrap)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
    finally:
        await admin.close()
    for env in envs.values():
        await start_group_at_end(ctx.infra.kafka_bootstrap, env["CONSUMER_GROUP"], topics)
    with contextlib.ExitStack() as stack:
        # Started side by side (each start blocks on its /readyz in a thread): the idle wait is shared, so the
        # scenario costs one start-up and one wait, not five.
        procs = await asyncio.gather(*(asyncio.to_thread(stack.enter_context,
                                                         service(f"komerbij.{name}", envs[name], ctx.log_dir))
                                       for name in SERVICES))
        samplers = {name: Sampler(p.proc.pid, interval=0.5).start()  # type: ignore[union-attr]
                    for name, p in zip(SERVICES, procs, strict=True)}
        await asyncio.sleep(idle_seconds)
        for name, sampler in samplers.items():
            sampler.stop()
            last = sampler.samples[-1][1] if sampler.samples else 0
            results["services"][name] = {"rss_mb": round(last / 2**20, 1),
                                         "peak_rss_mb": round(sampler.peak_rss / 2**20, 1)}
    results["targets"] = [check(f"{name} idle RSS MB", r["rss_mb"], "<", LIMIT_MB)
                          for name, r in results["services"].items()]
    return results
