"""Consumers: effectively once (inbox + commit after processing), poison isolated on the DLQ, replay, clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.partitioner import DefaultPartitioner
from probe import effects, spec
from support.drain import drain
from support.infra import Infra, fetch
from support.kafka import cloudevent, header, produce, read_topic, start_group_at_end
from support.services import ServiceProcess, eventually, running, settings_env

from komerbij.contracts.events.materials import StockAdjusted
from komerbij.contracts.events.registration import SignupConfirmed
from komerbij.contracts.topics import REGISTRATION_SIGNUPS
from komerbij.runtime import db

TOPIC, DLQ = "materials.stock", "materials.stock.dlq"
SIGNUPS = REGISTRATION_SIGNUPS.name


def adjusted(key: str, n: int, run: str) -> StockAdjusted:
    return StockAdjusted(sku=key, name="probe", stock_on_hand=n, reserved=0, delta=1, reason=run)


async def test_same_event_delivered_twice_has_one_effect(infra: Infra) -> None:
    run = f"twice-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group)
    value, headers = cloudevent(adjusted("k", 1, run))
    after_value, after_headers = cloudevent(adjusted("k", 2, run))
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])  # only this test's events, counted exactly
    async with running(spec(group), env) as svc:
        # A copy right behind the first (the same fetched batch, as a rule), then one in a later batch.
        await produce(infra.kafka_bootstrap, TOPIC, [(b"k", value, headers), (b"k", value, headers),
                                                     (b"k", after_value, after_headers)])
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]})
        await produce(infra.kafka_bootstrap, TOPIC, [(b"k", value, headers)])
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]})
        rows = await effects(svc.runtime, run)
        duplicates = svc.runtime.metrics.duplicates.labels(TOPIC)._value.get()
    assert [n for _, _, n in rows] == [1, 2]
    assert duplicates == 2


async def test_poison_messages_go_to_the_dlq_with_reasons_and_the_partition_goes_on(infra: Infra) -> None:
    run = f"poison-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group)
    not_json_id, invalid_id = str(uuid.uuid4()), str(uuid.uuid4())
    _, not_json_headers = cloudevent(adjusted("k", 0, run), event_id=not_json_id)
    _, invalid_headers = cloudevent(adjusted("k", 0, run), event_id=invalid_id)
    good_value, good_headers = cloudevent(adjusted("k", 1, run))
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    async with running(spec(group), env) as svc:
        await produce(infra.kafka_bootstrap, TOPIC, [
            (b"k", b"this is {not json", not_json_headers),
            (b"k", json.dumps({"sku": 42, "reason": run}).encode(), invalid_headers),
            (b"k", good_value, good_headers),
        ])
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]})
        assert [n for _, _, n in await effects(svc.runtime, run)] == [1]
    # Dead letters are sent before the batch's offsets are committed: after the drain, the DLQ holds all of them.
    dead = await read_topic(infra.kafka_bootstrap, DLQ, keep=lambda r: header(r, "ce_id") in {not_json_id, invalid_id},
                            until=lambda rs: True, to_end=True)
    assert len(dead) == 2
    by_id = {header(r, "ce_id"): r for r in dead}
    not_json, invalid = by_id[not_json_id], by_id[invalid_id]
    assert header(not_json, "dlq_error_class") == "MalformedJSON"
    assert header(invalid, "dlq_error_class") == "SchemaValidationError"
    assert "name" in header(invalid, "dlq_error_message")  # names the missing field
    assert "stock_on_hand" in header(invalid, "dlq_error_message")
    for record in (not_json, invalid):
        assert header(record, "dlq_topic") == TOPIC
        assert header(record, "dlq_group") == group
        assert header(record, "dlq_attempts") == "1"  # poison is not retried
        assert int(header(record, "dlq_offset")) >= 0 and header(record, "dlq_partition") == "0"
        assert header(record, "ce_type") == StockAdjusted.TYPE  # the original envelope is kept
    assert not_json.value == b"this is {not json"


async def test_failing_handler_is_retried_then_dead_lettered_and_replay_brings_it_back(infra: Infra) -> None:
    run = f"fail-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    dsn = infra.new_database("probe")
    env = settings_env(infra, dsn, PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="3")
    value, headers = cloudevent(adjusted("k", 7, run))
    event_id = header_value(headers, "ce_id")
    # At the end of the topic: the retries counted are this event's, not those of other tests' failing events.
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    async with running(spec(group), env) as svc:
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute("UPDATE flags SET broken = true")
        await produce(infra.kafka_bootstrap, TOPIC, [(b"k", value, headers)])
        dead = await read_topic(infra.kafka_bootstrap, DLQ, keep=lambda r: header(r, "ce_id") == event_id,
                                until=lambda rs: len(rs) >= 1)
        assert header(dead[0], "dlq_attempts") == "3"
        assert header(dead[0], "dlq_error_class") == "RuntimeError"
        assert svc.runtime.metrics.retries.labels(TOPIC)._value.get() == 2
        assert await effects(svc.runtime, run) == []
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute("UPDATE flags SET broken = false")  # the fix
        replay = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "komerbij.devtools.cli", "--bootstrap", infra.kafka_bootstrap, "dlq", "replay",
             TOPIC], capture_output=True, text=True, timeout=120,
        )
        assert replay.returncode == 0, replay.stderr
        assert "replayed" in replay.stdout
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]})
        rows = await effects(svc.runtime, run)
    assert [(eid, n) for eid, _, n in rows] == [(event_id, 7)]


@pytest.mark.parametrize("batch_handler", [False, True], ids=["per-event-handler", "batch-handler"])
async def test_a_failing_event_in_a_batch_is_dead_lettered_alone_and_the_others_apply_once_in_order(
    infra: Infra, batch_handler: bool
) -> None:
    run = f"mixed-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="3")
    messages = []
    for n in range(60):  # one key, so one partition: their order is the order the effects must have
        value, headers = cloudevent(adjusted("k", n, f"fail-{run}" if n == 30 else run))
        messages.append((b"k", value, headers))
    failing_id = header_value(messages[30][2], "ce_id")
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])  # other tests' failing events are not ours
    async with running(spec(group, batch=batch_handler), env) as svc:
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute("UPDATE flags SET broken = true")
        await produce(infra.kafka_bootstrap, TOPIC, messages)
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]})
        rows = await effects(svc.runtime, run)
        metrics = svc.runtime.metrics
        retries = metrics.retries.labels(TOPIC)._value.get()
        batches = metrics.consumer_batches._value.get()
    dead = await read_topic(infra.kafka_bootstrap, DLQ, keep=lambda r: header(r, "ce_id") == failing_id,
                            until=lambda rs: True, to_end=True)
    assert [n for _, _, n in rows] == [n for n in range(60) if n != 30]  # each once, in the partition's order
    assert len(dead) == 1
    assert header(dead[0], "dlq_attempts") == "3" and header(dead[0], "dlq_error_class") == "RuntimeError"
    assert retries == 2  # the failing event alone was retried, not the batch
    assert batches < 30  # they really came in batches: one transaction and one offset commit for many events


def keys_on_three_partitions() -> list[str]:
    """Three activity ids that Kafka's default partitioner (murmur2, as every client and the relay use) puts on
    partitions 0, 1 and 2 of registration.signups."""
    partitioner, found = DefaultPartitioner(), {}
    while len(found) < 3:
        key = str(uuid.uuid4())
        found.setdefault(partitioner(key.encode(), [0, 1, 2], [0, 1, 2]), key)
    return [found[p] for p in (0, 1, 2)]


async def test_partitions_applied_side_by_side_keep_each_ones_order_and_a_failure_stays_in_its_partition(
    infra: Infra,
) -> None:
    run = f"sides-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    dsn = infra.new_database("probe")
    env = settings_env(infra, dsn, PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="3")
    keys = keys_on_three_partitions()
    starts = datetime(2027, 10, 1, 12, tzinfo=UTC)
    messages = []
    for n in range(30):  # interleaved: the three partitions' events wait side by side
        for key in keys:
            event = SignupConfirmed(
                signup_id=str(uuid.uuid4()), activity_id=key, activity_title="Samen koken", starts_at=starts,
                ends_at=starts + timedelta(hours=2), municipality="GM0363", location="Buurtkamer", party_size=1,
                name=f"{'fail-' if (key, n) == (keys[1], 15) else ''}{run}:{n}", email=None, phone=None,
                cancel_url="http://registration.test/x", owner_municipality="GM0363", owner_partner_id=None,
                activity_url="http://registration.test/y")
            value, headers = cloudevent(event)
            messages.append((key.encode(), value, headers))
    failing_id = next(header_value(h, "ce_id") for _, value, h in messages if b'"fail-' in value)
    await start_group_at_end(infra.kafka_bootstrap, group, [SIGNUPS])
    # Everything waits before the consumer starts, so its first fetch holds all three partitions (produced while it
    # runs, a fetch tends to hold one partition's records): the handler is broken from the start.
    pool = await db.create_pool(dsn, max_size=1)
    try:
        await db.migrate(pool, db.load_migrations("runtime", "komerbij.runtime.migrations")
                         + db.load_migrations("probe", "probe.migrations"))
        await pool.execute("UPDATE flags SET broken = true")
    finally:
        await pool.close()
    await produce(infra.kafka_bootstrap, SIGNUPS, messages)
    async with running(spec(group, signups=True), env) as svc:
        await drain(infra.kafka_bootstrap, groups={group: [SIGNUPS]})
        rows = await effects(svc.runtime, run)
        retries = svc.runtime.metrics.retries.labels(SIGNUPS)._value.get()
        batches = svc.runtime.metrics.consumer_batches._value.get()
    dead = await read_topic(infra.kafka_bootstrap, f"{SIGNUPS}.dlq", keep=lambda r: header(r, "ce_id") == failing_id,
                            until=lambda rs: True, to_end=True)
    by_key = {key: [n for _, k, n in rows if k == key] for key in keys}
    assert by_key == {keys[0]: list(range(30)), keys[1]: [n for n in range(30) if n != 15],
                      keys[2]: list(range(30))}  # each once, in its partition's order; the failure held no other
    assert len(rows) == len({eid for eid, _, _ in rows}) == 89
    assert len(dead) == 1 and header(dead[0], "dlq_attempts") == "3"
    assert retries == 2
    assert batches < 10  # the three partitions came together, not one batch per partition's fetch


async def test_a_batch_out_of_time_commits_what_is_done_and_the_rest_comes_again(infra: Infra) -> None:
    """Retrying failing events one by one may outlast Kafka's max.poll.interval.ms; the time budget cuts the batch."""
    run = f"budget-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group, RETRY_MAX_ATTEMPTS="3",
                       CONSUMER_BATCH_TIME_BUDGET_SECONDS="0.1")  # one event's retries take longer than that
    failing = {10, 20, 30}
    messages = []
    for n in range(40):
        value, headers = cloudevent(adjusted("k", n, f"fail-{run}" if n in failing else run))
        messages.append((b"k", value, headers))
    failing_ids = {header_value(messages[n][2], "ce_id") for n in failing}
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    async with running(spec(group), env) as svc:
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute("UPDATE flags SET broken = true")
        await produce(infra.kafka_bootstrap, TOPIC, messages)
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]})
        rows = await effects(svc.runtime, run)
        handed_back = svc.runtime.metrics.consumer_batches_handed_back._value.get()
    dead = await read_topic(infra.kafka_bootstrap, DLQ, keep=lambda r: header(r, "ce_id") in failing_ids,
                            until=lambda rs: True, to_end=True)
    assert [n for _, _, n in rows] == [n for n in range(40) if n not in failing]  # once each, in order
    assert sorted(header(r, "ce_id") for r in dead) == sorted(failing_ids)  # each dead-lettered once
    assert all(header(r, "dlq_attempts") == "3" for r in dead)
    assert handed_back >= 1  # the budget did cut a batch short


def header_value(headers: list, name: str) -> str:
    return next(v.decode() for k, v in headers if k == name)


@pytest.mark.slow
async def test_sigterm_with_messages_in_flight_loses_none_and_applies_none_twice(infra: Infra, tmp_path) -> None:
    run = f"term-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    dsn = infra.new_database("probe")
    # Small batches, so that a stop lands between committed batches and inside one.
    env = settings_env(infra, dsn, PROBE_GROUP=group, PROBE_HANDLER_DELAY="0.02", PYTHONPATH="tests",
                       CONSUMER_BATCH_MAX_RECORDS="10")
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    messages = []
    for i in range(300):
        value, headers = cloudevent(adjusted(f"k{i % 3}", i, run))
        messages.append((f"k{i % 3}".encode(), value, headers))
    service = ServiceProcess("probe", env, tmp_path).start()
    await produce(infra.kafka_bootstrap, TOPIC, messages)

    async def some_done() -> bool:
        return len(await fetch(dsn, "SELECT 1 FROM effects WHERE run = $1", run)) >= 30

    await eventually(some_done)
    code = await asyncio.to_thread(service.terminate)  # SIGTERM mid-stream
    done_at_stop = len(await fetch(dsn, "SELECT 1 FROM effects WHERE run = $1", run))
    # uvicorn re-raises SIGTERM after a clean shutdown, so the exit status is "terminated by SIGTERM"
    assert code in (0, -signal.SIGTERM), service.logs()[-2000:]
    assert '"message": "service stopped"' in service.logs()
    assert done_at_stop < 300  # it really was stopped with work left
    restarted = ServiceProcess("probe", env, tmp_path).start()
    try:
        await drain(infra.kafka_bootstrap, groups={group: [TOPIC]}, timeout=90)
        rows = await fetch(dsn, "SELECT event_id, count(*) AS n FROM effects WHERE run = $1 GROUP BY 1", run)
    finally:
        restarted.terminate()
    assert len(rows) == 300
    assert all(r["n"] == 1 for r in rows)
