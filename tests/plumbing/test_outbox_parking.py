"""An outbox row Kafka refuses (message too large for its topic, topic missing) is parked after a bounded number of
tries; the rows of its key wait behind it, every other row is published exactly once, and an operator retries or
drops the parked row with `komerbij outbox`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from support.infra import Infra
from support.kafka import read_topic
from support.services import eventually

from komerbij.runtime import db
from komerbij.runtime.metrics import Metrics
from komerbij.runtime.outbox import OutboxRelay, add_record

MAX_ATTEMPTS = 3


async def create_topic(bootstrap: str, name: str, partitions: int, **config: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=config)])
    finally:
        await admin.close()


def komerbij(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "komerbij.devtools.cli", "outbox", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "DATABASE_URL": dsn})


async def add(pool: asyncpg.Pool, topic: str, key: str, value: bytes) -> int:
    async with pool.acquire() as conn, conn.transaction():
        await add_record(conn, topic=topic, key=key, type_="test.parking", headers=[["ce_id", str(uuid.uuid4())]],
                         payload=value)
        return await conn.fetchval("SELECT max(seq) FROM outbox")


async def test_a_refused_row_is_parked_its_key_waits_and_every_other_row_is_published_once(infra: Infra) -> None:
    run = uuid.uuid4().hex[:8]
    small, missing, fine = f"parking-small-{run}", f"parking-missing-{run}", f"parking-fine-{run}"
    await create_topic(infra.kafka_bootstrap, small, 1, **{"max.message.bytes": "1024"})
    await create_topic(infra.kafka_bootstrap, fine, 3)
    dsn = infra.new_database("parking")
    pool = await db.create_pool(dsn)
    await db.migrate(pool, db.load_migrations("runtime", "komerbij.runtime.migrations"))
    metrics = Metrics("parking")
    relay = OutboxRelay(pool, dsn=dsn, bootstrap=infra.kafka_bootstrap, service="parking", metrics=metrics,
                        poll_interval=0.05, max_attempts=MAX_ATTEMPTS, retry_backoff=0.05)
    try:
        seq = {
            "a1": await add(pool, small, "a", b"a1"),
            "a2": await add(pool, small, "a", b"x" * 4096),  # over the topic's max.message.bytes
            "a3": await add(pool, small, "a", b"a3"),  # must wait behind a2: same topic and key
            "b1": await add(pool, small, "b", b"b1"),  # same partition as a, another key: goes on
            "b2": await add(pool, small, "b", b"b2"),
            "c1": await add(pool, missing, "c", b"c1"),  # its topic does not exist (yet)
            **{f"f{i}": await add(pool, fine, f"k{i % 4}", f"f{i}".encode()) for i in range(8)},
        }
        await relay.start()

        async def parked() -> list[asyncpg.Record]:
            rows = await pool.fetch("SELECT seq FROM outbox WHERE parked_at IS NOT NULL ORDER BY seq")
            return rows if len(rows) == 2 else []

        assert [r["seq"] for r in await eventually(parked)] == [seq["a2"], seq["c1"]]
        others = [seq[name] for name in ("a1", "b1", "b2", *(f"f{i}" for i in range(8)))]

        async def all_others_sent() -> bool:
            return await pool.fetchval("SELECT bool_and(sent_at IS NOT NULL) FROM outbox WHERE seq = ANY($1)", others)

        await eventually(all_others_sent)
        rows = {r["seq"]: r for r in await pool.fetch("SELECT * FROM outbox")}
        assert rows[seq["a2"]]["attempts"] == MAX_ATTEMPTS
        assert "MessageSizeTooLarge" in rows[seq["a2"]]["last_error"]
        assert rows[seq["c1"]]["attempts"] == MAX_ATTEMPTS and "does not exist" in rows[seq["c1"]]["last_error"]
        waiting = rows[seq["a3"]]  # (it may count one try: a2's first refusal took the whole batch with it)
        assert waiting["sent_at"] is None and waiting["parked_at"] is None
        # Everything Kafka took is there once: nothing was republished round after round.
        on_small = await read_topic(infra.kafka_bootstrap, small, until=lambda rs: len(rs) >= 3, to_end=True)
        assert [r.value for r in on_small] == [b"a1", b"b1", b"b2"]
        on_fine = await read_topic(infra.kafka_bootstrap, fine, until=lambda rs: len(rs) >= 8, to_end=True)
        assert sorted(r.value for r in on_fine) == sorted(f"f{i}".encode() for i in range(8))

        async def gauge_shows_two() -> bool:
            return metrics.outbox_parked._value.get() == 2

        await eventually(gauge_shows_two)

        listed = await asyncio.to_thread(komerbij, dsn, "list-parked")
        assert listed.returncode == 0, listed.stderr
        assert f"{seq['a2']}\t" in listed.stdout and f"{seq['c1']}\t" in listed.stdout
        assert "1 waiting behind" in listed.stdout and "2 parked outbox row(s)" in listed.stdout
        assert "xxxx" not in listed.stdout  # no payloads

        # The cause of c1 is fixed: its topic is created, and the operator retries it.
        await create_topic(infra.kafka_bootstrap, missing, 1)
        retried = await asyncio.to_thread(komerbij, dsn, "retry", str(seq["c1"]))
        assert retried.returncode == 0, retried.stderr
        on_missing = await read_topic(infra.kafka_bootstrap, missing, until=lambda rs: len(rs) >= 1)
        assert [r.value for r in on_missing] == [b"c1"]

        # a2 can never go: the operator drops it, an audit record stays, and a3 follows a1 at last.
        not_parked = await asyncio.to_thread(komerbij, dsn, "drop", str(seq["a3"]))
        assert not_parked.returncode == 1 and "not parked" in not_parked.stderr
        dropped = await asyncio.to_thread(komerbij, dsn, "drop", str(seq["a2"]), "--reason", "too large",
                                          "--by", "ops")
        assert dropped.returncode == 0, dropped.stderr
        on_small = await read_topic(infra.kafka_bootstrap, small, until=lambda rs: len(rs) >= 4, to_end=True)
        assert [r.value for r in on_small] == [b"a1", b"b1", b"b2", b"a3"]
        audit = await pool.fetchrow("SELECT * FROM outbox_dropped WHERE seq = $1", seq["a2"])
        assert (audit["topic"], audit["key"], audit["attempts"], audit["dropped_by"], audit["reason"]) == (
            small, "a", MAX_ATTEMPTS, "ops", "too large")
        assert not {"payload", "headers"} & set(audit.keys())  # asyncpg: `in` on a Record looks at values
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
    finally:
        await relay.stop()
        await pool.close()
