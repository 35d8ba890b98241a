"""What every service does besides its own work: scheduled jobs (also one that fails), the housekeeping purge of sent
outbox rows and old inbox records, and the consumer-lag gauge."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from aiokafka.partitioner import DefaultPartitioner
from probe import effects, spec
from support.clock import ControlledClock, later
from support.drain import drain
from support.infra import Infra
from support.kafka import cloudevent, partitions_of, produce, start_group_at_end
from support.services import RunningService, eventually, running, settings_env

from komerbij.contracts.events.materials import StockAdjusted
from komerbij.runtime import db
from komerbij.runtime.jobs import Job, Scheduler
from komerbij.runtime.metrics import Metrics
from komerbij.runtime.service import INBOX_RETENTION, _housekeeping

TOPIC = "materials.stock"


async def test_a_job_that_raises_is_counted_and_logged_and_runs_again_on_schedule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics("probe")
    clock = ControlledClock(datetime(2027, 10, 1, 9, tzinfo=UTC))
    seen: list[datetime] = []
    parked = asyncio.Event()

    async def flaky(rt: object, now: datetime) -> None:
        seen.append(now)
        clock.advance(timedelta(minutes=1))
        if len(seen) <= 2:
            raise RuntimeError("feed unreachable")
        if len(seen) == 4:
            parked.set()
            await asyncio.Event().wait()  # the fourth run stays put: the counts are final

    scheduler = Scheduler(SimpleNamespace(metrics=metrics), [Job("flaky", 0, flaky)], clock)  # type: ignore[arg-type]
    await scheduler.start()
    try:
        await asyncio.wait_for(parked.wait(), 10)
    finally:
        await scheduler.stop()
    assert metrics.job_runs.labels("flaky", "error")._value.get() == 2
    assert metrics.job_runs.labels("flaky", "ok")._value.get() == 1
    assert seen == [datetime(2027, 10, 1, 9, minute, tzinfo=UTC) for minute in range(4)]  # the clock's, each time
    failures = [r for r in caplog.records if r.getMessage() == "job failed"]
    assert len(failures) == 2 and all(r.job == "flaky" and r.exc_info for r in failures)  # type: ignore[attr-defined]
    assert all(r.levelno == logging.ERROR for r in failures)


async def _started(svc: RunningService, job: str) -> None:
    async def ran() -> bool:
        return svc.runtime.metrics.job_runs.labels(job, "ok")._value.get() >= 1

    await eventually(ran)


async def test_the_scheduled_housekeeping_purges_sent_outbox_rows_after_a_week(infra: Infra) -> None:
    run = f"house-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    dsn = infra.new_database("probe")
    env = settings_env(infra, dsn, PROBE_GROUP=group)
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    async with running(spec(group), env) as svc:
        for n in range(3):
            assert (await svc.client.post("/probe/adjust", json={"key": "k", "n": n, "run": run})).status_code == 201
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]}, outboxes=[dsn])
        assert len(await effects(svc.runtime, run)) == 3
    # The same service started again on a clock a week and a day later: its housekeeping runs at start.
    async with running(spec(group), env, clock=later(timedelta(days=8))) as svc:
        await _started(svc, "housekeeping")
        async with svc.runtime.pool.acquire() as conn:
            outbox = await conn.fetchval("SELECT count(*) FROM outbox")
            inbox = await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", group)
    assert (outbox, inbox) == (0, 3)  # the inbox outlives any copy Kafka could still deliver


async def test_housekeeping_keeps_unsent_rows_and_what_is_younger_than_its_retention(infra: Infra) -> None:
    dsn = infra.new_database("housekeeping")
    pool = await db.create_pool(dsn)
    now = datetime(2027, 10, 1, 9, tzinfo=UTC)
    try:
        await db.migrate(pool, db.load_migrations("runtime", "komerbij.runtime.migrations"))
        async with pool.acquire() as conn:
            for name, sent_days_ago in (("sent-6d", 6), ("sent-8d", 8), ("unsent-30d", None)):
                await conn.execute(
                    """INSERT INTO outbox (id, topic, key, type, headers, payload, created_at, sent_at)
                       VALUES ($1, $2, $3, 't', '[]', '', $4, $5)""",
                    uuid.uuid4(), TOPIC, name, now - timedelta(days=30),
                    None if sent_days_ago is None else now - timedelta(days=sent_days_ago))
            for name, age in (("young", INBOX_RETENTION - timedelta(hours=1)),
                              ("old", INBOX_RETENTION + timedelta(hours=1))):
                await conn.execute("INSERT INTO inbox (consumer, event_id, event_type, processed_at) "
                                   "VALUES ('c', $1, 't', $2)", name, now - age)
        await _housekeeping(SimpleNamespace(pool=pool), now)  # type: ignore[arg-type]
        async with pool.acquire() as conn:
            outbox = sorted(r["key"] for r in await conn.fetch("SELECT key FROM outbox"))
            inbox = [r["event_id"] for r in await conn.fetch("SELECT event_id FROM inbox")]
    finally:
        await pool.close()
    assert outbox == ["sent-6d", "unsent-30d"]
    assert inbox == ["young"]


async def test_the_consumer_lag_gauge_counts_what_the_group_has_not_committed(infra: Infra) -> None:
    run = f"lag-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    # Retried for half a minute: meanwhile the failing event holds its partition's committed offset where it is.
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="20",
                       RETRY_MAX_BACKOFF_SECONDS="2")
    partitions = sorted(tp.partition for tp in await partitions_of(infra.kafka_bootstrap, [TOPIC]))
    stuck = DefaultPartitioner()(b"k", partitions, partitions)
    messages = []
    for n in range(5):
        value, headers = cloudevent(StockAdjusted(sku="k", name="probe", stock_on_hand=n, reserved=0, delta=1,
                                                  reason=f"fail-{run}" if n == 0 else run))
        messages.append((b"k", value, headers))
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    async with running(spec(group), env) as svc:
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute("UPDATE flags SET broken = true")
        await produce(infra.kafka_bootstrap, TOPIC, messages)

        def lags() -> dict[int, float]:
            return {int(s.labels["partition"]): s.value for family in svc.runtime.metrics.consumer_lag.collect()
                    for s in family.samples if s.labels["group"] == group and s.labels["topic"] == TOPIC}

        async def lag_of_the_stuck_partition() -> dict[int, float] | None:
            found = lags()
            return found if found.get(stuck) == 5 else None

        held = await eventually(lag_of_the_stuck_partition)
        assert {p: v for p, v in held.items() if p != stuck} == dict.fromkeys(set(held) - {stuck}, 0)
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute("UPDATE flags SET broken = false")  # the fix: the event applies on its next retry
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]})
        assert [n for _, _, n in await effects(svc.runtime, run)] == [1, 2, 3, 4]

        async def caught_up() -> dict[int, float] | None:
            found = lags()
            return found if found.get(stuck) == 0 else None

        assert set((await eventually(caught_up)).values()) == {0}
