"""Scenario 3, consumer drain: N SignupConfirmed events pre-loaded on `registration.signups`, consumed by the real
notifications process (FastStream batch subscriber → per fetched batch one transaction with the inbox rows, notices
and delivery rows, then one offset commit), with its dispatcher mailing to a local SMTP sink, and as a consumer-only
replica (`DISPATCH_ENABLED=false`); events/s and the process's peak RSS.

Baselines, each reading the same records in a process of its own:
- **fair** (`bench.fair_consumer`, issue 19): a bare aiokafka consumer in a group writing the same rows per event
  (inbox, notice, delivery) with one `COPY` per table per batch in one transaction, then committing the offsets: the
  least work the design needs. The ratios are service ÷ fair;
- **raw** (`bench.raw_consumer`): reads and touches the records, writes and commits nothing: the client's ceiling.

The rates of the service, the consumer-only replica and the fair baseline are all taken the same way: from the
group's committed offsets (what is durably done), sampled every `SAMPLE_SECONDS` by an admin client, from the first
sample after the process is ready to the last; so start-up does not count."""

from __future__ import annotations

import asyncio
import json
import os
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
from bench.harness import ROOT, Profiler, Sampler, database_cpu_seconds, service, service_env
from bench.scenarios.end_to_end import NOTIFICATION_TOPICS, notifications_env
from bench.stats import check
from komerbij.contracts import CloudEventAttributes, to_kafka_headers
from komerbij.contracts.events.registration import SignupConfirmed
from komerbij.contracts.topics import REGISTRATION_SIGNUPS
from komerbij.runtime import db
from komerbij.runtime.settings import ServiceSettings

TOPIC = REGISTRATION_SIGNUPS.name
SAMPLE_SECONDS = 0.25  # committed offsets are sampled this often (a quick run's drain lasts a few seconds)


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
    results["fair_baseline"] = await _fair(ctx, start, count)

    # As deployed (the dispatcher mails what the consumer records, in the same process), and as a consumer-only
    # replica (DISPATCH_ENABLED=false): the consumer path alone.
    results["service"] = await _drain(ctx, start, count, None, "drain-notifications")
    results["consumer_only"] = await _drain(ctx, start, count, None, "drain-consumer-only", dispatch=False)
    fair = results["fair_baseline"]["events_per_s"]
    raw = results["baseline"]["events_per_s"]
    service_rate, alone = results["service"]["events_per_s"], results["consumer_only"]["events_per_s"]
    # The fair baseline does no mailing, so the target's ratio is the consumer-only replica's; the service's (with
    # its dispatcher on the same cores) is reported beside it.
    results["ratio"] = round(alone / fair, 4) if fair else float("nan")
    results["service_ratio"] = round(service_rate / fair, 4) if fair else float("nan")
    results["raw_ratio"] = round(alone / raw, 4) if raw else float("nan")
    results["targets"] = [
        check("consumer-only events/s", alone, ">=", 10_000),
        check("ratio consumer-only / fair baseline", results["ratio"], ">=", 0.5),
        check("peak RSS MB (service, consumer-only)",
              max(results["service"]["peak_rss_mb"], results["consumer_only"]["peak_rss_mb"]), "<", 300),
    ]
    return results


async def _watch(admin: AIOKafkaAdminClient, group: str, start: dict[Any, int], count: int,
                 seconds: float) -> list[tuple[float, int]]:
    """(monotonic time, records committed) every SAMPLE_SECONDS until all `count` are or `seconds` have passed."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append((time.monotonic(), await fixtures.committed_total(admin, group, start)))
        if samples[-1][1] >= count:
            break
        await asyncio.sleep(SAMPLE_SECONDS)
    return samples


def _rates(samples: list[tuple[float, int]], count: int, cpu: float, db_cpu: float,
           sampler: Sampler) -> dict[str, Any]:
    (t0, c0), (t1, c1) = samples[0], samples[-1]
    rate = round((c1 - c0) / (t1 - t0), 1) if t1 > t0 else float("nan")
    return {
        "consumed": c1, "finished": c1 >= count, "measured_from_events": c0,
        "measured_seconds": round(t1 - t0, 2), "events_per_s": rate,
        "wall_ms_per_event": round(1000 / rate, 3) if rate else float("nan"),
        "peak_rss_mb": round(sampler.peak_rss / 2**20, 1), "cpu_seconds": round(cpu, 1),
        "cpu_ms_per_event": round(cpu * 1000 / max(c1 - c0, 1), 3),
        "postgres_cpu_ms_per_event": round(db_cpu * 1000 / max(c1 - c0, 1), 3),
    }


async def _fair(ctx: Context, start: dict[Any, int], count: int) -> dict[str, Any]:
    """`bench.fair_consumer` on a database of its own with notifications' tables (its migrations, as the service's
    start applies them), in a group of its own starting at `start`, with the service's batch size."""
    o = ctx.opts
    bootstrap = ctx.infra.kafka_bootstrap
    dsn = ctx.infra.new_database("bench_fair")
    pool = await db.create_pool(dsn, max_size=1)
    try:
        await db.migrate(pool, db.load_migrations("runtime", "komerbij.runtime.migrations")
                         + db.load_migrations("notifications", "komerbij.notifications.migrations"))
    finally:
        await pool.close()
    group = fixtures.new_group("bench-fair")
    await fixtures.commit_offsets(bootstrap, group, start)
    # The service's batch size: its setting as the service process will see it (inherited environment included).
    max_records = {**os.environ, **service_env(ctx.infra, dsn)}.get("CONSUMER_BATCH_MAX_RECORDS") or str(
        ServiceSettings.model_fields["consumer_batch_max_records"].default)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.fair_consumer", bootstrap, dsn, group, TOPIC, str(count), str(o.drain_seconds),
        max_records, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        ready = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not ready.startswith(b"ready "):
            raise RuntimeError(f"fair consumer did not start: {ready!r} {(await proc.stderr.read())[-2000:]!r}")
        sampler = Sampler(proc.pid).start()
        backend = Sampler(int(ready.split()[1]))  # its one connection's PostgreSQL process
        cpu0, db_cpu0 = sampler.cpu_seconds(), backend.cpu_seconds()
        samples = await _watch(admin, group, start, count, o.drain_seconds)
        cpu = sampler.cpu_seconds() - cpu0
        db_cpu = backend.cpu_seconds() - db_cpu0
        sampler.stop()
        out, err = await asyncio.wait_for(proc.communicate(b""), o.drain_seconds + 60)
        if proc.returncode != 0:
            raise RuntimeError(f"fair consumer failed: {err[-2000:]!r}")
    finally:
        await admin.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    result = _rates(samples, count, cpu, db_cpu, sampler)
    result["batch_max_records"] = int(max_records)
    # First fetch → last commit, timed inside the process.
    result["own_timing"] = json.loads(out.decode().strip().splitlines()[-1])
    return result


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
                samples = await _watch(admin, group, start, count, o.drain_seconds)
                cpu = sampler.cpu_seconds() - cpu0
                db_cpu = database_cpu_seconds(database) - db_cpu0
                sampler.stop()
                profile = await profiler.finish() if profiler else None
                mails = len(sink.refresh())
    finally:
        await admin.close()
    return {
        "dispatch_interval_s": (dispatch_interval or "service default (1.0)") if dispatch else "dispatcher off",
        **_rates(samples, count, cpu, db_cpu, sampler),
        "mails_sent_meanwhile": mails, "profile": str(profile) if profile else None,
    }
