"""Replaying a delivery letter (a webhook that failed for good, dead-lettered by notifications) sends that one
delivery again, once: not the event to everyone again, and not nothing (its event is in the inbox already)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from support.infra import Infra
from support.kafka import header, produce, read_topic, start_group_at_end
from support.services import RunningService, eventually, running, settings_env

from komerbij.notifications.app import build_spec
from komerbij.runtime.deadletters import REPLAY_GROUP

from .conftest import Publisher, activity, deliveries_of, make_partner, notification_env
from .receivers import MailSink, WebhookReceiver

TOPIC, DLQ = "registration.activities", "registration.activities.dlq"
MUNICIPALITY = "GM0014"  # Groningen: no other test's partners, and this test's database is its own anyway


@pytest_asyncio.fixture
async def svc(infra: Infra, mail: MailSink) -> AsyncIterator[RunningService]:
    env = settings_env(infra, infra.new_database("letters"), **notification_env(mail))
    group = f"notifications-{uuid.uuid4().hex[:6]}"
    spec = build_spec(group, dispatch_interval=0.1)
    await start_group_at_end(infra.kafka_bootstrap, group, spec.events.topics)  # type: ignore[union-attr]
    async with running(spec, env) as service:
        yield service


def replay(bootstrap: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "komerbij.devtools.cli", "--bootstrap", bootstrap, "dlq", "replay",
                           TOPIC], capture_output=True, text=True, timeout=120)


async def commit_replay_group(bootstrap: str, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=REPLAY_GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(DLQ, 0)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def test_replaying_a_delivery_letter_sends_that_one_delivery_again_once(
    infra: Infra, svc: RunningService, receiver: WebhookReceiver, publisher: Publisher
) -> None:
    run = uuid.uuid4().hex[:6]
    bad, good = receiver.add(f"letter-bad-{run}", always_fail=True), receiver.add(f"letter-good-{run}")
    subscription = {"event_types": ["ActivityPublished"], "municipalities": [MUNICIPALITY], "mode": "immediate"}
    await make_partner(svc.client, hook=(receiver.url(f"letter-bad-{run}"), bad.secret), subscription=subscription)
    await make_partner(svc.client, hook=(receiver.url(f"letter-good-{run}"), good.secret), subscription=subscription)
    await start_group_at_end(infra.kafka_bootstrap, REPLAY_GROUP, [DLQ])  # earlier tests' letters are theirs
    event_id = await publisher.publish(activity(MUNICIPALITY))

    async def failed() -> dict | None:
        found = await deliveries_of(svc.client, event_id, status="failed")
        return found[0] if found else None

    delivery = await eventually(failed)
    letters = await read_topic(infra.kafka_bootstrap, DLQ, keep=lambda r: header(r, "ce_id") == event_id,
                               until=lambda rs: len(rs) >= 1)
    replay_id = f"redelivery:{delivery['id']}:{delivery['attempts']}"
    assert header(letters[0], "dlq_replay_id") == replay_id
    assert len(good.of_event(event_id)) == 1 and len(bad.of_event(event_id)) == delivery["attempts"]

    bad.always_fail = False  # the partner repaired its endpoint
    first = await asyncio.to_thread(replay, infra.kafka_bootstrap)
    assert first.returncode == 0, first.stderr
    assert f"replayed 1 dead letter(s) to {TOPIC}; skipped 0" in first.stdout, first.stdout
    assert f"{event_id} as {replay_id}" in first.stdout

    async def delivered() -> dict | None:
        found = await deliveries_of(svc.client, event_id, status="delivered")
        return next((d for d in found if d["id"] == delivery["id"]), None)

    again = await eventually(delivered)
    assert again["attempts"] == delivery["attempts"] + 1
    assert len(bad.of_event(event_id)) == delivery["attempts"] + 1
    assert len(set(bad.ids_of(event_id))) == 1  # the same webhook-id: a receiver that got it before dedupes
    assert len(good.of_event(event_id)) == 1  # not sent to everyone again

    # A second copy of the letter (the outbox that wrote it publishes at least once) is not replayed again.
    await produce(infra.kafka_bootstrap, DLQ, [(letters[0].key, letters[0].value, list(letters[0].headers))])
    second = await asyncio.to_thread(replay, infra.kafka_bootstrap)
    assert f"replayed 0 dead letter(s) to {TOPIC}; skipped 1" in second.stdout, second.stdout
    assert f"already replayed: {replay_id} went back to its topic once" in second.stdout

    # A run that published the letter and died before committing sends it again, under the same id: the inbox
    # skips it, and the partner gets nothing more.
    duplicates = svc.runtime.metrics.duplicates.labels(TOPIC)
    skipped_before = duplicates._value.get()
    await commit_replay_group(infra.kafka_bootstrap, letters[0].offset)
    rerun = await asyncio.to_thread(replay, infra.kafka_bootstrap)
    assert f"replayed 1 dead letter(s) to {TOPIC}; skipped 1" in rerun.stdout, rerun.stdout

    async def skipped_as_duplicate() -> bool:
        return duplicates._value.get() > skipped_before

    await eventually(skipped_as_duplicate)
    final = next(d for d in await deliveries_of(svc.client, event_id) if d["id"] == delivery["id"])
    assert (final["status"], final["attempts"]) == ("delivered", delivery["attempts"] + 1)
    assert len(bad.of_event(event_id)) == delivery["attempts"] + 1
