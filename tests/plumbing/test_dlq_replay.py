"""`komerbij dlq replay`: every dead letter takes effect once, and the command says what it replayed and what it
skipped, and why."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from probe import effects, spec
from support.infra import Infra
from support.kafka import cloudevent, produce, read_topic, start_group_at_end
from support.services import eventually, running, settings_env

from komerbij.contracts.events.materials import StockAdjusted
from komerbij.runtime.deadletters import REPLAY_GROUP

TOPIC, DLQ = "materials.stock", "materials.stock.dlq"


def replay(bootstrap: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "komerbij.devtools.cli", "--bootstrap", bootstrap, "dlq", "replay",
                           TOPIC], capture_output=True, text=True, timeout=120)


def letter(headers: list[tuple[str, bytes]], error_class: str, group: str) -> list[tuple[str, bytes]]:
    """Headers as the consumer writes them on a dead letter (see komerbij.runtime.deadletters)."""
    extra = {"error_class": error_class, "error_message": "probe", "topic": TOPIC, "partition": "0",
             "offset": "0", "group": group, "attempts": "3", "at": "2026-10-01T12:00:00+00:00"}
    return headers + [(f"dlq_{k}", v.encode()) for k, v in extra.items()]


async def commit_replay_group(bootstrap: str, offset: int) -> None:
    """Where the replay group stands after a run that published but died before committing."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=REPLAY_GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(DLQ, 0)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def test_replay_applies_each_letter_once_skips_what_it_cannot_mend_and_says_so(infra: Infra) -> None:
    run = f"replay-{uuid.uuid4().hex[:6]}"
    group = f"g-{run}"
    env = settings_env(infra, infra.new_database("probe"), PROBE_GROUP=group)
    event = StockAdjusted(sku="k", name="probe", stock_on_hand=5, reserved=0, delta=1, reason=run)
    value, headers = cloudevent(event)
    event_id = dict(headers)["ce_id"].decode()
    _, poison_headers = cloudevent(event)
    await start_group_at_end(infra.kafka_bootstrap, group, [TOPIC])
    await start_group_at_end(infra.kafka_bootstrap, REPLAY_GROUP, [DLQ])  # earlier tests' letters are theirs
    async with running(spec(group), env) as svc:
        before = await read_topic(infra.kafka_bootstrap, DLQ, until=lambda rs: True, to_end=True)
        first_offset = before[-1].offset + 1 if before else 0
        await produce(infra.kafka_bootstrap, DLQ, [
            (b"k", b"this is {not json", letter(poison_headers, "MalformedJSON", group)),
            (b"k", value, letter(headers, "RuntimeError", group)),  # the handler failed; fixed since
            (b"k", value, letter(headers, "RuntimeError", group)),  # the same letter twice (a redelivery failed too)
        ])

        first = await asyncio.to_thread(replay, infra.kafka_bootstrap)
        assert first.returncode == 0, first.stderr
        assert f"replayed 1 dead letter(s) to {TOPIC}; skipped 2" in first.stdout, first.stdout
        assert f"skipped  0/{first_offset} " in first.stdout and "not JSON" in first.stdout
        assert f"skipped  0/{first_offset + 2} " in first.stdout and "already replayed" in first.stdout
        assert f"replayed 0/{first_offset + 1} {StockAdjusted.TYPE} {event_id} (group {group}" in first.stdout
        rows = await eventually(lambda: effects(svc.runtime, run))
        assert [(eid, n) for eid, _, n in rows] == [(event_id, 5)]
        # Nothing poisoned came back: the broken letter was not sent round again.
        dead = await read_topic(infra.kafka_bootstrap, DLQ, until=lambda rs: True, to_end=True)
        assert len(dead) == len(before) + 3

        again = await asyncio.to_thread(replay, infra.kafka_bootstrap)
        assert "replayed 0 dead letter(s)" in again.stdout and "skipped 0" in again.stdout, again.stdout

        # A run that published the letter and died before committing: the next run sends it again, under the
        # same id, and the consumer's inbox skips it.
        duplicates = svc.runtime.metrics.duplicates.labels(TOPIC)
        skipped_before = duplicates._value.get()
        await commit_replay_group(infra.kafka_bootstrap, first_offset + 1)
        rerun = await asyncio.to_thread(replay, infra.kafka_bootstrap)
        assert f"replayed 1 dead letter(s) to {TOPIC}; skipped 1" in rerun.stdout, rerun.stdout

        async def skipped_as_duplicate() -> bool:
            return duplicates._value.get() > skipped_before

        await eventually(skipped_as_duplicate)
        rows = await effects(svc.runtime, run)
    assert [(eid, n) for eid, _, n in rows] == [(event_id, 5)]
