"""The transactional outbox and its relay.

A use case calls `add_event(conn, event)` inside its own transaction, so the state change and the event commit or
roll back together. The relay publishes unsent rows in `seq` order and stamps them sent. It wakes on
`NOTIFY outbox` (sent at commit) and polls as a fallback. Several replicas may run a relay: one publishes at a time
(a transaction-level advisory lock; the others stand by and take over within a poll interval), rows are claimed with
`FOR UPDATE SKIP LOCKED`, and each round is published in `seq` order, partition by partition, so order per key holds
whatever the timing. (Letting replicas publish different keys in parallel was tried first; under heavy load a key's
events still came out of order now and then, so correctness won over parallel relays.) A crash between publish and
mark-sent republishes the row; consumers' inboxes make that harmless. When Kafka is down the rows simply wait.

A row Kafka refuses does not hold up the others. Rows Kafka acknowledged are stamped sent whatever happened to their
neighbours. A refused row counts an attempt (`attempts`, `last_error`), waits `OUTBOX_RETRY_BACKOFF_SECONDS`
(doubling) and is then tried in a record batch of its own, so that what fails is its own fault; one whose topic is
missing, that is larger than the topic's `max.message.bytes` or that we may not write is parked after
`OUTBOX_MAX_ATTEMPTS` and waits for an operator (`komerbij outbox list-parked | retry | drop`). While a row waits or
is parked, the later rows of its topic and key wait behind it (order per key); every other key goes on. Within a
round, a partition stops at its first refused batch: the idempotent producer's sequence for that partition then has
a gap (every later batch would be refused as out of order), so the relay starts a fresh producer for the next round.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, errors
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
    row = _event_row(event, source, subject)
    await add_record(conn, topic=event.TOPIC, key=event.key, type_=event.TYPE, headers=row[4], payload=row[5],
                     record_id=row[0])
    return str(row[0])


async def add_event_after(
    conn: asyncpg.Connection, change: str, args: Sequence[Any], event: Event, *, source: str,
    subject: str | None = None,
) -> str:
    """Run `change` (one INSERT/UPDATE/DELETE with placeholders $1..$n for `args`) and record `event` in ONE statement:
    a round trip fewer for a use case whose last write and event are known before it is made (a confirmed sign-up).

    Both or neither, as with two statements in the transaction: a `change` that fails (a unique violation) fails
    the statement, and no outbox row is written. PostgreSQL runs a data-modifying WITH exactly once, to completion,
    whether or not the rest reads it."""
    row = _event_row(event, source, subject)
    await conn.execute(_after_sql(change, len(args)), *args, *row)
    return str(row[0])


@functools.lru_cache(maxsize=64)
def _after_sql(change: str, n: int) -> str:
    values = ", ".join(f"${n + i}" for i in range(1, 7))
    return f"""WITH change AS ({change}),
                    row AS (INSERT INTO outbox (id, topic, key, type, headers, payload) VALUES ({values}) RETURNING 1)
               SELECT pg_notify('{CHANNEL}', '') FROM row"""


def _event_row(event: Event, source: str, subject: str | None) -> tuple[Any, ...]:
    attrs = CloudEventAttributes(
        id=str(uuid.uuid4()),
        source=source,
        type=event.TYPE,
        time=datetime.now(UTC),
        subject=subject or event.key,
        correlationid=logs.correlation_id.get(),
    )
    headers = [[name, value.decode()] for name, value in to_kafka_headers(attrs)]
    return (uuid.UUID(attrs.id), event.TOPIC, event.key, event.TYPE, headers, event.model_dump_json().encode())


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


# Errors that concern the row or its topic rather than Kafka's health: retrying them changes nothing, so a row that
# keeps failing with one of them is parked. Anything else (Kafka away, leaders moving, too few replicas in sync)
# counts attempts but never parks: the rows wait, as they do while Kafka is down.
UNPUBLISHABLE: tuple[type[BaseException], ...] = (
    errors.MessageSizeTooLargeError,
    errors.RecordListTooLargeError,
    errors.TopicAuthorizationFailedError,
    errors.InvalidTopicError,
    errors.UnknownTopicOrPartitionError,
    errors.CorruptRecordException,
    errors.InvalidTimestampError,
    errors.PolicyViolationError,
)
MAX_BACKOFF_SECONDS = 300.0

# Unsent rows not parked and due, in seq order, except those behind an earlier row of their topic and key that is
# parked or waits for its next try (order per key). Rows that failed before are few; `outbox_failing` indexes them.
_CLAIM = """
    SELECT o.seq, o.topic, o.key, o.headers, o.payload, o.attempts FROM outbox o
    WHERE o.sent_at IS NULL AND o.parked_at IS NULL AND (o.attempts = 0 OR o.next_attempt_at <= now())
      AND NOT EXISTS (SELECT 1 FROM outbox f
                      WHERE f.sent_at IS NULL AND f.attempts > 0 AND f.topic = o.topic AND f.key = o.key
                        AND f.seq < o.seq AND (f.parked_at IS NOT NULL OR f.next_attempt_at > now()))
    ORDER BY o.seq LIMIT $1 FOR UPDATE OF o SKIP LOCKED"""

_RECORD_FAILURES = """
    UPDATE outbox o SET attempts = o.attempts + 1, last_error = f.error,
           next_attempt_at = now() + make_interval(secs => least($2 * 2 ^ o.attempts, $3)),
           parked_at = CASE WHEN f.unpublishable AND o.attempts + 1 >= $4 THEN now() END
    FROM unnest($1::bigint[], $5::text[], $6::bool[]) AS f(seq, error, unpublishable)
    WHERE o.seq = f.seq
    RETURNING o.seq, o.topic, o.key, o.type, o.attempts, o.parked_at IS NOT NULL AS parked"""


class TopicMissing(Exception):
    """The topic is not in the cluster's metadata (or we may not see it): nothing can be published to it."""


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
        max_attempts: int = 5,
        retry_backoff: float = 1.0,
    ) -> None:
        self._pool = pool
        self._bootstrap = bootstrap
        self._service = service
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
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
        """Publish one batch of unsent rows; returns how many Kafka acknowledged."""
        refused = False
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _PUBLISHER_LOCK):
                return 0  # another replica is publishing; we take over when it stops
            rows = await conn.fetch(_CLAIM, self._batch_size)
            if not rows:
                return 0
            producer = await self._ensure_producer()
            missing = await unknown_topics(producer, {r["topic"] for r in rows})
            publishable = [r for r in rows if r["topic"] not in missing]
            outcome = await publish_in_order(producer, publishable)
            sent = [r["seq"] for i, r in enumerate(publishable) if i in outcome and outcome[i] is None]
            failed = [(r, missing[r["topic"]]) for r in rows if r["topic"] in missing]
            failed += [(r, error) for i, r in enumerate(publishable) if (error := outcome.get(i)) is not None]
            refused = any(outcome.get(i) is not None for i in range(len(publishable)))
            if sent:
                await conn.execute("UPDATE outbox SET sent_at = now() WHERE seq = ANY($1::bigint[])", sent)
            if failed:
                await self._record_failures(conn, failed)
        if refused:
            await self._close_producer()  # its sequence for the refused partitions has a gap
        self._metrics.outbox_published.inc(len(sent))
        return len(sent)

    async def _record_failures(
        self, conn: asyncpg.Connection, failed: list[tuple[asyncpg.Record, BaseException]]
    ) -> None:
        self._metrics.outbox_publish_errors.inc()
        updated = await conn.fetch(
            _RECORD_FAILURES, [r["seq"] for r, _ in failed], self._retry_backoff, MAX_BACKOFF_SECONDS,
            self._max_attempts, [f"{type(e).__name__}: {e}"[:1000] for _, e in failed],
            [isinstance(e, (*UNPUBLISHABLE, TopicMissing)) for _, e in failed],
        )
        errors_by_seq = {r["seq"]: e for r, e in failed}
        for row in updated:
            error = errors_by_seq[row["seq"]]
            context = {"seq": row["seq"], "topic": row["topic"], "type": row["type"], "attempts": row["attempts"],
                       "error_class": type(error).__name__}
            if row["parked"]:
                log.error("outbox row parked: Kafka refuses it; later rows of its key wait (komerbij outbox)",
                          extra=context)
            else:
                log.warning("outbox row not published; tried again later", extra=context)

    async def _refresh_backlog(self) -> None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT count(*) FILTER (WHERE parked_at IS NULL) AS n,
                          count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked,
                          coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)), 0)
                            AS age
                   FROM outbox WHERE sent_at IS NULL"""
            )
        self._metrics.outbox_backlog.set(row["n"])
        self._metrics.outbox_parked.set(row["parked"])
        self._metrics.outbox_oldest_age.set(float(row["age"]))


async def unknown_topics(producer: AIOKafkaProducer, topics: set[str]) -> dict[str, TopicMissing]:
    """The topics the cluster does not have (or does not show us), each with its error.

    Asked of the brokers only for topics the producer has no metadata of; `partitions_for` would wait the whole
    request timeout (15 s) on such a topic, every round, before failing.
    """
    if all(producer.client.cluster.partitions_for_topic(t) is not None for t in topics):
        return {}
    metadata = await producer.client.fetch_all_metadata()  # raises when no broker answers: the round fails
    return {t: TopicMissing(f"topic {t} does not exist (or this client may not describe it)")
            for t in topics if metadata.partitions_for_topic(t) is None}


async def publish_in_order(producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> dict[int, BaseException | None]:
    """Publish rows so that no later row of a partition can land in Kafka before an earlier one.

    Returns, by index in `rows`, None for each row Kafka acknowledged and the error for each row it refused; rows
    left out were not tried (they came after a refused batch of their partition).

    Plain `send()` calls queue one batch per partition after another, and under load aiokafka may expire an earlier
    batch while a later one still goes out: a retry would then put a key's events out of order. Here each partition
    gets explicit record batches (each appended atomically by the broker), sent one after the other, stopping at the
    first refused one; partitions go in parallel. A row that failed before goes in a batch of its own.
    """
    outcome: dict[int, BaseException | None] = {}
    by_partition: dict[tuple[str, int], list[int]] = {}
    partitions: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        topic = row["topic"]
        if topic not in partitions:
            try:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            except Exception as exc:  # the topic's rows are refused, the others go on
                partitions[topic] = []
                outcome.update({i: exc for i, r in enumerate(rows) if r["topic"] == topic})
        if partitions[topic]:
            partition = _PARTITIONER(row["key"].encode(), partitions[topic], partitions[topic])
            by_partition.setdefault((topic, partition), []).append(index)

    def message(row: asyncpg.Record) -> dict[str, Any]:
        return {"timestamp": None, "key": row["key"].encode(), "value": bytes(row["payload"]),
                "headers": [(name, value.encode()) for name, value in row["headers"]]}

    async def publish_partition(topic: str, partition: int, indexes: list[int]) -> None:
        position = 0
        while position < len(indexes):
            batch, members = producer.create_batch(), []
            while position < len(indexes):
                row = rows[indexes[position]]
                alone = (row.get("attempts") or 0) > 0
                if alone and members:
                    break  # a row that failed before goes in a batch of its own
                if batch.append(**message(row)) is None:
                    break  # full: send it, start the next one
                members.append(indexes[position])
                position += 1
                if alone:
                    break
            if not members:  # the producer's batch builder took not even this one record
                outcome[indexes[position]] = ValueError(f"outbox row too large for one Kafka batch (topic {topic})")
                return
            try:
                await (await producer.send_batch(batch, topic, partition=partition))
            except Exception as exc:  # recorded per row; this partition's later rows wait for the next round
                outcome.update(dict.fromkeys(members, exc))
                return
            outcome.update(dict.fromkeys(members))

    await asyncio.gather(*(publish_partition(t, p, idx) for (t, p), idx in by_partition.items()))
    return outcome


@dataclass(frozen=True)
class ParkedRow:
    seq: int
    id: uuid.UUID
    topic: str
    key: str
    type: str
    created_at: datetime
    parked_at: datetime
    attempts: int
    last_error: str | None
    waiting_behind: int  # later unsent rows of the same topic and key


async def list_parked(conn: asyncpg.Connection) -> list[ParkedRow]:
    """What an operator must decide about, oldest first (no payloads: they may hold personal data)."""
    rows = await conn.fetch(
        """SELECT p.seq, p.id, p.topic, p.key, p.type, p.created_at, p.parked_at, p.attempts, p.last_error,
                  (SELECT count(*) FROM outbox w WHERE w.sent_at IS NULL AND w.topic = p.topic AND w.key = p.key
                     AND w.seq > p.seq) AS waiting_behind
           FROM outbox p WHERE p.sent_at IS NULL AND p.parked_at IS NOT NULL ORDER BY p.seq"""
    )
    return [ParkedRow(**dict(r)) for r in rows]


async def retry_parked(conn: asyncpg.Connection, seq: int | None = None) -> list[int]:
    """Unpark one row (or all, with `seq=None`) for a fresh set of attempts; returns the seqs unparked.

    The relay is woken at commit; an unparked row goes before the rows of its key that waited behind it.
    """
    async with conn.transaction():
        rows = await conn.fetch(
            """UPDATE outbox SET parked_at = NULL, attempts = 0, next_attempt_at = NULL
               WHERE sent_at IS NULL AND parked_at IS NOT NULL AND ($1::bigint IS NULL OR seq = $1) RETURNING seq""",
            seq,
        )
        if rows:
            await conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")
    return sorted(r["seq"] for r in rows)


async def drop_parked(conn: asyncpg.Connection, seq: int, *, dropped_by: str, reason: str | None) -> ParkedRow | None:
    """Delete a parked row for good, keeping an audit record without its payload; None when `seq` is not parked.

    Only parked rows: an unsent row that is not parked may be on its way to Kafka at this moment.
    """
    async with conn.transaction():
        row = await conn.fetchrow(
            """DELETE FROM outbox WHERE seq = $1 AND sent_at IS NULL AND parked_at IS NOT NULL
               RETURNING seq, id, topic, key, type, created_at, parked_at, attempts, last_error""",
            seq,
        )
        if row is None:
            return None
        await conn.execute(
            """INSERT INTO outbox_dropped (seq, id, topic, key, type, created_at, attempts, last_error, dropped_by,
                                           reason)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            row["seq"], row["id"], row["topic"], row["key"], row["type"], row["created_at"], row["attempts"],
            row["last_error"], dropped_by, reason,
        )
        waiting = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND topic = $1 AND key = $2 AND seq > $3",
            row["topic"], row["key"], row["seq"],
        )
        await conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")  # the rows that waited behind it may go now
    dropped = ParkedRow(**dict(row), waiting_behind=waiting)
    log.warning("parked outbox row dropped", extra={"seq": dropped.seq, "event_id": str(dropped.id),
                                                    "topic": dropped.topic, "type": dropped.type,
                                                    "dropped_by": dropped_by, "reason": reason})
    return dropped


async def purge_sent(conn: asyncpg.Connection, older_than: datetime) -> int:
    """Sent rows are only history; they carry personal data for some topics, so they do not stay."""
    result = await conn.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1", older_than)
    return int(result.split()[-1])
