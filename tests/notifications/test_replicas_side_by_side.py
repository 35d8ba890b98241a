"""Two replicas of notifications on one database, both consuming (one group) and both dispatching: every delivery is
sent once, counted as the SMTP server took the mails. (A lease running out under a slow send is the dispatcher's
fencing, tested with that work.)"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

from support.infra import Infra, fetch
from support.kafka import cloudevent, produce

from komerbij.contracts import CloudEventAttributes
from komerbij.notifications.adapters.mail import Mailer
from komerbij.notifications.service.dispatch import Dispatcher, dispatch_due
from komerbij.notifications.service.routing import record_deliveries_many
from komerbij.notifications.settings import Settings
from komerbij.runtime import db

from .conftest import notifications, settle, signup
from .receivers import MailSink


async def test_two_replicas_side_by_side_send_every_delivery_once(infra: Infra, mail: MailSink) -> None:
    dsn = infra.new_database("notif_replicas")
    addresses = [f"samen-{i}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for i in range(120)]
    async with AsyncExitStack() as stack:
        # Small rounds, so that both dispatchers, woken by the same notifications, claim from the same backlog.
        first = await stack.enter_async_context(notifications(infra, mail, database_url=dsn, DISPATCH_BATCH_SIZE="5"))
        group = first.runtime.spec.events.consumer  # type: ignore[union-attr]
        second = await stack.enter_async_context(notifications(
            infra, mail, database_url=dsn, DISPATCH_BATCH_SIZE="5", group=group))
        messages, event_ids = [], []
        for address in addresses:
            event, event_id = signup(address), str(uuid.uuid4())
            messages.append((event.key.encode(), *cloudevent(event, event_id=event_id)))
            event_ids.append(event_id)
        await produce(infra.kafka_bootstrap, event.TOPIC, messages)
        await settle(infra, first)
        sent_by = [sum(s.value for family in svc.runtime.metrics.registry.collect()
                       if family.name == "komerbij_deliveries" for s in family.samples
                       if s.name == "komerbij_deliveries_total" and s.labels["status"] == "delivered")
                   for svc in (first, second)]
    # This test's deliveries by their events: on a Kafka shared with another test run, the replicas also mail
    # the sign-ups of that run's events (those too must be sent once: the counters add up to all delivered rows).
    rows = await fetch(dsn, """SELECT status, attempts, count(*) AS n FROM deliveries WHERE event_id = ANY($1::text[])
                               GROUP BY 1, 2""", event_ids)
    assert [(r["status"], r["attempts"], r["n"]) for r in rows] == [("delivered", 1, 120)]
    ours = set(addresses)
    assert sorted(rcpts[0] for rcpts, _ in mail.messages if rcpts[0] in ours) == sorted(addresses)  # each once
    [every] = await fetch(dsn, "SELECT count(*) AS n, count(*) FILTER (WHERE attempts = 1) AS once FROM deliveries "
                               "WHERE status = 'delivered'")
    assert every["n"] == every["once"] == len(mail.messages), "every mail sent once"
    assert sum(sent_by) == len(mail.messages) and min(sent_by) > 0, sent_by  # both did send


async def test_dispatchers_claiming_at_the_same_moment_never_take_the_same_delivery(
    infra: Infra, mail: MailSink
) -> None:
    """The claim itself under contention: eight dispatchers on one database claim rounds at once until nothing is
    due (the replicas above rarely claim in the same millisecond)."""
    migrations = (db.load_migrations("runtime", "komerbij.runtime.migrations")
                  + db.load_migrations("notifications", "komerbij.notifications.migrations"))
    pool = await db.create_pool(infra.new_database("notif_claims"), max_size=10)
    try:
        await db.migrate(pool, migrations)
        addresses = [f"tegelijk-{i}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for i in range(200)]
        items = [(e, CloudEventAttributes(id=str(uuid.uuid4()), source="/tests", type=e.TYPE, subject=e.key), e.TOPIC)
                 for e in map(signup, addresses)]
        async with pool.acquire() as conn, conn.transaction():
            await record_deliveries_many(conn, items, now=datetime.now(UTC) - timedelta(seconds=1))
        settings = Settings(database_url="postgresql://unused", kafka_bootstrap_servers="unused",
                            jwt_secret="jwt-secret-for-tests", smtp_port=mail.port, dispatch_batch_size=7)
        mailer = Mailer(host="127.0.0.1", port=mail.port, sender=settings.mail_from, timeout=10)

        async def until_nothing_due(d: Dispatcher) -> int:
            sent = 0
            while outcomes := await dispatch_due(d, datetime.now(UTC)):
                sent += len(outcomes)
            return sent

        dispatchers = [Dispatcher(pool, settings, mailer, "/tests", lambda: datetime.now(UTC)) for _ in range(8)]
        sent = await asyncio.gather(*map(until_nothing_due, dispatchers))
        rows = await pool.fetch("SELECT status, attempts, count(*) AS n FROM deliveries GROUP BY 1, 2")
    finally:
        await pool.close()
    assert [(r["status"], r["attempts"], r["n"]) for r in rows] == [("delivered", 1, 200)]
    assert sorted(rcpts[0] for rcpts, _ in mail.messages) == sorted(addresses)
    assert sum(sent) == 200 and sum(1 for n in sent if n) > 1, sent
