"""Consuming events: typed handlers behind one batch subscriber per service, with inbox, retries and dead letters.

A service declares handlers on an `EventRouter`:

    router = EventRouter("notifications")

    @router.on(ActivityPublished)
    async def on_published(event: ActivityPublished, ctx: EventContext) -> None:
        await routing.fan_out(ctx.conn, event, ctx.attributes)

or, where the handler can do a whole run of events with a few set-based statements, `@router.on_batch(...)`
with `async def handler(batch: list[tuple[Event, EventContext]]) -> None` (all contexts share one connection).

Records arrive in batches (up to `CONSUMER_BATCH_MAX_RECORDS` per fetch), because per-event round trips, not Python,
were the cost (BENCHMARKS.md, scenario 3: one transaction and one offset commit per event capped a consumer at
~190 events/s). The one rule over everything below: **every record is applied or dead-lettered before its offset is
committed, never skipped.** For each batch, in order:
1. Each record is parsed by our own code. FastStream's parser is replaced by one that reads nothing (its header
   decoding failed on a null or non-UTF-8 header value and lost the whole batch without a nack). Whatever Kafka
   allows is tolerated: null or non-UTF-8 values of headers that are not ours, an empty or null value, no key. A
   record that cannot be made into an event (not JSON, JSON Python refuses such as a 5,000-digit number or
   100,000-deep nesting, fails its schema, CloudEvents headers missing or unreadable, any other exception while
   parsing) is a `PoisonMessage`: it goes to `<topic>.dlq` at once with the reason, and the rest of the batch goes on.
2. Per partition of the batch, one PostgreSQL transaction records every event id in the inbox with one statement
   and runs the handlers of the events seen for the first time, in the partition's order, so a redelivered event has
   no second effect. The partitions of a batch go side by side, each on a connection of its own (order is only ever
   a partition's; side by side, PostgreSQL works on one while Python builds the next one's rows); everything below
   is per partition, and the batch is handed back only when every partition has run to its end.
3. If a handler fails, that transaction is rolled back; the events before the failing one are applied again in a
   transaction of their own, the failing one is retried alone with exponential backoff and dead-lettered alone after
   the last attempt (at once, if the handler raised `PoisonMessage`), and the batch goes on after it. So a
   partition's events still take effect in order and one bad event neither blocks nor takes down the others.
   (A failing batch handler is first split into single
   events, to find the one that fails; a transaction that fails outside any handler, e.g. a deferred constraint at
   COMMIT, is split into one transaction per event, so that only the event whose own commit fails is retried.)
4. **Infrastructure failures are not event failures.** PostgreSQL unreachable or refusing connections, a session cut
   off (also at COMMIT), the pool or a connection timing out, a serialization failure (40001) or deadlock (40P01),
   a dead-letter publish Kafka did not take: none of these is an attempt of an event, and none dead-letters one.
   The transaction is rolled back, what the batch had done stays done, every partition is sought back to its first
   record not yet done, and the consumer backs off; for PostgreSQL it probes the database (`SELECT 1`) with
   exponential backoff, meanwhile `komerbij_consumer_waiting_for_database` is 1 and `/readyz` says not ready. The
   records come again with the next fetch and are applied once PostgreSQL answers: in order, each effect once (a
   commit whose outcome was unknown is harmless to redo, the inbox row committed with it).
5. The batch's offsets are committed only after that (FastStream `AckPolicy.NACK_ON_ERROR`), for each partition up
   to its first record not done: at-least-once delivery, effectively once with the inbox.
6. A batch has a time budget (`CONSUMER_BATCH_TIME_BUDGET_SECONDS`): Kafka drops a consumer from its group when it
   does not fetch for `max.poll.interval.ms` (`MAX_POLL_INTERVAL_MS`, 300 s), and retrying failing events one by one
   can take longer than that. When the budget is spent before another event would be retried, what is done is
   committed and the rest of the batch is sought back, to come again with the next fetch. Only an event behind
   others done in its partition in this batch is cut short; the first one gets all its attempts, whatever they
   cost, so every batch gets further.

Why waiting for PostgreSQL never costs the group membership: the wait happens inside the handler, but it ends when
PostgreSQL answers or the batch's time budget is spent (if that already is, after one backoff step of at most
`INFRASTRUCTURE_MAX_BACKOFF` seconds); then the handler returns, the offsets before the undone records are committed,
and the next fetch brings the same records back. A handler call therefore lasts about budget + one backoff step + one
probe (`ACQUIRE_TIMEOUT`), whatever the outage's length: an hour-long outage is many short fetch-fail-wait rounds,
each far under max.poll.interval.ms, with heartbeats from aiokafka's own task in between, so the consumer stays in
its group and keeps its partitions (a test holds a 25 s outage against a 10 s max.poll.interval.ms). Seeking back
rather than pausing the partitions is the time budget's mechanism reused; its cost is fetching the records again once
per round. What this does not bound is a single statement hanging on a network that drops packets silently; TCP
keepalives or `statement_timeout` bound that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError
from faststream import AckPolicy, Context
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaAckableMessage, KafkaMessage
from pydantic import ValidationError

from komerbij.contracts import CloudEventAttributes, Event, from_kafka_headers
from komerbij.contracts.topics import dlq_of
from komerbij.runtime import logs
from komerbij.runtime.deadletters import dead_letter_headers, describe
from komerbij.runtime.metrics import Metrics
from komerbij.runtime.outbox import add_event

log = logging.getLogger(__name__)


POISON_CLASSES = ("MissingCloudEventsHeaders", "MalformedJSON", "SchemaValidationError", "UnreadableMessage")
# How long a fetch waits for records; when none came, FastStream also sleeps this long before the next fetch, so it
# bounds the extra latency an event arriving on an idle consumer sees.
BATCH_TIMEOUT_MS = 50
# Kafka's default, set explicitly because every wait here is measured against it (see the module docstring).
MAX_POLL_INTERVAL_MS = 300_000
# Longest wait for a pooled connection (a new one included); beyond it PostgreSQL counts as unreachable.
ACQUIRE_TIMEOUT = 10.0
# Backoff between attempts to reach PostgreSQL (or Kafka, for a dead letter) again: doubles per failed round.
INFRASTRUCTURE_INITIAL_BACKOFF = 0.1
INFRASTRUCTURE_MAX_BACKOFF = 5.0
# Partitions of one batch applied side by side, each holding one pooled connection at a time: well under the pool's
# size (DB_POOL_MAX_SIZE, 10), so the API and the dispatcher keep theirs, and a waiting partition waits here, not in
# the pool (where ACQUIRE_TIMEOUT would call it an outage). Two cores gain nothing from more.
PARTITIONS_SIDE_BY_SIDE = 3
# SQLSTATEs (or their classes) that say "the database, not the event": connection exception, insufficient
# resources, system error, admin/crash shutdown, cannot connect now, serialization failure, deadlock.
_INFRASTRUCTURE_SQLSTATES = ("08", "53", "58", "57P01", "57P02", "57P03", "40001", "40P01")


class PoisonMessage(Exception):
    """A message that no retry can fix: it goes to the dead-letter topic at once."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class


@dataclass
class EventContext:
    """What a handler gets besides the event: the transaction it runs in and the event's envelope."""

    conn: asyncpg.Connection
    attributes: CloudEventAttributes
    source: str
    topic: str = ""
    partition: int = -1
    offset: int = -1

    async def emit(self, event: Event) -> str:
        """Record a follow-up event in the same transaction (through the outbox)."""
        return await add_event(self.conn, event, source=self.source)


Handler = Callable[[Any, EventContext], Awaitable[None]]
BatchHandler = Callable[[list[tuple[Any, EventContext]]], Awaitable[None]]


@dataclass(frozen=True)
class _Registered:
    cls: type[Event]
    handler: Handler | BatchHandler
    batch: bool


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 10.0

    def backoff(self, attempt: int) -> float:
        return min(self.initial_backoff * 2 ** (attempt - 1), self.max_backoff)


class EventRouter:
    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self._handlers: dict[str, _Registered] = {}

    def with_consumer(self, consumer: str) -> EventRouter:
        """The same handlers under another consumer group (a second deployment, or a test's own group)."""
        copy = EventRouter(consumer)
        copy._handlers = dict(self._handlers)
        return copy

    def on(self, *event_classes: type[Event]) -> Callable[[Handler], Handler]:
        """Register a handler called once per event."""
        return self._register(event_classes, batch=False)

    def on_batch(self, *event_classes: type[Event]) -> Callable[[BatchHandler], BatchHandler]:
        """Register a handler called with a run of consecutive events of these classes, in order, in one transaction.

        It must have the same effect as handling the events one after the other: on an error the runtime calls it
        again with single events to find the one that fails (the failed run is not counted as one of its attempts).
        """
        return self._register(event_classes, batch=True)

    def _register(self, event_classes: tuple[type[Event], ...], *, batch: bool) -> Callable[[Any], Any]:
        def register(handler: Any) -> Any:
            for cls in event_classes:
                if cls.TYPE in self._handlers:
                    raise ValueError(f"{cls.__name__} already has a handler in {self.consumer}")
                self._handlers[cls.TYPE] = _Registered(cls, handler, batch)
            return handler

        return register

    @property
    def topics(self) -> list[str]:
        return sorted({r.cls.TOPIC for r in self._handlers.values()})

    @property
    def event_types(self) -> list[str]:
        return sorted(self._handlers)

    def bind(
        self,
        broker: KafkaBroker,
        *,
        pool: asyncpg.Pool,
        dead_letters: AIOKafkaProducer,
        metrics: Metrics,
        policy: RetryPolicy,
        source: str,
        max_records: int = 2000,
        time_budget: float = 60.0,
    ) -> BoundConsumer:
        """One FastStream batch subscriber over all the router's topics: one consumer, one rebalance at start."""
        for topic in self.topics:
            # Series that exist at 0 let rate()/increase() see the very first retry or dead letter.
            metrics.retries.labels(topic)
            for error_class in POISON_CLASSES:
                metrics.dead_letters.labels(topic, error_class)
        subscriber = broker.subscriber(
            *self.topics,
            group_id=self.consumer,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            batch=True,
            max_records=max_records,
            batch_timeout_ms=BATCH_TIMEOUT_MS,
            max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
            title=self.consumer,
        )
        bound = BoundConsumer(self, pool=pool, dead_letters=dead_letters, metrics=metrics, policy=policy,
                              source=source, time_budget=time_budget, running=lambda: subscriber.running)

        async def records_as_they_are(records: tuple[ConsumerRecord, ...]) -> KafkaMessage:
            """FastStream's message for the batch, without reading a single header or value (see step 1 above)."""
            first, last = records[0], records[-1]
            return KafkaAckableMessage(
                raw_message=records,
                body=[record.value or b"" for record in records],
                message_id=f"{first.offset}-{last.offset}-{first.timestamp}",
                consumer=subscriber.consumer,
            )

        async def handle(message: KafkaMessage = Context("message")) -> None:
            await bound.handle(message.raw_message, message.consumer)

        subscriber(handle, parser=records_as_they_are, decoder=_raw_body)
        return bound


@dataclass
class _Item:
    record: ConsumerRecord
    attributes: CloudEventAttributes
    event: Event
    registered: _Registered


class _Failed(Exception):
    """Items [index, index + size) of a transaction failed; everything in that transaction was rolled back.

    `whole`: the transaction failed outside any handler (the inbox statement, the commit), so any of them may be
    the cause.
    """

    def __init__(self, index: int, size: int, error: Exception, *, whole: bool = False) -> None:
        super().__init__(str(error))
        self.index, self.size, self.error, self.whole = index, size, error, whole


class _Infrastructure(Exception):
    """PostgreSQL (or Kafka, for a dead letter) failed, not the event: the batch is held back, no attempt counted."""

    def __init__(self, error: BaseException, *, cause: str = "database") -> None:
        super().__init__(str(error))
        self.error, self.cause = error, cause


class _OutOfTime(Exception):
    """The batch's time budget ran out before an event was retried: it and what follows go back to Kafka."""


def _key(record: ConsumerRecord) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset


def is_infrastructure(error: BaseException, conn: asyncpg.Connection | None = None) -> bool:
    """Whether `error` says the database (or the way to it) failed rather than the event.

    A closed connection afterwards settles it; otherwise the error or anything it was raised from (a handler may
    wrap a database error in its own) must be a connection error, a timeout or carry an infrastructure SQLSTATE.
    Everything else, a constraint violation at COMMIT included, is the event's: retried a bounded number of times.
    """
    if conn is not None and conn.is_closed():
        return True
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError, asyncpg.PostgresConnectionError,
                                asyncpg.ConnectionDoesNotExistError)):
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(current, asyncpg.PostgresError) and isinstance(sqlstate, str) and sqlstate.startswith(
            _INFRASTRUCTURE_SQLSTATES
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


class BoundConsumer:
    """A router bound to its pool, dead-letter producer and retry policy: processes one fetched batch at a time."""

    def __init__(self, router: EventRouter, *, pool: asyncpg.Pool, dead_letters: AIOKafkaProducer,
                 metrics: Metrics, policy: RetryPolicy, source: str, time_budget: float = 60.0,
                 running: Callable[[], bool] = lambda: True) -> None:
        self.router, self.pool, self.producer = router, pool, dead_letters
        self.metrics, self.policy, self.source = metrics, policy, source
        self.time_budget = time_budget
        self._running = running
        self._deadline = float("inf")
        self._done: set[tuple[str, int, int]] = set()  # records of this batch applied, dead-lettered or ignored
        self._progress: set[TopicPartition] = set()  # partitions with an event applied or dead-lettered in it
        self._held_back = 0  # batches held back in a row by an infrastructure failure: sets the backoff
        self.waiting_for_database = False

    async def handle(self, records: Sequence[ConsumerRecord], consumer: Any) -> None:
        """`consumer` (FastStream's, with `seek`) takes back whatever this call leaves undone.

        It never raises (short of cancellation): FastStream's nack would seek back to the start of the batch and
        dead-letter its poison again; the records not done are sought back here instead, each partition to its first.
        """
        self.metrics.consumer_batches.inc()
        self._deadline = time.monotonic() + self.time_budget
        self._done, self._progress = set(), set()
        try:
            await self._apply_partitions(records)
            self._held_back = 0
            if self.waiting_for_database:
                self._set_waiting(False)
        except _OutOfTime:
            self.metrics.consumer_batches_handed_back.inc()
            log.warning("batch time budget spent; the rest of the batch comes again",
                        extra={"time_budget": self.time_budget})
        except _Infrastructure as failure:
            await self._hold_back(failure.error, cause=failure.cause)
        except Exception as exc:  # a defect here, not in an event: nothing may be skipped for it either
            log.exception("batch failed outside any handler; the undone records come again")
            await self._hold_back(exc, cause="defect")
        finally:
            self._hand_back(records, consumer)

    def _hand_back(self, records: Sequence[ConsumerRecord], consumer: Any) -> None:
        """Seek each partition to its first record not done; the ack then commits just what was done."""
        first: dict[TopicPartition, int] = {}
        for record in records:
            if _key(record) not in self._done:
                tp = TopicPartition(record.topic, record.partition)
                first[tp] = min(first.get(tp, record.offset), record.offset)
        for partition, offset in first.items():
            try:
                consumer.seek(partition=partition, offset=offset)
            except IllegalStateError:
                pass  # revoked meanwhile: its new owner starts at the last committed offset, before this record
        if first:
            log.debug("records handed back", extra={"records": sum(_key(r) not in self._done for r in records)})

    async def _hold_back(self, error: BaseException, *, cause: str) -> None:
        """Back off before the next fetch; for PostgreSQL, until it answers or the batch's time budget is spent.

        `cause`: "database", "kafka" (a dead letter not taken) or "defect" (a bug here, logged with its traceback).
        """
        self._held_back += 1
        self.metrics.consumer_infrastructure_errors.labels(type(error).__name__).inc()
        # The message of a connection or Kafka error names hosts and databases, never event data; a defect's may not.
        detail = {"error": describe(error)} if cause != "defect" else {}
        log.warning("batch held back", extra={"cause": cause, "error_class": type(error).__name__,
                                              "held_back": self._held_back, **detail})
        delay = min(INFRASTRUCTURE_INITIAL_BACKOFF * 2 ** (self._held_back - 1), INFRASTRUCTURE_MAX_BACKOFF)
        if cause != "database":
            await self._sleep(delay)
            return
        self._set_waiting(True)
        started = time.monotonic()
        until = max(self._deadline, started + delay)
        try:
            while self._running():
                await self._sleep(min(delay, max(until - time.monotonic(), 0.0)))
                if await self._database_answers():
                    self._set_waiting(False)
                    return
                if time.monotonic() >= until:
                    return  # still away: hand the batch back and fetch again, to stay in the group
                delay = min(delay * 2, INFRASTRUCTURE_MAX_BACKOFF)
        finally:
            self.metrics.consumer_database_wait.inc(time.monotonic() - started)

    def _set_waiting(self, waiting: bool) -> None:
        self.waiting_for_database = waiting
        self.metrics.consumer_waiting_for_database.set(1 if waiting else 0)

    async def _database_answers(self) -> bool:
        try:
            async with self.pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
                await conn.fetchval("SELECT 1")
            return True
        except Exception:
            return False

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up soon when the subscriber stops, so a shutdown does not wait for a backoff."""
        end = time.monotonic() + seconds
        while self._running() and (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.25))

    async def _apply_partitions(self, records: Sequence[ConsumerRecord]) -> None:
        """Each partition's records side by side, each in its own transactions on its own connection.

        Order only matters within a partition, and so does everything below (a partition's records are applied or
        dead-lettered in order; what stops one partition's progress holds back that partition's rest). Side by side,
        PostgreSQL executes one partition's statements while Python builds the next one's rows: on the drain
        benchmark the process and PostgreSQL otherwise took turns (issue 19). All partitions run to their end before
        this returns, so what is done is known exactly when the batch is handed back; then the most serious failure
        is raised (cancellation, an infrastructure failure, the time budget, a defect).
        """
        by_partition: dict[tuple[str, int], list[ConsumerRecord]] = {}
        for record in records:
            by_partition.setdefault((record.topic, record.partition), []).append(record)
        if len(by_partition) <= 1:
            await self._apply_records(records)
            return
        # One connection of a small pool stays for the others (a pool of 1 or 2: one partition at a time).
        gate = asyncio.Semaphore(max(1, min(PARTITIONS_SIDE_BY_SIDE, self.pool.get_max_size() - 1)))

        async def apply(part: list[ConsumerRecord]) -> None:
            async with gate:
                await self._apply_records(part)

        outcomes = await asyncio.gather(*(apply(part) for part in by_partition.values()), return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        for kind in (asyncio.CancelledError, _Infrastructure, _OutOfTime, BaseException):
            for failure in failures:
                if isinstance(failure, kind):
                    raise failure

    async def _apply_records(self, records: Sequence[ConsumerRecord]) -> None:
        run: list[_Item] = []
        for record in records:
            try:
                item = self._parse(record)
            except PoisonMessage as exc:
                # After the events before it, so that everything before a point in the batch is done.
                await self._apply_in_order(run, grouped=True)
                run = []
                await self._dead_letter(record, exc, 1, exc.error_class)
                continue
            if item is None:
                self._done.add(_key(record))
            else:
                run.append(item)
        await self._apply_in_order(run, grouped=True)

    def _parse(self, record: ConsumerRecord) -> _Item | None:
        """The record as an event (None: a type this consumer does not handle); any failure is a PoisonMessage.

        The log context (correlation id, event type) is set only for a record that fails here, for the dead letter's
        log line; `_call` sets it for the handlers. Setting two context variables per record cost ~10 % of a
        consumer's CPU (issue 19's profile).
        """
        attributes: CloudEventAttributes | None = None
        try:
            try:
                attributes = from_kafka_headers(record.headers or ())
            except ValueError as exc:
                raise PoisonMessage("MissingCloudEventsHeaders", str(exc)) from exc
            registered = self.router._handlers.get(attributes.type)
            if registered is None:
                self.metrics.ignored.labels(record.topic).inc()
                return None
            return _Item(record, attributes, parse(registered.cls, record.value), registered)
        except PoisonMessage:
            _log_context(attributes)
            raise
        except Exception as exc:
            _log_context(attributes)
            raise PoisonMessage("UnreadableMessage", f"{type(exc).__name__}: {describe(exc)}") from exc

    async def _apply_in_order(self, items: list[_Item], *, grouped: bool) -> None:
        while items:
            try:
                await self._transaction(items, grouped=grouped)
                return
            except _Failed as failed:
                # The prefix went well before the rollback; it is strictly shorter, so this ends.
                await self._apply_in_order(items[:failed.index], grouped=grouped)
                culprits = items[failed.index:failed.index + failed.size]
                if len(culprits) == 1:
                    await self._retry_alone(culprits[0], failed.error)
                elif failed.whole:  # the inbox or the commit failed: an event alone shows whose it is
                    for culprit in culprits:
                        await self._apply_in_order([culprit], grouped=False)
                else:  # a batch handler failed: its events one by one, in one transaction, to find the one
                    await self._apply_in_order(culprits, grouped=False)
                items = items[failed.index + failed.size:]

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; failing to get one is an infrastructure failure, whatever PostgreSQL said."""
        try:
            conn = await self.pool.acquire(timeout=ACQUIRE_TIMEOUT)
        except Exception as exc:
            raise _Infrastructure(exc) from exc
        try:
            yield conn
        finally:
            try:
                await self.pool.release(conn)
            except Exception:  # the connection is gone; the pool makes a new one
                log.warning("connection not returned cleanly to the pool", exc_info=True)

    async def _transaction(self, items: list[_Item], *, grouped: bool) -> None:
        """Apply `items` in one transaction, or raise `_Failed` naming the ones that failed (or `_Infrastructure`)."""
        async with self._connection() as conn:
            try:
                async with conn.transaction():
                    fresh = await self._record_in_inbox(conn, items)
                    new: list[tuple[int, _Item]] = []
                    for position, item in enumerate(items):
                        if item.attributes.id in fresh:
                            fresh.discard(item.attributes.id)  # a second copy in the same batch is a duplicate
                            new.append((position, item))
                        else:
                            self.metrics.duplicates.labels(item.record.topic).inc()
                            log.info("duplicate event skipped", extra={"event_id": item.attributes.id})
                    for run in _runs(new, grouped=grouped):
                        try:
                            await self._call(conn, [item for _, item in run])
                        except Exception as exc:
                            raise _Failed(run[0][0], run[-1][0] - run[0][0] + 1, exc) from exc
            except _Failed as failed:
                if is_infrastructure(failed.error, conn):
                    raise _Infrastructure(failed.error) from failed.error
                raise
            except Exception as exc:  # the inbox statement, the commit, or the rollback after a failed handler
                if is_infrastructure(exc, conn):
                    raise _Infrastructure(exc) from exc
                raise _Failed(0, len(items), exc, whole=True) from exc
        for item in items:
            self._done.add(_key(item.record))
            self._progress.add(TopicPartition(item.record.topic, item.record.partition))

    async def _record_in_inbox(self, conn: asyncpg.Connection, items: list[_Item]) -> set[str]:
        rows = await conn.fetch(
            """INSERT INTO inbox (consumer, event_id, event_type)
               SELECT $1, e.id, e.type FROM unnest($2::text[], $3::text[]) AS e(id, type)
               ON CONFLICT DO NOTHING RETURNING event_id""",
            self.router.consumer, [i.attributes.id for i in items], [i.attributes.type for i in items],
        )
        return {row["event_id"] for row in rows}

    async def _call(self, conn: asyncpg.Connection, run: list[_Item]) -> None:
        contexts = [
            (item.event, EventContext(conn=conn, attributes=item.attributes, source=self.source,
                                      topic=item.record.topic, partition=item.record.partition,
                                      offset=item.record.offset))
            for item in run
        ]
        first = run[0]
        logs.event_type.set(first.attributes.type)
        logs.correlation_id.set(first.attributes.correlationid if len(run) == 1 else None)
        if first.registered.batch:
            await first.registered.handler(contexts)  # type: ignore[call-arg]
        else:
            await first.registered.handler(*contexts[0])  # type: ignore[call-arg]

    async def _retry_alone(self, item: _Item, error: Exception) -> None:
        record = item.record
        attempt = 1
        if isinstance(error, PoisonMessage):  # the handler says no retry can fix it
            await self._dead_letter(record, error, attempt, error.error_class)
            return
        # Only an event behind others done in its partition is cut short: the first one gets all its attempts.
        if TopicPartition(record.topic, record.partition) in self._progress and time.monotonic() > self._deadline:
            raise _OutOfTime()
        while attempt < self.policy.max_attempts and not isinstance(error, PoisonMessage):
            self.metrics.retries.labels(record.topic).inc()
            delay = self.policy.backoff(attempt)
            log.warning("handler failed, retrying",
                        extra={"attempt": attempt, "delay": delay, "error_class": type(error).__name__})
            await asyncio.sleep(delay)
            attempt += 1
            try:
                await self._transaction([item], grouped=False)
                return
            except _Failed as failed:
                error = failed.error
        error_class = error.error_class if isinstance(error, PoisonMessage) else type(error).__name__
        await self._dead_letter(record, error, attempt, error_class)

    async def _dead_letter(self, record: ConsumerRecord, exc: BaseException, attempts: int, error_class: str) -> None:
        headers = dead_letter_headers(
            record, error_class=error_class, error_message=describe(exc), group=self.router.consumer,
            attempts=attempts,
        )
        try:
            await self.producer.send_and_wait(dlq_of(record.topic), value=record.value, key=record.key,
                                              headers=headers)
        except Exception as failure:  # Kafka did not take it: the record stays undone and comes again
            raise _Infrastructure(failure, cause="kafka") from failure
        self._done.add(_key(record))
        self._progress.add(TopicPartition(record.topic, record.partition))
        self.metrics.dead_letters.labels(record.topic, error_class).inc()
        log.error(
            "message dead-lettered",
            extra={"error_class": error_class, "topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "attempts": attempts},
        )


def _log_context(attributes: CloudEventAttributes | None) -> None:
    logs.correlation_id.set(attributes.correlationid if attributes else None)
    logs.event_type.set(attributes.type if attributes else None)


def _runs(new: list[tuple[int, _Item]], *, grouped: bool) -> list[list[tuple[int, _Item]]]:
    """Consecutive events for the same batch handler go together; every other event is a run of its own."""
    runs: list[list[tuple[int, _Item]]] = []
    for position, item in new:
        previous = runs[-1][-1][1].registered if runs else None
        if grouped and item.registered.batch and previous is not None and previous.handler is item.registered.handler:
            runs[-1].append((position, item))
        else:
            runs.append([(position, item)])
    return runs


async def _raw_body(message: KafkaMessage) -> Any:
    """Leave the bodies undecoded: `parse` turns bad JSON into a PoisonMessage instead of a failed batch."""
    return message.body


def parse(cls: type[Event], value: bytes | None) -> Event:
    """The event from its JSON body, in one pass (pydantic's own JSON reader, no dict in between: issue 19).

    What it refuses as JSON is what `json.loads` refused too: not JSON or not UTF-8, integers of more than 4,300
    digits, nesting deeper than pydantic's recursion limit; NaN and Infinity are read and then refused by the schema
    (as before). Unlike `json.loads` it reads only UTF-8 (RFC 8259 §8.1), so a UTF-16 or BOM-prefixed body is malformed.
    """
    try:
        return cls.model_validate_json(value or b"")
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if len(errors) == 1 and errors[0]["type"] == "json_invalid":
            reason = errors[0]["ctx"].get("error", errors[0]["msg"]) if errors[0].get("ctx") else errors[0]["msg"]
            raise PoisonMessage("MalformedJSON", f"body is not JSON this consumer can read: {reason}") from exc
        raise PoisonMessage("SchemaValidationError", describe(exc)) from exc
    except RecursionError as exc:
        raise PoisonMessage("MalformedJSON", f"body is not JSON this consumer can read: {exc}") from exc
