"""The consumer-drain's fair baseline: the least work the notifications design needs per SignupConfirmed, bare.

A plain aiokafka consumer in a consumer group (the group's offsets are set to the drain's start before it runs)
fetches batches of the same records the service drains and, per fetched batch, writes in ONE transaction the rows
notifications writes per event — its inbox row, its notice row and the participant's pending delivery row — with one
binary `COPY` (asyncpg `copy_records_to_table`) per table, wakes the dispatcher once (`pg_notify`, as the service's
insert does), commits, and then commits the batch's offsets. The tables are notifications' own, made by its
migrations (runtime + service) in a database of this baseline's own, so every index and constraint is paid for.

What it leaves out, and why that makes it a *stricter* baseline than the service can ever equal:
- no inbox dedupe: plain `COPY` cannot say `ON CONFLICT DO NOTHING`; the database is fresh and the records unique,
  so the rows are the same, but the service must find out which events are new (and skip the rest);
- no schema validation or event model: the value is stored as the notice's `data` as it came (orjson only reads
  the participant's address out of it), the headers are copied as they came;
- no partner lookup for the owner municipality (the benchmark's database has no partners, so the service's lookup
  finds nobody and adds no row), no poison handling, no retries, no metrics, no logging per batch.

Run: `python -m bench.fair_consumer BOOTSTRAP DSN GROUP TOPIC COUNT MAX_SECONDS MAX_RECORDS`; prints `ready PID` (PID:
its PostgreSQL backend's) once it
is connected, then one JSON line {"records", "seconds", "batches", "maxrss_mb"} (seconds: first fetch → last commit),
and exits when its stdin is closed (so that its CPU time can still be read after the drain).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer

from komerbij.contracts.events.registration import SignupConfirmed

# What the service's routing writes for a SignupConfirmed: a signup-kind mail to the participant (its own address).
KIND, CHANNEL, RECIPIENT, MESSAGE_DOMAIN = "signup", "email", "participant", "komerbij.nl"
NAMES = {SignupConfirmed.TYPE: SignupConfirmed.__name__}  # the notice's and delivery's event_type
DELIVERY_COLUMNS = ("id", "event_id", "event_type", "kind", "channel", "recipient", "address", "transactional",
                    "message_id", "next_attempt_at")


def rows_of(records: list, consumer: str, now: datetime) -> tuple[list, list, list]:
    inbox, notices, deliveries = [], [], []
    for record in records:
        headers = {k: v for k, v in record.headers}
        event_id = headers["ce_id"].decode()
        event_type = headers["ce_type"].decode()
        name = NAMES[event_type]
        inbox.append((consumer, event_id, event_type))
        notices.append((event_id, name, record.topic, datetime.fromisoformat(headers["ce_time"].decode()),
                        orjson.dumps([[k, v.decode()] for k, v in record.headers]).decode(), record.value.decode()))
        delivery_id = uuid.uuid4()
        deliveries.append((delivery_id, event_id, name, KIND, CHANNEL, RECIPIENT, orjson.loads(record.value)["email"],
                           True, f"<{delivery_id.hex}@{MESSAGE_DOMAIN}>", now))
    return inbox, notices, deliveries


async def drain(bootstrap: str, dsn: str, group: str, topic: str, count: int, max_seconds: float,
                max_records: int) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=max_records)
    await consumer.start()
    print(f"ready {await conn.fetchval('SELECT pg_backend_pid()')}", flush=True)
    try:
        records = batches = 0
        began: float | None = None
        deadline = time.perf_counter() + max_seconds
        while records < count and time.perf_counter() < deadline:
            fetched = await consumer.getmany(timeout_ms=500, max_records=max_records)
            batch = [r for recs in fetched.values() for r in recs]
            if not batch:
                continue
            began = began or time.perf_counter()
            inbox, notices, deliveries = rows_of(batch, group, datetime.now(UTC))
            async with conn.transaction():
                await conn.copy_records_to_table("inbox", records=inbox,
                                                 columns=("consumer", "event_id", "event_type"))
                await conn.copy_records_to_table("notices", records=notices,
                                                 columns=("event_id", "event_type", "origin_topic", "occurred_at",
                                                          "headers", "data"))
                await conn.copy_records_to_table("deliveries", records=deliveries, columns=DELIVERY_COLUMNS)
                await conn.execute("SELECT pg_notify('deliveries', '')")
            await consumer.commit()
            records += len(batch)
            batches += 1
        seconds = time.perf_counter() - (began or time.perf_counter())
        result = {"records": records, "seconds": round(seconds, 3), "batches": batches,
                  "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        print(json.dumps(result), flush=True)
        # Stay, connection and all, so the benchmark can still read our and our backend's CPU time, until it closes
        # our stdin.
        await asyncio.to_thread(sys.stdin.read)
    finally:
        await consumer.stop()
        await conn.close()
    return result


def main() -> None:
    bootstrap, dsn, group, topic, count, max_seconds, max_records = sys.argv[1:8]
    asyncio.run(drain(bootstrap, dsn, group, topic, int(count), float(max_seconds), int(max_records)))


if __name__ == "__main__":
    main()
