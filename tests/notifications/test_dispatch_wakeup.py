"""The dispatcher woken by the deliveries it is to send (LISTEN/NOTIFY), not by its poll: here the poll is a minute.

Real Kafka, PostgreSQL and SMTP (aiosmtpd). Times are taken from the database's own rows (the consumer's
transaction, the attempt), so the consumer joining its group does not count.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from support.infra import Infra
from support.kafka import start_group_at_end
from support.services import RunningService, eventually, running, settings_env

from komerbij.notifications.adapters.deliveries import CHANNEL
from komerbij.notifications.app import build_spec
from komerbij.runtime.wakeup import Wakeup

from .conftest import Publisher, activity, make_partner, notification_env, signup
from .receivers import MailSink

pytestmark = pytest.mark.asyncio(loop_scope="module")
POLL = 60.0
PROMPT = timedelta(seconds=2)  # from the consumer's commit to the round that sends: milliseconds when woken


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def svc(infra: Infra, mail: MailSink) -> AsyncIterator[RunningService]:
    env = settings_env(infra, infra.new_database("notifwake"), **notification_env(mail))
    group = f"notifications-wake-{uuid.uuid4().hex[:6]}"
    spec = build_spec(group, dispatch_interval=POLL)
    await start_group_at_end(infra.kafka_bootstrap, group, spec.events.topics)  # type: ignore[union-attr]
    async with running(spec, env) as service:
        yield service


async def _to_dispatch(svc: RunningService, event_id: str) -> list[timedelta]:
    """Per delivery of the event: from the row's creation (the consumer's transaction) to its first attempt."""
    rows = await svc.runtime.pool.fetch(
        """SELECT a.started_at - d.created_at AS waited FROM deliveries d
           JOIN delivery_attempts a ON a.delivery_id = d.id AND a.attempt = 1
           WHERE d.event_id = $1 AND d.status = 'delivered'""", event_id)
    return [r["waited"] for r in rows]


async def _listener_pids(svc: RunningService) -> list[int]:
    rows = await svc.runtime.pool.fetch(
        """SELECT pid FROM pg_stat_activity
           WHERE datname = current_database() AND query LIKE 'LISTEN %deliveries%'""")
    return [r["pid"] for r in rows]


async def test_a_new_delivery_is_mailed_at_once_although_the_poll_is_a_minute(
    svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    participant = f"snel-{uuid.uuid4().hex[:6]}@voorbeeld.example"
    event_id = await publisher.publish(signup(participant))
    await eventually(lambda: mail.received(participant), timeout=POLL / 2)
    waited = await eventually(lambda: _to_dispatch(svc, event_id))
    assert waited and max(waited) < PROMPT, waited


async def test_the_mails_of_one_round_share_the_rounds_smtp_connections(
    svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    addresses = [f"amersfoort-{i}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for i in range(12)]
    for address in addresses:  # Amersfoort: no other test publishes there
        await make_partner(svc.client, contact=address, subscription={
            "event_types": ["ActivityPublished"], "municipalities": ["GM0307"], "mode": "immediate"})
    before = mail.connections
    event_id = await publisher.publish(activity("GM0307", title=f"Samen koken {uuid.uuid4().hex[:6]}"))

    async def all_mailed() -> bool:
        return all(mail.for_address(a) for a in addresses)

    await eventually(all_mailed, timeout=POLL / 2)
    # One connection per 8 deliveries of the round: 2 for these 12, one more if another test's pending mails share
    # the round (the exact count per round size is tested in test_dispatch_round_trips.py) — never one per mail.
    assert 2 <= mail.connections - before <= 3
    rows = await svc.runtime.pool.fetch(
        "SELECT message_id FROM deliveries WHERE event_id = $1 AND status = 'delivered'", event_id)
    assert sorted(r["message_id"] for r in rows) == sorted(mail.for_address(a)[0]["Message-ID"] for a in addresses)


async def test_the_dispatcher_listens_again_when_its_connection_is_cut(
    svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    [pid] = await _listener_pids(svc)
    assert await svc.runtime.pool.fetchval("SELECT pg_terminate_backend($1)", pid)

    async def listening_again() -> list[int]:
        pids = await _listener_pids(svc)
        return pids if pids and pid not in pids else []

    await eventually(listening_again, timeout=POLL / 4)
    participant = f"weer-{uuid.uuid4().hex[:6]}@voorbeeld.example"
    event_id = await publisher.publish(signup(participant))
    await eventually(lambda: mail.received(participant), timeout=POLL / 2)
    waited = await eventually(lambda: _to_dispatch(svc, event_id))
    assert waited and max(waited) < PROMPT, waited


async def test_without_a_notification_the_wait_ends_at_the_poll_interval(svc: RunningService) -> None:
    """What picks up retries (due later, no notification) and anything missed while not listening."""
    wakeup = Wakeup(svc.runtime.settings.database_url, CHANNEL)
    try:
        await wakeup.listen()
        assert wakeup.listening
        assert await wakeup.wait(5), "the first wait returns at once: work may be waiting from before the start"
        assert not await wakeup.wait(0.3)
        await svc.runtime.pool.execute("SELECT pg_notify('deliveries', '')")
        assert await wakeup.wait(5)
    finally:
        await wakeup.close()
    assert not wakeup.listening
