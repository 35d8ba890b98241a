"""The dispatcher under ordinary faults: a round that outlives its lease, two dispatchers and a slow receiver, a
webhook answer that trickles or never ends, a person's mails when one of them has to wait for a retry.

Real PostgreSQL, a real SMTP relay (aiosmtpd) and a real HTTP receiver; `dispatch_due` is called as the dispatch job
calls it, by one or by two dispatchers side by side on the same database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio
from support.infra import Infra
from support.services import eventually

from komerbij.contracts.events.notifications import NotificationDelivered
from komerbij.contracts.events.registration import SignupCancelled, SignupPromoted, SignupWaitlisted
from komerbij.notifications.adapters import partners
from komerbij.notifications.service.dispatch import Dispatcher, Outcome, dispatch_due

from .conftest import activity, signup
from .dispatching import attempt_log, database, deliveries_of, dispatcher, outcome_events, record, rounds_until
from .faults import FaultyRelay, SlowReceiver

pytestmark = pytest.mark.asyncio(loop_scope="module")
SECRET = "whsec_" + "a2VybmJpai10ZXN0LXNlY3JldC0yNC1ieXRlcw=="


@pytest_asyncio.fixture(loop_scope="module")
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    async with database(infra, "notiffaults") as p:
        yield p


@pytest.fixture
def relay() -> Iterator[FaultyRelay]:
    server = FaultyRelay().start()
    yield server
    server.stop()


@pytest.fixture
def slow() -> Iterator[SlowReceiver]:
    server = SlowReceiver().start()
    yield server
    server.stop()


def _now() -> datetime:
    return datetime.now(UTC)


class PausedPool:
    """The pool, except that from its `pause_at`-th `acquire` on it waits for `resume`: a dispatcher process that
    stalls (CPU starved, paused by the machine) after sending and before recording, for longer than its lease."""

    def __init__(self, pool: asyncpg.Pool, pause_at: int) -> None:
        self.pool = pool
        self.pause_at = pause_at
        self.taken = 0
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        self.taken += 1
        if self.taken >= self.pause_at:
            self.paused.set()
            await self.resume.wait()
        async with self.pool.acquire() as conn:
            yield conn


async def _webhook_delivery(pool: asyncpg.Pool, url: str) -> asyncpg.Record:
    """A partner with one webhook at `url` subscribed to activities in Zwolle, and one such activity's delivery."""
    partner = f"traag-{uuid.uuid4().hex[:6]}"
    async with pool.acquire() as conn:
        await partners.add_partner(conn, partner, partner, "welfare", None, None)
        await partners.add_webhook(conn, uuid.uuid4(), partner, url, SECRET)
        await partners.add_subscription(conn, uuid.uuid4(), partner, ["ActivityPublished"], ["GM0193"], [],
                                        "immediate")
    [event_id] = await record(pool, [activity("GM0193", title=f"Traag {partner}")])
    [row] = await deliveries_of(pool, [event_id])
    return row


async def test_a_round_that_outlives_its_lease_records_nothing_of_a_row_another_dispatcher_claimed_since(
    pool: asyncpg.Pool, relay: FaultyRelay
) -> None:
    settings = {"delivery_lease_seconds": 3, "smtp_timeout_seconds": 1, "webhook_timeout_seconds": 1}
    stalled = PausedPool(pool, pause_at=2)  # the claim is its first acquire, recording the round its second
    first, second = dispatcher(stalled, relay.port, **settings), dispatcher(pool, relay.port, **settings)
    address = f"lease-{uuid.uuid4().hex[:6]}@voorbeeld.example"
    event_ids = await record(pool, [signup(address)])

    stalled_round = asyncio.create_task(dispatch_due(first, _now()))
    await asyncio.wait_for(stalled.paused.wait(), 30)
    assert len(relay.to(address)) == 1  # sent; the outcome not yet recorded

    async def taken_over() -> list[Outcome]:  # once the lease has run out on the database's clock
        return await dispatch_due(second, _now())

    assert [o.status for o in await eventually(taken_over, interval=0.1)] == ["delivered"]
    stalled.resume.set()
    assert await stalled_round == [], "the stalled round recorded a row that was no longer its own"

    [row] = await deliveries_of(pool, event_ids)
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    # Both attempts as they ended (the first had been marked interrupted by the second claim), one event.
    assert [(n, outcome) for n, outcome, _ in await attempt_log(pool, row["id"])] == [(1, "delivered"),
                                                                                      (2, "delivered")]
    assert [t for t, _ in await outcome_events(pool, row["id"])] == [NotificationDelivered.TYPE]
    # Sent twice (the first outcome came too late to count), with one Message-ID: a mail program shows it once.
    assert list(relay.sends_per_message_id().values()) == [2]


async def test_a_replica_whose_clock_runs_an_hour_ahead_does_not_take_over_a_send_in_flight(
    pool: asyncpg.Pool, relay: FaultyRelay
) -> None:
    relay.data_delay = 2.0  # the relay takes its time over the mail
    sending = dispatcher(pool, relay.port)
    ahead = dispatcher(pool, relay.port)
    ahead.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
    address = f"klok-{uuid.uuid4().hex[:6]}@voorbeeld.example"
    event_ids = await record(pool, [signup(address)])
    in_flight = asyncio.create_task(dispatch_due(sending, _now()))

    async def in_data() -> bool:
        return relay.in_flight[address] == 1

    await eventually(in_data, timeout=30)
    # The lease (120 s) is judged on the database's clock, not on the replica's, which says it ran out long ago.
    assert await dispatch_due(ahead, ahead.clock()) == []
    assert await in_flight == [Outcome("email", "delivered")]
    assert relay.most_in_flight[address] == 1 and len(relay.to(address)) == 1
    [row] = await deliveries_of(pool, event_ids)
    assert await attempt_log(pool, row["id"]) == [(1, "delivered", None)]


async def test_two_dispatchers_with_a_lease_shorter_than_a_slow_webhook_never_have_it_in_flight_twice(
    pool: asyncpg.Pool, relay: FaultyRelay, slow: SlowReceiver
) -> None:
    settings = {"delivery_lease_seconds": 2.5, "smtp_timeout_seconds": 1, "webhook_timeout_seconds": 1,
                "webhook_retry_schedule": "1s,1s,1s"}
    replicas = [dispatcher(pool, relay.port, **settings) for _ in range(2)]
    slow.trickle_for = 8  # the first answer would take far longer than the lease
    row = await _webhook_delivery(pool, slow.url(f"/trickle/{uuid.uuid4().hex[:6]}"))
    done = asyncio.Event()

    async def replica(d: Dispatcher) -> None:
        while not done.is_set():
            await dispatch_due(d, _now())
            await asyncio.sleep(0.05)  # the job's poll

    running = [asyncio.create_task(replica(d)) for d in replicas]
    try:
        async def delivered() -> bool:
            return await pool.fetchval("SELECT status FROM deliveries WHERE id = $1", row["id"]) == "delivered"

        await eventually(delivered, timeout=30)
    finally:
        done.set()
        await asyncio.gather(*running)

    requests = slow.of(row["message_id"])
    assert slow.most_in_flight[row["message_id"]] == 1, "two requests of one delivery in flight at once"
    assert [(r.cut_off, r.finished) for r in requests] == [(True, False), (False, True)]
    assert await attempt_log(pool, row["id"]) == [(1, "error", "timeout after 1s"), (2, "delivered", None)]
    assert [t for t, _ in await outcome_events(pool, row["id"])] == [NotificationDelivered.TYPE]


async def test_a_trickling_webhook_answer_is_cut_off_at_the_total_deadline_and_retried(
    pool: asyncpg.Pool, relay: FaultyRelay, slow: SlowReceiver
) -> None:
    d = dispatcher(pool, relay.port, webhook_timeout_seconds=1, delivery_lease_seconds=30)
    slow.trickle_for = 120  # a byte every 50 ms: no single read ever waits long
    row = await _webhook_delivery(pool, slow.url(f"/trickle/{uuid.uuid4().hex[:6]}"))

    try:
        outcomes = await asyncio.wait_for(dispatch_due(d, _now()), 20)
    except TimeoutError:
        pytest.fail("the trickling receiver still held the round after 20 s (its timeout is 1 s)")

    assert outcomes == [Outcome("webhook", "retrying")]
    assert await attempt_log(pool, row["id"]) == [(1, "error", "timeout after 1s")]
    [request] = slow.of(row["message_id"])
    assert request.written > 0  # it was answering, just never finishing

    async def hung_up() -> bool:
        return request.cut_off

    await eventually(hung_up, timeout=10)


async def test_a_huge_webhook_answer_is_not_read_whole(
    pool: asyncpg.Pool, relay: FaultyRelay, slow: SlowReceiver
) -> None:
    d = dispatcher(pool, relay.port)
    row = await _webhook_delivery(pool, slow.url(f"/huge/{uuid.uuid4().hex[:6]}"))

    outcomes = await dispatch_due(d, _now())

    assert outcomes == [Outcome("webhook", "delivered")]  # a 200 is a 200, however long its body
    [request] = slow.of(row["message_id"])

    async def hung_up() -> bool:
        return request.cut_off or request.finished

    await eventually(hung_up, timeout=30)
    assert request.cut_off and not request.finished
    assert request.written < slow.huge_bytes // 2, f"{request.written} of {slow.huge_bytes} bytes went out"


async def test_a_persons_mails_arrive_one_at_a_time_in_event_order_even_when_one_waits_for_a_retry(
    pool: asyncpg.Pool, relay: FaultyRelay
) -> None:
    tag = uuid.uuid4().hex[:6]
    person = f"deelnemer-{tag}@voorbeeld.example"
    first, later = signup(person), signup(person)
    first = first.model_copy(update={"activity_title": f"Koffie {tag} A"})
    later = later.model_copy(update={"activity_title": f"Wandelen {tag} B"})
    theirs = [first, SignupCancelled(**first.model_dump(), reason="participant"),
              SignupWaitlisted(**later.model_dump(), waitlist_position=3), SignupPromoted(**later.model_dump())]
    others = [signup(f"ander-{i}-{tag}@voorbeeld.example") for i in range(28)]
    # Their mails spread among everyone else's, so that a round's SMTP connections would share them out.
    events = [e for i, mine in enumerate(theirs) for e in (*others[7 * i:7 * i + 7], mine)]
    # The relay greylists the first mail, the confirmation: it comes again later.
    relay.defer_data_once = lambda m: person in str(m["To"]) and str(m["Subject"]).startswith("Bevestiging")
    relay.data_delay = 0.05
    d = dispatcher(pool, relay.port, smtp_connections=4, dispatch_batch_size=40, mail_retry_schedule="0.3s,0.3s")
    event_ids = await record(pool, events)

    await rounds_until(d, pool, event_ids)

    assert [a.subject for a in relay.to(person)] == [
        f"Bevestiging van uw aanmelding: Koffie {tag} A", f"Uw aanmelding is geannuleerd: Koffie {tag} A",
        f"U staat op de wachtlijst: Wandelen {tag} B", f"Er is plek voor u: Wandelen {tag} B"]
    assert relay.most_in_flight[person] == 1, "two of one person's mails were sent at the same time"
    assert set(relay.sends_per_message_id().values()) == {1}
    assert len(relay.accepted) == len(events)

