"""Consuming events: typed handlers behind one subscriber per topic, with inbox, retries and dead letters.

A service declares handlers on an `EventRouter`:

    router = EventRouter("notifications")

    @router.on(ActivityPublished)
    async def on_published(event: ActivityPublished, ctx: EventContext) -> None:
        await routing.fan_out(ctx.conn, event, ctx.attributes)

Each message then goes through, in order:
1. `RetryDeadLetterMiddleware` (a FastStream middleware): transient errors are retried with exponential backoff up to
   the configured attempts; after that, or at once for a `PoisonMessage` (not JSON, fails its schema, no CloudEvents
   headers), the message goes to `<topic>.dlq` and the partition goes on.
2. The inbox: one PostgreSQL transaction records "event id processed by this consumer" and runs the handler, so a
   redelivered event has no second effect.
3. The offset is committed only after that (FastStream `AckPolicy.NACK_ON_ERROR`): at-least-once delivery, effectively
   once with the inbox. Should even the dead-letter publish fail, the message is sought back and comes again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream import AckPolicy, Context
from faststream._internal.middlewares import BaseMiddleware
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
        self._handlers: dict[str, tuple[type[Event], Handler]] = {}

    def with_consumer(self, consumer: str) -> EventRouter:
        """The same handlers under another consumer group (a second deployment, or a test's own group)."""
        copy = EventRouter(consumer)
        copy._handlers = dict(self._handlers)
        return copy

    def on(self, *event_classes: type[Event]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for cls in event_classes:
                if cls.TYPE in self._handlers:
                    raise ValueError(f"{cls.__name__} already has a handler in {self.consumer}")
                self._handlers[cls.TYPE] = (cls, handler)
            return handler

        return register

    @property
    def topics(self) -> list[str]:
        return sorted({cls.TOPIC for cls, _ in self._handlers.values()})

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
    ) -> None:
        """One FastStream subscriber over all the router's topics: one consumer, one rebalance at start."""
        broker.add_middleware(
            RetryDeadLetterMiddleware.factory(
                group=self.consumer, policy=policy, metrics=metrics, producer=dead_letters
            )
        )
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
            title=self.consumer,
        )

        async def handle(message: KafkaMessage = Context("message")) -> None:
            await self.process(message.raw_message, pool=pool, metrics=metrics, source=source)

        subscriber(handle, decoder=_raw_body)

    async def process(
        self, record: ConsumerRecord, *, pool: asyncpg.Pool, metrics: Metrics, source: str
    ) -> bool:
        """Handle one record; returns False when it was skipped (not ours, or already processed)."""
        try:
            attributes = from_kafka_headers(record.headers or ())
        except ValueError as exc:
            raise PoisonMessage("MissingCloudEventsHeaders", str(exc)) from exc
        logs.correlation_id.set(attributes.correlationid)
        logs.event_type.set(attributes.type)
        entry = self._handlers.get(attributes.type)
        if entry is None:
            metrics.ignored.labels(record.topic).inc()
            return False
        cls, handler = entry
        event = parse(cls, record.value)
        async with pool.acquire() as conn, conn.transaction():
            first_time = await conn.fetchval(
                """INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)
                   ON CONFLICT DO NOTHING RETURNING true""",
                self.consumer, attributes.id, attributes.type,
            )
            if not first_time:
                metrics.duplicates.labels(record.topic).inc()
                log.info("duplicate event skipped")
                return False
            context = EventContext(conn=conn, attributes=attributes, source=source, topic=record.topic,
                                   partition=record.partition, offset=record.offset)
            await handler(event, context)
        return True


async def _raw_body(message: KafkaMessage) -> bytes:
    """Leave the body undecoded: `parse` turns bad JSON into a PoisonMessage instead of a retried error."""
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


class RetryDeadLetterMiddleware(BaseMiddleware):
    group: str
    policy: RetryPolicy
    metrics: Metrics
    producer: AIOKafkaProducer

    @classmethod
    def factory(
        cls,
        *,
        group: str,
        policy: RetryPolicy,
        metrics: Metrics,
        producer: AIOKafkaProducer,
    ) -> type[RetryDeadLetterMiddleware]:
        return type(
            "RetryDeadLetterMiddleware",
            (cls,),
            {"group": group, "policy": policy, "metrics": metrics, "producer": producer},
        )

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        record: ConsumerRecord = msg.raw_message
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call_next(msg)
            except PoisonMessage as exc:
                await self._dead_letter(record, exc, attempt, exc.error_class)
                return None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt >= self.policy.max_attempts:
                    await self._dead_letter(record, exc, attempt, type(exc).__name__)
                    return None
                self.metrics.retries.labels(record.topic).inc()
                delay = self.policy.backoff(attempt)
                log.warning(
                    "handler failed, retrying", extra={"attempt": attempt, "delay": delay,
                                                       "error_class": type(exc).__name__}
                )
                await asyncio.sleep(delay)

    async def _dead_letter(
        self, record: ConsumerRecord, exc: BaseException, attempts: int, error_class: str
    ) -> None:
        headers = dead_letter_headers(
            record, error_class=error_class, error_message=describe(exc), group=self.group, attempts=attempts
        )
        await self.producer.send_and_wait(dlq_of(record.topic), value=record.value, key=record.key, headers=headers)
        self.metrics.dead_letters.labels(record.topic, error_class).inc()
        log.error(
            "message dead-lettered",
            extra={"error_class": error_class, "topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "attempts": attempts},
        )
