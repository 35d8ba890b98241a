"""A dispatch round costs a few PostgreSQL statements for the whole round, not a few per delivery.

Real PostgreSQL and SMTP (aiosmtpd), a webhook receiver; `dispatch_due` called directly with a pool that counts every
statement its connections issue (asyncpg's query logger) and every connection taken from it (each costs a reset
query on release). Reintroducing a per-delivery query makes the counts grow with the round and fails these tests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from support.infra import Infra
from support.services import eventually

from komerbij.contracts import CloudEventAttributes
from komerbij.contracts.events.base import Event
from komerbij.contracts.events.notifications import NotificationDelivered
from komerbij.notifications.adapters import deliveries, partners
from komerbij.notifications.adapters.mail import Mailer
from komerbij.notifications.service.dispatch import Dispatcher, dispatch_due
from komerbij.notifications.service.routing import record_deliveries_many
from komerbij.notifications.settings import Settings
from komerbij.runtime import db

from .conftest import UNSUBSCRIBE_SECRET, activity, signup
from .receivers import MailSink, WebhookReceiver

# Mails to addresses: the claim (attempts included), the round's notices, then one transaction (BEGIN, attempts,
# statuses, the outbox events in one pipelined executemany, COMMIT). Per-delivery queries made it 9 per mail + 3.
MAX_STATEMENTS_MAIL_ROUND = 7
# With contacts and webhooks, some failing: + contacts, webhooks, webhooks succeeded, webhooks failing.
MAX_STATEMENTS_MIXED_ROUND = 11
MAX_CONNECTIONS_PER_ROUND = 2
# asyncpg's one-off type introspection of a connection (cached afterwards), not the dispatcher's statements.
_INTROSPECTION = ("SELECT current_setting('jit')", "WITH RECURSIVE typeinfo_tree", "SELECT set_config('jit'")


class CountingPool:
    """An asyncpg pool whose connections report each statement they run while lent out."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.statements: list[str] = []
        self.acquired = 0

    def _log(self, record: Any) -> None:
        query = " ".join(record.query.split())
        if not query.startswith(_INTROSPECTION):
            self.statements.append(query[:80])

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn:
            self.acquired += 1
            conn.add_query_logger(self._log)
            try:
                yield conn
            finally:
                conn.remove_query_logger(self._log)

    def reset(self) -> None:
        self.statements.clear()
        self.acquired = 0


@pytest_asyncio.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    """A database of the test's own: `dispatch_due` sends everything due in it, so no earlier test's rows may wait
    there (the mixed round leaves webhook retries due a second later)."""
    migrations = (db.load_migrations("runtime", "komerbij.runtime.migrations")
                  + db.load_migrations("notifications", "komerbij.notifications.migrations"))
    pool = await db.create_pool(infra.new_database("notifrounds"), max_size=4)
    try:
        await db.migrate(pool, migrations)
        yield pool
    finally:
        await pool.close()


def _dispatcher(pool: CountingPool, mail: MailSink, batch_size: int) -> Dispatcher:
    settings = Settings(database_url="postgresql://unused", kafka_bootstrap_servers="unused",
                        jwt_secret="jwt-secret-for-tests", unsubscribe_secret=UNSUBSCRIBE_SECRET,
                        smtp_port=mail.port, dispatch_batch_size=batch_size,
                        webhook_retry_schedule="1s,2s", retry_jitter=0)
    mailer = Mailer(host="127.0.0.1", port=mail.port, sender=settings.mail_from, timeout=10)
    return Dispatcher(pool, settings, mailer, "/komerbij/tests", lambda: datetime.now(UTC))  # type: ignore[arg-type]


async def _record(pool: asyncpg.Pool, events: list[Event]) -> list[str]:
    """Records the deliveries of `events` (due a second ago); returns their event ids."""
    items = [(e, CloudEventAttributes(id=str(uuid.uuid4()), source="/komerbij/tests", type=e.TYPE, subject=e.key),
              e.TOPIC) for e in events]
    async with pool.acquire() as conn, conn.transaction():
        await record_deliveries_many(conn, items, now=datetime.now(UTC) - timedelta(seconds=1))
    return [attrs.id for _, attrs, _ in items]


async def _round(d: Dispatcher, counting: CountingPool) -> list[str]:
    counting.reset()
    outcomes = await dispatch_due(d, datetime.now(UTC))
    return [f"{o.channel}:{o.status}" for o in outcomes]


@pytest.mark.parametrize("size", [1, 20, 100])
async def test_a_round_of_participant_mails_issues_the_same_few_statements_whatever_its_size(
    pool: asyncpg.Pool, mail: MailSink, size: int
) -> None:
    counting = CountingPool(pool)
    d = _dispatcher(counting, mail, batch_size=size)
    addresses = [f"ronde-{i}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for i in range(size)]
    event_ids = await _record(pool, [signup(a) for a in addresses])

    outcomes = await _round(d, counting)

    assert outcomes == ["email:delivered"] * size
    assert sorted(rcpts[0] for rcpts, _ in mail.messages) == sorted(addresses)  # each exactly once
    print(f"\n{size} mails: {len(counting.statements)} statements, {counting.acquired} connections")
    assert len(counting.statements) <= MAX_STATEMENTS_MAIL_ROUND, counting.statements
    assert counting.acquired <= MAX_CONNECTIONS_PER_ROUND
    rows = await pool.fetch("""SELECT d.status, d.attempts, a.outcome, a.finished_at IS NOT NULL AS finished
                               FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id
                               WHERE d.event_id = ANY($1::text[])""", event_ids)
    assert len(rows) == size
    assert {tuple(r) for r in rows} == {("delivered", 1, "delivered", True)}
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE event_id = ANY($1::text[]) AND address IS NULL",
                               event_ids) == size, "a final outcome drops the address"
    events = [json.loads(e["payload"]) for e in
              await pool.fetch("SELECT payload FROM outbox WHERE type = $1", NotificationDelivered.TYPE)]
    ours = [e for e in events if e["event_id"] in event_ids]
    assert len({e["delivery_id"] for e in ours}) == len(ours) == size


async def test_a_mixed_round_of_contacts_webhooks_and_failures_stays_within_the_same_bound(
    pool: asyncpg.Pool, mail: MailSink, receiver: WebhookReceiver
) -> None:
    counting = CountingPool(pool)
    d = _dispatcher(counting, mail, batch_size=40)
    tag = uuid.uuid4().hex[:6]
    async with pool.acquire() as conn:
        for i in range(3):  # Zwolle: each partner one contact mail and one webhook per activity
            pid = f"ronde-{tag}-{i}"
            await partners.add_partner(conn, pid, pid, "welfare", None, None)
            await partners.add_contact(conn, uuid.uuid4(), pid, f"Contact {i}", f"{pid}@voorbeeld.example")
            hook = receiver.add(f"{pid}-hook", fail_first=1 if i == 0 else 0)
            await partners.add_webhook(conn, uuid.uuid4(), pid, receiver.url(f"{pid}-hook"), hook.secret)
            await partners.add_subscription(conn, uuid.uuid4(), pid, ["ActivityPublished"], ["GM0193"], [],
                                            "immediate")
    event_ids = await _record(pool, [activity("GM0193", title=f"Ronde {tag} {n}") for n in range(4)])

    outcomes = await _round(d, counting)

    # A contact's mails go out one at a time, in event order: a round sends each contact's first.
    assert sorted(outcomes) == sorted(["email:delivered"] * 3 + ["webhook:delivered"] * 8
                                      + ["webhook:retrying"] * 4)
    assert len(mail.messages) == 12
    print(f"\n24 mixed: {len(counting.statements)} statements, {counting.acquired} connections")
    assert len(counting.statements) <= MAX_STATEMENTS_MIXED_ROUND, counting.statements
    assert counting.acquired <= MAX_CONNECTIONS_PER_ROUND
    for _ in range(3):  # and each next round the next
        assert [o for o in await _round(d, counting) if o.startswith("email")] == ["email:delivered"] * 3
        assert len(counting.statements) <= MAX_STATEMENTS_MIXED_ROUND, counting.statements

    async def all_delivered() -> bool:  # the retried webhooks too: nothing left due for the next tests' rounds
        await _round(d, counting)
        return not await pool.fetchval("""SELECT count(*) FROM deliveries WHERE event_id = ANY($1::text[])
                                          AND status <> 'delivered'""", event_ids)

    await eventually(all_delivered)


async def test_a_round_that_cannot_be_recorded_at_once_is_recorded_one_by_one_and_a_bad_row_waits_for_its_lease(
    pool: asyncpg.Pool, mail: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = [f"los-{i}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for i in range(3)]
    event_ids = await _record(pool, [signup(a) for a in addresses])
    bad = await pool.fetchval("SELECT id FROM deliveries WHERE event_id = $1", event_ids[1])
    real = deliveries.set_outcomes

    async def refusing(conn: asyncpg.Connection, now: datetime, outcomes: list[Any]) -> None:
        if len(outcomes) > 1 or outcomes[0][0] == bad:
            raise RuntimeError("refused for the test")
        await real(conn, now, outcomes)

    monkeypatch.setattr(deliveries, "set_outcomes", refusing)
    counting = CountingPool(pool)
    outcomes = await _round(_dispatcher(counting, mail, batch_size=10), counting)

    assert outcomes == ["email:delivered"] * 2
    rows = await pool.fetch("""SELECT d.id, d.status, a.outcome FROM deliveries d
                               JOIN delivery_attempts a ON a.delivery_id = d.id
                               WHERE d.event_id = ANY($1::text[])""", event_ids)
    assert sorted((r["status"], r["outcome"]) for r in rows if r["id"] != bad) == [("delivered", "delivered")] * 2
    # Nothing of the bad row's transaction stayed: still claimed, so the lease brings it back.
    assert [(r["status"], r["outcome"]) for r in rows if r["id"] == bad] == [("sending", "sending")]
    events = [json.loads(e["payload"])["event_id"] for e in
              await pool.fetch("SELECT payload FROM outbox WHERE type = $1", NotificationDelivered.TYPE)]
    assert sorted(e for e in events if e in event_ids) == sorted([event_ids[0], event_ids[2]])


@pytest.mark.parametrize(("mails", "most", "lanes"), [(20, 1, 1), (40, 4, 4), (20, 4, 3), (5, 4, 1)])
async def test_a_round_spreads_its_mails_over_smtp_connections_opened_once(
    pool: asyncpg.Pool, mail: MailSink, mails: int, most: int, lanes: int
) -> None:
    d = _dispatcher(CountingPool(pool), mail, batch_size=mails)
    d.settings = d.settings.model_copy(update={"smtp_connections": most})
    addresses = [f"baan-{i}-{uuid.uuid4().hex[:6]}@voorbeeld.example" for i in range(mails)]
    await _record(pool, [signup(a) for a in addresses])
    before = mail.connections

    outcomes = await dispatch_due(d, datetime.now(UTC))

    assert [o.status for o in outcomes] == ["delivered"] * mails
    assert sorted(rcpts[0] for rcpts, _ in mail.messages) == sorted(addresses)
    assert mail.connections - before == lanes  # one per 8 mails at most, each connecting once for its first mail
