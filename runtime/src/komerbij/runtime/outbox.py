"""The transactional outbox and its relay.

A use case calls `add_event(conn, event)` inside its own transaction, so the state change and the event commit or
roll back together. The relay publishes unsent rows in `seq` order and stamps them sent. It wakes on
`NOTIFY outbox` (sent at commit) and polls as a fallback. Several replicas may run a relay: one publishes at a time
(a transaction-level advisory lock; the others stand by and take over within a poll interval), rows are claimed with
`FOR UPDATE SKIP LOCKED`, and each round is published in `seq` order, partition by partition, so order per key holds
whatever the timing. (Letting replicas publish different keys in parallel was tried first; under heavy load a key's
events still came out of order now and then, so correctness won over parallel relays.) A crash between publish and
mark-sent republishes the row; consumers' inboxes make that harmless. When Kafka is down the rows simply wait.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from komerbij.contracts import CloudEventAttributes, Event, to_kafka_headers
from komerbij.runtime import logs
from komerbij.runtime.kafka import make_producer
from komerbij.runtime.metrics import Metrics
from komerbij.runtime.wakeup import Wakeup

log = logging.getLogger(__name__)
CHANNEL = "outbox"
_PUBLISHER_LOCK = 0x6F757462  # "outb": one publishing relay per database at a time
_PARTITIONER = DefaultPartitioner()  # the same murmur2 hash as every Kafka client: a key's partition is the usual one


# pg_notify, like NOTIFY, is delivered at commit; one statement saves a round trip per event
_INSERT = f"""WITH row AS (INSERT INTO outbox (id, topic, key, type, headers, payload)
                           VALUES ($1, $2, $3, $4, $5, $6) RETURNING 1)
              SELECT pg_notify('{CHANNEL}', '') FROM row"""


class OutboxRows:
    """Outbox rows kept in memory and written with one pipelined `executemany`, in the order added.

    For a use case that emits many events in one transaction (notifications records a whole dispatch round at once):
    pass it where `add_event`/`add_record` take a connection, then `await rows.write(conn)` before the commit.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    async def write(self, conn: asyncpg.Connection) -> None:
        if self.rows:
            await conn.executemany(_INSERT, self.rows)
            self.rows = []


async def add_event(
    conn: asyncpg.Connection | OutboxRows, event: Event, *, source: str, subject: str | None = None
) -> str:
    """Record `event` for publication in the caller's transaction; returns the CloudEvents id."""
    attrs = CloudEventAttributes(
        id=str(uuid.uuid4()),
        source=source,
        type=event.TYPE,
        time=datetime.now(UTC),
        subject=subject or event.key,
        correlationid=logs.correlation_id.get(),
    )
    headers = [[name, value.decode()] for name, value in to_kafka_headers(attrs)]
    await add_record(conn, topic=event.TOPIC, key=event.key, type_=event.TYPE, headers=headers,
                     payload=event.model_dump_json().encode(), record_id=uuid.UUID(attrs.id))
    return attrs.id


async def add_record(
    conn: asyncpg.Connection | OutboxRows,
    *,
    topic: str,
    key: str,
    type_: str,
    headers: list[list[str]],
    payload: bytes,
    record_id: uuid.UUID | None = None,
) -> None:
    """Record a message that is not an event model (a dead letter, say) for publication in the caller's transaction."""
    row = (record_id or uuid.uuid4(), topic, key, type_, headers, payload)
    if isinstance(conn, OutboxRows):
        conn.rows.append(row)
    else:
        await conn.execute(_INSERT, *row)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        dsn: str,
        bootstrap: str,
        service: str,
        metrics: Metrics,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool = pool
        self._bootstrap = bootstrap
        self._service = service
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wakeup = Wakeup(dsn, CHANNEL)
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._service}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._close_producer()
        await self._wakeup.close()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = make_producer(self._bootstrap, client_id=f"komerbij-{self._service}-outbox")
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await asyncio.gather(producer.stop(), return_exceptions=True)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._wakeup.listen()
                sent = await self.publish_batch()
                await self._refresh_backlog()
                backoff = 0.5
                if sent < self._batch_size:
                    # A commit during the round above has already set the wake-up: this returns at once then.
                    await self._wakeup.wait(self._poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka or PostgreSQL away: keep the rows, try again later
                log.warning("outbox relay waiting: %s: %s", type(exc).__name__, exc)
                self._metrics.outbox_publish_errors.inc()
                # A producer that failed mid-batch may hold stale sequence state: start a fresh one.
                await self._close_producer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def publish_batch(self) -> int:
        """Publish one batch of unsent rows; returns how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _PUBLISHER_LOCK):
                return 0  # another replica is publishing; we take over when it stops
            rows = await conn.fetch(
                """SELECT seq, topic, key, headers, payload FROM outbox
                   WHERE sent_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self._batch_size,
            )
            if not rows:
                return 0
            producer = await self._ensure_producer()
            await publish_in_order(producer, rows)
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])", [r["seq"] for r in rows]
            )
        self._metrics.outbox_published.inc(len(rows))
        return len(rows)

    async def _refresh_backlog(self) -> None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
                   FROM outbox WHERE sent_at IS NULL"""
            )
        self._metrics.outbox_backlog.set(row["n"])
        self._metrics.outbox_oldest_age.set(float(row["age"]))


async def publish_in_order(producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> None:
    """Publish rows so that no later row of a partition can land in Kafka before an earlier one.

    Plain `send()` calls queue one batch per partition after another, and under load aiokafka may expire an earlier
    batch while a later one still goes out: a retry would then put a key's events out of order. Here each partition
    gets explicit record batches (each appended atomically by the broker), sent one after the other, stopping at the
    first failure; partitions go in parallel.
    """
    by_partition: dict[tuple[str, int], list[asyncpg.Record]] = {}
    partitions: dict[str, list[int]] = {}
    for row in rows:
        topic = row["topic"]
        if topic not in partitions:
            partitions[topic] = sorted(await producer.partitions_for(topic))
        partition = _PARTITIONER(row["key"].encode(), partitions[topic], partitions[topic])
        by_partition.setdefault((topic, partition), []).append(row)

    async def publish_partition(topic: str, partition: int, records: list[asyncpg.Record]) -> None:
        batch = producer.create_batch()
        for record in records:
            message = {
                "timestamp": None,
                "key": record["key"].encode(),
                "value": bytes(record["payload"]),
                "headers": [(name, value.encode()) for name, value in record["headers"]],
            }
            if batch.append(**message) is None:  # full: send it, wait for the broker, start the next one
                await (await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                if batch.append(**message) is None:
                    raise ValueError(f"outbox row too large for one Kafka batch (topic {topic})")
        await (await producer.send_batch(batch, topic, partition=partition))

    await asyncio.gather(*(publish_partition(t, p, recs) for (t, p), recs in by_partition.items()))


async def purge_sent(conn: asyncpg.Connection, older_than: datetime) -> int:
    """Sent rows are only history; they carry personal data for some topics, so they do not stay."""
    result = await conn.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1", older_than)
    return int(result.split()[-1])
