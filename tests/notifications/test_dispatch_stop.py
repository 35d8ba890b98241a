"""The service as a real process, stopped with SIGTERM in the middle of a dispatch round, then started again.

Every mail the relay took before the stop is recorded as delivered (the round starts no further mail, finishes the
one in flight and records them), the rest are handed back untried, and the restart sends each of those once: the
relay is asked to take each Message-ID exactly once, counted before anyone dedupes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from support.infra import Infra
from support.kafka import header, read_topic, start_group_at_end
from support.services import ServiceProcess, eventually, settings_env

from komerbij.contracts.events.notifications import NotificationDelivered
from komerbij.notifications.app import build_spec
from komerbij.runtime import db

from .conftest import UNSUBSCRIBE_SECRET, signup
from .dispatching import record
from .faults import FaultyRelay

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
MAILS = 12


@pytest.fixture
def relay() -> Iterator[FaultyRelay]:
    server = FaultyRelay().start()
    server.data_delay = 1.0  # a slow relay: the round takes MAILS seconds, one mail after the other
    yield server
    server.stop()


async def test_sigterm_mid_round_records_every_mail_the_relay_took_and_the_restart_sends_none_twice(
    infra: Infra, relay: FaultyRelay, tmp_path: Path
) -> None:
    dsn = infra.new_database("notifstop")
    group = f"notifications-stop-{uuid.uuid4().hex[:6]}"
    await start_group_at_end(infra.kafka_bootstrap, group, build_spec(group).events.topics)  # type: ignore[union-attr]
    env = settings_env(
        infra, dsn, CONSUMER_GROUP=group, SMTP_HOST="127.0.0.1", SMTP_PORT=str(relay.port), SMTP_CONNECTIONS="1",
        SMTP_TIMEOUT_SECONDS="3", WEBHOOK_TIMEOUT_SECONDS="3", UNSUBSCRIBE_SECRET=UNSUBSCRIBE_SECRET,
        DISPATCH_INTERVAL_SECONDS="0.2", MAIL_RETRY_SCHEDULE="0.2s,0.4s",
        # Short enough that a row left claimed by the stopped process would be sent again within the test.
        DELIVERY_LEASE_SECONDS="20",
    )
    first = ServiceProcess("komerbij.notifications", env, tmp_path)
    await asyncio.to_thread(first.start)
    pool = await db.create_pool(dsn, max_size=2)
    try:
        addresses = [f"stop-{i}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for i in range(MAILS)]
        event_ids = await record(pool, [signup(a) for a in addresses])  # one round claims them all
        # This service also mails what other tests' events bring when they share its Kafka: the relay's count is
        # read for this test's Message-IDs, and "recorded as delivered" is checked for every mail it took.
        mine = {r["message_id"] for r in await _rows(pool, event_ids)}

        async def two_taken() -> bool:
            return len(relay.sends_per_message_id(mine)) >= 2

        try:
            await eventually(two_taken, timeout=30)
        finally:
            await asyncio.to_thread(first.terminate)
        assert '"service stopped"' in first.logs(), first.logs()[-3000:]  # a graceful stop, not a kill

        taken = relay.sends_per_message_id(mine)
        rows = await _rows(pool, event_ids)
        assert 2 <= len(taken) < MAILS, "the round was not cut by the stop: nothing proved"
        assert {r["message_id"] for r in rows if r["status"] == "delivered"} == set(taken), \
            "a mail the relay took was not recorded as delivered (it would be sent again)"
        every = await pool.fetch("SELECT message_id FROM deliveries WHERE status = 'delivered'")
        assert {r["message_id"] for r in every} == set(relay.sends_per_message_id()), \
            "a mail the relay took for another test's event was not recorded as delivered"
        assert {r["status"] for r in rows if r["message_id"] not in taken} == {"pending"}
        assert all(r["attempts"] == 1 for r in rows if r["status"] == "delivered")
        assert all(r["attempts"] == 0 for r in rows if r["status"] == "pending"), "untried, and not counted"

        second = ServiceProcess("komerbij.notifications", env, tmp_path)
        await asyncio.to_thread(second.start)
        try:
            async def all_delivered() -> list[asyncpg.Record]:
                found = await _rows(pool, event_ids)
                return found if all(r["status"] == "delivered" for r in found) else []

            rows = await eventually(all_delivered, timeout=60)
            ours = {str(r["id"]) for r in rows}
            published = await read_topic(
                infra.kafka_bootstrap, NotificationDelivered.TOPIC,
                keep=lambda r: json.loads(r.value)["delivery_id"] in ours,
                until=lambda records: {json.loads(r.value)["delivery_id"] for r in records} == ours)
        finally:
            await asyncio.to_thread(second.terminate)

        sends = relay.sends_per_message_id()
        assert sorted(relay.sends_per_message_id(mine)) == sorted(r["message_id"] for r in rows)
        assert set(sends.values()) == {1}, f"sent twice: {[m for m, n in sends.items() if n > 1]}"
        assert all(r["attempts"] == 1 for r in rows)
        logged = await pool.fetch("""SELECT a.outcome FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
                                     WHERE d.event_id = ANY($1::text[])""", event_ids)
        assert [r["outcome"] for r in logged] == ["delivered"] * MAILS
        # Exactly one NotificationDelivered per delivery, as a consumer deduping by event id sees the topic.
        ids_per_delivery: dict[str, set[str | None]] = {}
        for r in published:
            ids_per_delivery.setdefault(json.loads(r.value)["delivery_id"], set()).add(header(r, "ce_id"))
        assert {d: len(ids) for d, ids in ids_per_delivery.items()} == dict.fromkeys(ours, 1)
    finally:
        await pool.close()


async def _rows(pool: asyncpg.Pool, event_ids: list[str]) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT id, status, attempts, message_id FROM deliveries WHERE event_id = ANY($1::text[])",
                            event_ids)
