"""The dispatcher woken by the deliveries it is to send (LISTEN/NOTIFY), not by its poll: here the poll is an hour.

Real Kafka, PostgreSQL and SMTP (aiosmtpd). No clock is read: once the dispatcher has made the round every start
makes and waits for the hour, any mail that arrives within the test's deadline (a minute at most) was sent because
a notification woke it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from support.infra import Infra
from support.services import RunningService, eventually

from komerbij.notifications.adapters.deliveries import CHANNEL
from komerbij.runtime.wakeup import Wakeup

from .conftest import Publisher, activity, make_partner, notifications, settle, signup
from .receivers import MailSink

POLL = 3600.0


@pytest_asyncio.fixture
async def svc(infra: Infra, mail: MailSink) -> AsyncIterator[RunningService]:
    async with notifications(infra, mail, dispatch_interval=POLL) as service:
        await eventually(lambda: _rounds(service))  # the start-up round is over: from here on it waits the hour
        yield service


async def _rounds(svc: RunningService) -> float:
    """Dispatch rounds finished (the job's runs): the first is the look every start takes."""
    return svc.runtime.metrics.job_runs.labels("dispatch", "ok")._value.get()


async def _listener_pids(svc: RunningService) -> list[int]:
    rows = await svc.runtime.pool.fetch(
        """SELECT pid FROM pg_stat_activity
           WHERE datname = current_database() AND query LIKE 'LISTEN %deliveries%'""")
    return [r["pid"] for r in rows]


async def test_a_new_delivery_is_mailed_at_once_although_the_poll_is_an_hour(
    svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    participant = f"snel-{uuid.uuid4().hex[:6]}@voorbeeld.example"
    await publisher.publish(signup(participant))
    await eventually(lambda: mail.received(participant), timeout=60)  # a minute, against a poll of an hour


async def test_the_mails_of_one_round_share_the_rounds_smtp_connections(
    infra: Infra, svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    addresses = [f"amersfoort-{i}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for i in range(12)]
    for address in addresses:
        await make_partner(svc.client, contact=address, subscription={
            "event_types": ["ActivityPublished"], "municipalities": ["GM0307"], "mode": "immediate"})
    before = mail.connections
    event_id = await publisher.publish(activity("GM0307", title=f"Samen koken {uuid.uuid4().hex[:6]}"))
    await settle(infra, svc)
    # The consumer records the event's 12 deliveries in one transaction, so one notification, one round: one SMTP
    # connection per 8 deliveries of the round (the exact count per round size is in test_dispatch_round_trips.py).
    assert mail.connections - before == 2
    assert sorted(rcpts[0] for rcpts, _ in mail.messages) == sorted(addresses)
    rows = await svc.runtime.pool.fetch(
        "SELECT message_id FROM deliveries WHERE event_id = $1 AND status = 'delivered'", event_id)
    assert sorted(r["message_id"] for r in rows) == sorted(mail.for_address(a)[0]["Message-ID"] for a in addresses)


async def test_the_dispatcher_listens_again_when_its_connection_is_cut(
    svc: RunningService, mail: MailSink, publisher: Publisher
) -> None:
    [pid] = await _listener_pids(svc)
    rounds = await _rounds(svc)
    assert await svc.runtime.pool.fetchval("SELECT pg_terminate_backend($1)", pid)

    async def listening_again() -> list[int]:
        pids = await _listener_pids(svc)
        return pids if pids and pid not in pids else []

    await eventually(listening_again)
    # The lost connection ends the wait (a round), and listening again it looks once for what it may have missed
    # (another): both are over before anything is published, so only the new LISTEN can bring the next mail.
    await eventually(lambda: _more_than(svc, rounds + 1))
    participant = f"weer-{uuid.uuid4().hex[:6]}@voorbeeld.example"
    await publisher.publish(signup(participant))
    await eventually(lambda: mail.received(participant), timeout=60)


async def _more_than(svc: RunningService, n: float) -> bool:
    return await _rounds(svc) > n


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
