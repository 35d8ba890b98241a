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
~190 events/s). For each batch, in order:
1. Each record is parsed; a `PoisonMessage` (not JSON, fails its schema, no CloudEvents headers) goes to
   `<topic>.dlq` at once and is left out.
2. One PostgreSQL transaction records every event id in the inbox with one statement and runs the handlers of the
   events seen for the first time, in the partition's order, so a redelivered event has no second effect.
3. If a handler fails, that transaction is rolled back; the events before the failing one are applied again in a
   transaction of their own, the failing one is retried alone with exponential backoff and dead-lettered alone after
   the last attempt, and the batch goes on after it. So a partition's events still take effect in order and one
   bad event neither blocks nor takes down the others. (A failing batch handler is first split into single
   events, to find the one that fails.)
4. The batch's offsets are committed only after that (FastStream `AckPolicy.NACK_ON_ERROR`): at-least-once delivery,
   effectively once with the inbox. Should even a dead-letter publish fail, the batch is sought back and comes again.
5. A batch has a time budget (`CONSUMER_BATCH_TIME_BUDGET_SECONDS`): Kafka drops a consumer from its group when it
   does not fetch for `max.poll.interval.ms` (300 s), and retrying failing events one by one can take longer than
   that. When the budget is spent before another event would be retried, what is done is committed and the rest of
   the batch is sought back, to come again with the next fetch (an event that starts a batch is always retried in
   full, so each batch gets further).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from faststream import AckPolicy, Context
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from pydantic import ValidationError

from komerbij.contracts import CloudEventAttributes, Event, from_kafka_headers
from komerbij.contracts.topics import dlq_of
from komerbij.runtime import logs
from komerbij.runtime.deadletters import dead_letter_headers, describe
from komerbij.runtime.metrics import Metrics
from komerbij.runtime.outbox import add_event

log = logging.getLogger(__name__)


POISON_CLASSES = ("MissingCloudEventsHeaders", "MalformedJSON", "SchemaValidationError")
# How long a fetch waits for records; when none came, FastStream also sleeps this long before the next fetch, so it
# bounds the extra latency an event arriving on an idle consumer sees.
BATCH_TIMEOUT_MS = 50


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
        max_records: int = 500,
        time_budget: float = 60.0,
    ) -> BoundConsumer:
        """One FastStream batch subscriber over all the router's topics: one consumer, one rebalance at start."""
        bound = BoundConsumer(self, pool=pool, dead_letters=dead_letters, metrics=metrics, policy=policy,
                              source=source, time_budget=time_budget)
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
            title=self.consumer,
        )

        async def handle(message: KafkaMessage = Context("message")) -> None:
            await bound.handle(message.raw_message, message.consumer)

        subscriber(handle, decoder=_raw_body)
        return bound


@dataclass
class _Item:
    record: ConsumerRecord
    attributes: CloudEventAttributes
    event: Event
    registered: _Registered


class _Failed(Exception):
    """Items [index, index + size) of a transaction failed; everything in that transaction was rolled back."""

    def __init__(self, index: int, size: int, error: Exception) -> None:
        super().__init__(str(error))
        self.index, self.size, self.error = index, size, error


class _OutOfTime(Exception):
    """The batch's time budget ran out before `record` was retried: it and what follows go back to Kafka."""

    def __init__(self, record: ConsumerRecord) -> None:
        super().__init__("batch time budget spent")
        self.record = record


class BoundConsumer:
    """A router bound to its pool, dead-letter producer and retry policy: processes one fetched batch at a time."""

    def __init__(self, router: EventRouter, *, pool: asyncpg.Pool, dead_letters: AIOKafkaProducer,
                 metrics: Metrics, policy: RetryPolicy, source: str, time_budget: float = 60.0) -> None:
        self.router, self.pool, self.producer = router, pool, dead_letters
        self.metrics, self.policy, self.source = metrics, policy, source
        self.time_budget = time_budget
        self._deadline = float("inf")

    async def handle(self, records: Sequence[ConsumerRecord], consumer: Any) -> None:
        """`consumer` (FastStream's, with `seek`) takes back what the time budget leaves undone."""
        self.metrics.consumer_batches.inc()
        self._deadline = time.monotonic() + self.time_budget
        try:
            await self._apply_records(records)
        except _OutOfTime as out:
            self._hand_back(records[records.index(out.record):], consumer)

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
            if item is not None:
                run.append(item)
        await self._apply_in_order(run, grouped=True)

    def _hand_back(self, undone: Sequence[ConsumerRecord], consumer: Any) -> None:
        """Seek each partition to its first undone record; the ack then commits just what was done."""
        first: dict[TopicPartition, int] = {}
        for record in undone:
            first.setdefault(TopicPartition(record.topic, record.partition), record.offset)
        for partition, offset in first.items():
            consumer.seek(partition=partition, offset=offset)
        self.metrics.consumer_batches_handed_back.inc()
        log.warning("batch time budget spent; the rest of the batch comes again",
                    extra={"records": len(undone), "time_budget": self.time_budget})

    def _parse(self, record: ConsumerRecord) -> _Item | None:
        try:
            attributes = from_kafka_headers(record.headers or ())
        except ValueError as exc:
            raise PoisonMessage("MissingCloudEventsHeaders", str(exc)) from exc
        logs.correlation_id.set(attributes.correlationid)
        logs.event_type.set(attributes.type)
        registered = self.router._handlers.get(attributes.type)
        if registered is None:
            self.metrics.ignored.labels(record.topic).inc()
            return None
        return _Item(record, attributes, parse(registered.cls, record.value), registered)

    async def _apply_in_order(self, items: list[_Item], *, grouped: bool) -> None:
        while items:
            try:
                await self._transaction(items, grouped=grouped)
                return
            except _Failed as failed:
                # The prefix went well before the rollback; it is strictly shorter, so this ends.
                await self._apply_in_order(items[:failed.index], grouped=grouped)
                culprits = items[failed.index:failed.index + failed.size]
                if len(culprits) > 1:
                    await self._apply_in_order(culprits, grouped=False)
                else:
                    await self._retry_alone(culprits[0], failed.error)
                items = items[failed.index + failed.size:]

    async def _transaction(self, items: list[_Item], *, grouped: bool) -> None:
        """Apply `items` in one transaction, or raise `_Failed` naming the ones whose handler failed."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
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
        except _Failed:
            raise
        except Exception as exc:  # the transaction itself (inbox, commit, connection): nothing was applied
            raise _Failed(0, 1, exc) from exc

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
        if time.monotonic() > self._deadline:
            raise _OutOfTime(record)
        attempt = 1
        while attempt < self.policy.max_attempts:
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
        await self._dead_letter(record, error, attempt, type(error).__name__)

    async def _dead_letter(self, record: ConsumerRecord, exc: BaseException, attempts: int, error_class: str) -> None:
        headers = dead_letter_headers(
            record, error_class=error_class, error_message=describe(exc), group=self.router.consumer,
            attempts=attempts,
        )
        await self.producer.send_and_wait(dlq_of(record.topic), value=record.value, key=record.key, headers=headers)
        self.metrics.dead_letters.labels(record.topic, error_class).inc()
        log.error(
            "message dead-lettered",
            extra={"error_class": error_class, "topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "attempts": attempts},
        )


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
    try:
        data = json.loads(value or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PoisonMessage("MalformedJSON", f"body is not JSON: {exc}") from exc
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise PoisonMessage("SchemaValidationError", describe(exc)) from exc
