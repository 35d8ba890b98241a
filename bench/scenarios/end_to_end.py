"""Scenario 2, end to end: sign-ups at a fixed rate (open loop) through registration → outbox relay → Kafka →
notifications (inbox, delivery row) → dispatcher → SMTP. Per sign-up: the time from the HTTP 201 arriving at the
client to the participant's confirmation mail arriving at an SMTP server in this process.

The 201 time is taken by the load generator when the answer is read, the arrival time by the SMTP sink (a process
of its own, `bench.smtp_sink`) when the message's DATA is complete; both with CLOCK_MONOTONIC (`time.monotonic()`),
one clock for the whole machine, so no skew enters. The mail is the participant's actual delivery (what they would
see), not the service's own record of it."""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

import asyncpg
import httpx

from bench import fixtures
from bench.context import Context
from bench.harness import Profiler, Sampler, service, service_env
from bench.load import Outcome, open_loop
from bench.stats import check, latency_summary
from komerbij.contracts.events.base import Event
from komerbij.devtools.processes import free_port
from komerbij.notifications.entrypoints.events import ROUTED

NOTIFICATION_TOPICS = sorted({cls.TOPIC for cls in ROUTED if issubclass(cls, Event)})


def notifications_env(ctx: Context, sink_port: int, group: str,
                      dispatch_interval: float | None = None) -> dict[str, str]:
    extra = {
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink_port), "CONSUMER_GROUP": group,
        "UNSUBSCRIBE_SECRET": "bench-unsubscribe-secret", "PUBLIC_BASE_URL": "http://notifications.bench",
        "DIGEST_TIME": "23:59",
    }
    interval = dispatch_interval if dispatch_interval is not None else ctx.opts.dispatch_interval
    if interval is not None:
        extra["DISPATCH_INTERVAL_SECONDS"] = str(interval)
    extra.update(setting.split("=", 1) for setting in ctx.opts.notifications_env)
    return service_env(ctx.infra, ctx.infra.new_database("bench_notifications"), **extra)


async def run(ctx: Context) -> dict[str, Any]:
    o = ctx.opts
    infra = ctx.infra
    tag = f"e{int(time.time())}"
    group = fixtures.new_group("bench-e2e")
    # The group starts at the topics' current end: earlier scenarios' events are not this scenario's work.
    await fixtures.commit_offsets(infra.kafka_bootstrap, group,
                                  await fixtures.end_offsets(infra.kafka_bootstrap, NOTIFICATION_TOPICS))
    rate, seconds = o.rate, o.e2e_seconds
    results: dict[str, Any] = {"rate_per_s": rate, "seconds": seconds,
                               "dispatch_interval_s": o.dispatch_interval if o.dispatch_interval is not None
                               else "service default (1.0)",
                               "notifications_env": ctx.opts.notifications_env}
    reg_dsn = infra.new_database("bench_registration")
    notif_env = notifications_env(ctx, sink_port := free_port(), group)
    with fixtures.MailSink(ctx.log_dir, port=sink_port) as sink, \
            service("komerbij.registration", service_env(infra, reg_dsn), ctx.log_dir) as reg, \
            service("komerbij.notifications", notif_env, ctx.log_dir) as notif:
        activities = await fixtures.published_activities(reg.url, o.activities)
        rng = random.Random(2)
        answered: dict[str, float] = {}

        async def request(client: httpx.AsyncClient, i: int) -> tuple[int, Any]:
            body = fixtures.signup_body(tag, i)
            r = await client.post(f"{reg.url}/v1/activities/{rng.choice(activities)}/signups", json=body)
            return r.status_code, body["email"]

        def on_done(outcome: Outcome) -> None:
            if outcome.status == 201:
                answered[outcome.body] = outcome.finished

        # Warm-up: one second at the rate, delivered before the measured part starts (not counted).
        warm = await open_loop(lambda c, i: request(c, 10_000_000 + i), rate=rate, seconds=1, max_in_flight=256)
        warm_emails = {f"{tag}-{10_000_000 + x.index}@example.org" for x in warm.ok(201)}
        deadline = time.monotonic() + 30
        while not warm_emails <= sink.refresh().keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

        sampler = Sampler(notif.proc.pid).start()  # type: ignore[union-attr]
        cpu0 = {"registration": Sampler(reg.proc.pid).cpu_seconds(),  # type: ignore[union-attr]
                "notifications": sampler.cpu_seconds(), "smtp_sink": Sampler(sink.pid).cpu_seconds(),
                "load_generator": Sampler(os.getpid()).cpu_seconds()}
        profiler = (Profiler(notif.proc.pid, "end_to_end-notifications", o.profile_seconds).start()  # type: ignore[union-attr]
                    if o.profile else None)
        run_ = await open_loop(request, rate=rate, seconds=seconds, max_in_flight=256, on_done=on_done)
        # Bounded wait for the tail: whatever has not arrived by then counts as not delivered.
        deadline = time.monotonic() + o.e2e_tail_seconds
        while not answered.keys() <= sink.refresh().keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        sampler.stop()
        profile = await profiler.finish() if profiler else None
        cpu = {"registration": Sampler(reg.proc.pid).cpu_seconds() - cpu0["registration"],  # type: ignore[union-attr]
               "notifications": sampler.cpu_seconds() - cpu0["notifications"],
               "smtp_sink": Sampler(sink.pid).cpu_seconds() - cpu0["smtp_sink"],
               "load_generator": Sampler(os.getpid()).cpu_seconds() - cpu0["load_generator"]}

    e2e = [sink.arrivals[email] - t for email, t in answered.items() if email in sink.arrivals]
    results["stages_ms"] = await stages(reg_dsn, notif_env["DATABASE_URL"], set(answered), sink.arrivals)
    missing = len(answered) - len(e2e)
    ok = run_.ok(201)
    results.update({
        "requests": len(run_.outcomes), "ok": len(ok), "statuses": run_.status_counts(),
        "achieved_rate_per_s": round(len(run_.outcomes) / seconds, 1), "client_connections": run_.connections,
        "http_latency": latency_summary(x.latency for x in ok),
        "delivered": len(e2e), "not_delivered_within_tail": missing, "tail_wait_s": o.e2e_tail_seconds,
        "negative_e2e": sum(1 for x in e2e if x < 0),
        "e2e_latency": latency_summary(e2e),
        "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()},
        "notifications_peak_rss_mb": round(sampler.peak_rss / 2**20, 1),
        "profile": str(profile) if profile else None,
    })
    p99 = results["e2e_latency"]["p99_ms"] if missing == 0 else float("inf")
    results["targets"] = [check("e2e p99 ms (all delivered)", p99, "<", 500),
                          check("sign-ups answered 201 at the rate", len(ok), "==", int(rate * seconds))]
    return results


STAGES = """Where the time between the sign-up's commit and the mail goes, from the services' own timestamps (one
PostgreSQL server, so one clock; `now()` is a transaction's start):
  outbox_wait   outbox row created → the relay's publishing transaction started (relay woken by NOTIFY)
  to_consumer   relay transaction started → notifications' inbox transaction started (publish, Kafka, the
                consumer's queue: a backlog shows here)
  to_dispatch   inbox transaction → the dispatcher's round that claimed the delivery (DISPATCH_INTERVAL_SECONDS)
  send          dispatcher round start → attempt finished (compose, SMTP)
"""


async def stages(reg_dsn: str, notif_dsn: str, emails: set[str], arrivals: dict[str, float]) -> dict[str, Any]:
    """Per measured sign-up, the stage durations above; returned as percentiles per stage."""
    reg = await asyncpg.connect(reg_dsn)
    try:
        rows = await reg.fetch(
            """SELECT s.email, o.id::text AS event_id, o.created_at, o.sent_at
               FROM signups s JOIN outbox o
                 ON o.type = 'nl.komerbij.registration.signup.confirmed.v1'
                AND convert_from(o.payload, 'UTF8')::jsonb ->> 'signup_id' = s.id::text
               WHERE s.email = ANY($1::text[])""",
            list(emails),
        )
    finally:
        await reg.close()
    notif = await asyncpg.connect(notif_dsn)
    try:
        later = {r["event_id"]: r for r in await notif.fetch(
            """SELECT i.event_id, i.processed_at, min(a.started_at) AS started_at, min(a.finished_at) AS finished_at
               FROM inbox i JOIN deliveries d ON d.event_id = i.event_id AND d.recipient = 'participant'
               JOIN delivery_attempts a ON a.delivery_id = d.id
               WHERE i.event_id = ANY($1::text[]) GROUP BY i.event_id, i.processed_at""",
            [r["event_id"] for r in rows],
        )}
    finally:
        await notif.close()
    parts: dict[str, list[float]] = {"outbox_wait": [], "to_consumer": [], "to_dispatch": [], "send": []}
    for r in rows:
        n = later.get(r["event_id"])
        if n is None or r["sent_at"] is None or n["finished_at"] is None:
            continue
        parts["outbox_wait"].append((r["sent_at"] - r["created_at"]).total_seconds())
        parts["to_consumer"].append((n["processed_at"] - r["sent_at"]).total_seconds())
        parts["to_dispatch"].append((n["started_at"] - n["processed_at"]).total_seconds())
        parts["send"].append((n["finished_at"] - n["started_at"]).total_seconds())
    return {"what": STAGES, **{k: latency_summary(v) for k, v in parts.items()}}
