"""Scenario 3, consumer drain: N SignupConfirmed events pre-loaded on `registration.signups`, consumed by the real
notifications process (FastStream batch subscriber → per fetched batch one transaction with the inbox rows, notices
and delivery rows, then one offset commit), with its dispatcher mailing to a local SMTP sink; events/s and the
process's peak RSS. Baseline: `bench.raw_consumer` reading the same records in a process of its own.

The rate is taken from the group's committed offsets (what the service has durably done), sampled every second by
an admin client, from the first sample after the service is ready to the last; so start-up does not count."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench import fixtures
from bench.context import Context
from bench.harness import ROOT, Profiler, Sampler, database_cpu_seconds, service
from bench.scenarios.end_to_end import NOTIFICATION_TOPICS, notifications_env
from bench.stats import check
from komerbij.contracts import CloudEventAttributes, to_kafka_headers
from komerbij.contracts.events.registration import SignupConfirmed
from komerbij.contracts.topics import REGISTRATION_SIGNUPS

TOPIC = REGISTRATION_SIGNUPS.name


async def preload(bootstrap: str, count: int, tag: str) -> float:
    """`count` SignupConfirmed events with CloudEvents headers, keyed by activity as registration's relay does."""
    activities = [str(uuid.uuid4()) for _ in range(200)]
    rng = random.Random(3)
    starts = datetime(2027, 10, 1, 12, 0, tzinfo=UTC)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20,
                                max_batch_size=512 * 1024)
    began = time.perf_counter()
    await producer.start()
    try:
        pending = []
        for i in range(count):
            activity_id = rng.choice(activities)
            signup_id = str(uuid.uuid4())
            event = SignupConfirmed(
                signup_id=signup_id, activity_id=activity_id, activity_title="Samen koken",
                starts_at=starts, ends_at=starts + timedelta(hours=2), municipality="GM0363",
                location="Buurtkamer De Linde, Amsterdam", name=f"Deelnemer {i}", email=f"{tag}-{i}@example.org",
                phone=None, party_size=1, cancel_url=f"http://registration.bench/v1/signups/{signup_id}/cancel?token=x",
                # As registration fills them for a municipal organiser's activity (notifications looks the owner up).
                owner_municipality="GM0363", owner_partner_id=None,
                activity_url=f"http://registration.bench/v1/activities/{activity_id}",
            )
            attrs = CloudEventAttributes(id=str(uuid.uuid4()), source="/komerbij/registration", type=event.TYPE,
                                         time=datetime.now(UTC), subject=event.key)
            pending.append(await producer.send(TOPIC, value=event.model_dump_json().encode(),
                                               key=activity_id.encode(), headers=to_kafka_headers(attrs)))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - began


def raw_baseline(bootstrap: str, start: dict[Any, int], count: int, max_seconds: float) -> dict[str, Any]:
    arg = json.dumps({f"{tp.topic}:{tp.partition}": off for tp, off in start.items()})
    proc = subprocess.run([sys.executable, "-m", "bench.raw_consumer", bootstrap, arg, str(count), str(max_seconds)],
                          capture_output=True, text=True, timeout=max_seconds + 60, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"raw consumer failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["events_per_s"] = round(out["records"] / out["seconds"], 1) if out["seconds"] else 0.0
    return out


async def run(ctx: Context) -> dict[str, Any]:
    o = ctx.opts
    bootstrap = ctx.infra.kafka_bootstrap
    count = o.events
    start = await fixtures.end_offsets(bootstrap, [TOPIC])
    results: dict[str, Any] = {"events": count, "topic": TOPIC, "partitions": len(start)}
    results["preload_seconds"] = round(await preload(bootstrap, count, f"d{int(time.time())}"), 1)

    results["baseline"] = raw_baseline(bootstrap, start, count, o.drain_seconds)

    # As deployed (the dispatcher mails what the consumer records, in the same process), and as a consumer-only
    # replica (DISPATCH_ENABLED=false): the consumer path alone.
    results["service"] = await _drain(ctx, start, count, None, "drain-notifications")
    results["consumer_only"] = await _drain(ctx, start, count, None, "drain-consumer-only", dispatch=False)
    base_rate = results["baseline"]["events_per_s"]
    rate = results["service"]["events_per_s"]
    results["ratio"] = round(rate / base_rate, 4) if base_rate else float("nan")
    results["consumer_only_ratio"] = round(results["consumer_only"]["events_per_s"] / base_rate, 4) \
        if base_rate else float("nan")
    results["targets"] = [
        check("service events/s", rate, ">=", 10_000),
        check("service peak RSS MB", results["service"]["peak_rss_mb"], "<", 300),
        check("consumer-only events/s", results["consumer_only"]["events_per_s"], ">=", 10_000),
    ]
    return results


async def _drain(ctx: Context, start: dict[Any, int], count: int, dispatch_interval: float | None,
                 name: str, *, dispatch: bool = True) -> dict[str, Any]:
    """One drain by a fresh notifications process (own database, own consumer group starting at `start`)."""
    o = ctx.opts
    bootstrap = ctx.infra.kafka_bootstrap
    group = fixtures.new_group("bench-drain")
    others = await fixtures.end_offsets(bootstrap, [t for t in NOTIFICATION_TOPICS if t != TOPIC])
    await fixtures.commit_offsets(bootstrap, group, {**others, **start})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        with fixtures.MailSink(ctx.log_dir) as sink:
            env = {**notifications_env(ctx, sink.port, group, dispatch_interval),
                   "DISPATCH_ENABLED": str(dispatch).lower()}
            database = env["DATABASE_URL"].rsplit("/", 1)[-1]
            with service("komerbij.notifications", env, ctx.log_dir) as notif:
                pid = notif.proc.pid  # type: ignore[union-attr]
                sampler = Sampler(pid).start()
                cpu0, db_cpu0 = sampler.cpu_seconds(), database_cpu_seconds(database)
                profiler = Profiler(pid, name, o.profile_seconds).start() if o.profile else None
                samples: list[tuple[float, int]] = []
                deadline = time.monotonic() + o.drain_seconds
                while time.monotonic() < deadline:
                    samples.append((time.monotonic(), await fixtures.committed_total(admin, group, start)))
                    if samples[-1][1] >= count:
                        break
                    await asyncio.sleep(1.0)
                cpu = sampler.cpu_seconds() - cpu0
                db_cpu = database_cpu_seconds(database) - db_cpu0
                sampler.stop()
                profile = await profiler.finish() if profiler else None
                mails = len(sink.refresh())
    finally:
        await admin.close()
    (t0, c0), (t1, c1) = samples[0], samples[-1]
    rate = round((c1 - c0) / (t1 - t0), 1) if t1 > t0 else float("nan")
    return {
        "dispatch_interval_s": (dispatch_interval or "service default (1.0)") if dispatch else "dispatcher off",
        "consumed": c1, "finished": c1 >= count, "measured_from_events": c0,
        "measured_seconds": round(t1 - t0, 1), "events_per_s": rate,
        "wall_ms_per_event": round(1000 / rate, 3) if rate else float("nan"),
        "peak_rss_mb": round(sampler.peak_rss / 2**20, 1), "cpu_seconds": round(cpu, 1),
        "cpu_ms_per_event": round(cpu * 1000 / max(c1 - c0, 1), 3),
        "postgres_cpu_ms_per_event": round(db_cpu * 1000 / max(c1 - c0, 1), 3),
        "mails_sent_meanwhile": mails, "profile": str(profile) if profile else None,
    }
