"""A prototype of the consumer design proposed in BENCHMARKS.md — NOT the service's code path.

It drains the same records as scenario 3 with the runtime's own parsing (`from_kafka_headers`, `parse`) and
notifications' own routing, but per batch of up to `max_records` instead of per message: one transaction, one bulk
inbox insert (`unnest ... ON CONFLICT DO NOTHING RETURNING`), one commit, then one offset commit. Two handler modes:

- `savepoint`: notifications' `record_deliveries` per new event, each in a savepoint (so one bad event can still be
  retried or dead-lettered alone) — the smallest change to the service;
- `set`: notices and deliveries of the whole batch with two `executemany` calls, the owner-partner lookup once per
  municipality per batch; an event that has partner subscriptions to expand goes the `savepoint` way. Rows are the
  same as `record_deliveries` makes (same columns, same unique keys, same message-id scheme).

It exists to put a measured number on the expected gain before anyone changes the runtime.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from komerbij.contracts import CloudEventAttributes, from_kafka_headers, to_kafka_headers
from komerbij.contracts.events.base import Event
from komerbij.notifications.adapters import partners
from komerbij.notifications.domain.routing import audience_of
from komerbij.notifications.entrypoints.events import ROUTED
from komerbij.notifications.service.routing import MESSAGE_DOMAIN, record_deliveries
from komerbij.runtime import db
from komerbij.runtime.consumer import parse

HANDLED = {cls.TYPE: cls for cls in ROUTED}
CONSUMER = "notifications-batch-prototype"
Parsed = tuple[ConsumerRecord, CloudEventAttributes, Event]


async def _one_by_one(conn: Any, events: list[Parsed]) -> None:
    for r, attrs, event in events:
        async with conn.transaction():  # savepoint: one event's failure stays its own
            await record_deliveries(conn, event, attrs, r.topic)


async def _set_based(conn: Any, events: list[Parsed]) -> None:
    now = datetime.now(UTC)
    owners: dict[str, list[str]] = {}
    notices: list[tuple[Any, ...]] = []
    rows: list[tuple[Any, ...]] = []
    slow: list[Parsed] = []
    for r, attrs, event in events:
        audience = audience_of(event)
        if audience is None:
            continue
        code = audience.owner_municipality
        if code and not audience.owner_partner_id and code not in owners:
            owners[code] = await partners.municipality_partners(conn, code)
        if audience.by_place or audience.owner_partner_id or (code and owners[code]):
            slow.append((r, attrs, event))  # partner subscriptions to expand: the service's own code
            continue
        name = type(event).__name__
        notices.append((attrs.id, name, r.topic, attrs.time, [[k, v.decode()] for k, v in to_kafka_headers(attrs)],
                        event.model_dump(mode="json")))
        for mail in audience.direct:
            delivery_id = uuid.uuid4()
            rows.append((delivery_id, attrs.id, name, audience.kind, "email", mail.recipient, None, None, None,
                         mail.address, True, f"<{delivery_id.hex}@{MESSAGE_DOMAIN}>", now))
    await conn.executemany(
        """INSERT INTO notices (event_id, event_type, origin_topic, occurred_at, headers, data)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING""", notices)
    await conn.executemany(
        """INSERT INTO deliveries (id, event_id, event_type, kind, channel, recipient, partner_id, contact_id,
                                   webhook_id, address, transactional, message_id, next_attempt_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (event_id, recipient, channel) DO NOTHING""", rows)
    await _one_by_one(conn, slow)


async def drain(bootstrap: str, dsn: str, group: str, start: dict[TopicPartition, int], count: int,
                max_seconds: float, *, mode: str = "savepoint", max_records: int = 500) -> dict[str, Any]:
    handle = {"savepoint": _one_by_one, "set": _set_based}[mode]
    pool = await db.create_pool(dsn, max_size=2)
    await db.migrate(pool, db.load_migrations("runtime", "komerbij.runtime.migrations")
                     + db.load_migrations("notifications", "komerbij.notifications.migrations"))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    done = batches = 0
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        began = time.monotonic()
        deadline = began + max_seconds
        while done < count and time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=500, max_records=max_records)
            records = [r for recs in fetched.values() for r in recs]
            if not records:
                continue
            parsed: list[Parsed] = []
            for r in records:
                attrs = from_kafka_headers(r.headers or ())
                cls = HANDLED.get(attrs.type)
                if cls is not None:
                    parsed.append((r, attrs, parse(cls, r.value)))
            async with pool.acquire() as conn, conn.transaction():
                fresh = {row["event_id"] for row in await conn.fetch(
                    """INSERT INTO inbox (consumer, event_id, event_type)
                       SELECT $1, e.id, e.type FROM unnest($2::text[], $3::text[]) AS e(id, type)
                       ON CONFLICT DO NOTHING RETURNING event_id""",
                    CONSUMER, [a.id for _, a, _ in parsed], [a.type for _, a, _ in parsed],
                )}
                await handle(conn, [p for p in parsed if p[1].id in fresh])
            await consumer.commit({TopicPartition(tp.topic, tp.partition): recs[-1].offset + 1
                                   for tp, recs in fetched.items() if recs})
            done += len(records)
            batches += 1
        seconds = time.monotonic() - began
    finally:
        await consumer.stop()
        await pool.close()
    return {"mode": mode, "records": done, "seconds": round(seconds, 2), "batches": batches,
            "max_records": max_records, "events_per_s": round(done / seconds, 1) if seconds else 0.0}
