"""The drain barrier: wait until what a test set in motion has come to rest, then assert "exactly" and "never".

A fixed sleep proves nothing about a message still on its way, and the first sight of a row says nothing about a
second one coming. `drain` waits, with a deadline, until
- every consumer group named has committed offsets at the end of each partition of its topics (a service commits
  only after the transaction holding the effects, so its effects are all in its database),
- every outbox named holds no unsent row (the relay stamps a row sent only once Kafka acknowledged it, so it is in
  the topic, and a reader that reads to the end offsets sees it),
- and every extra condition holds (say, "no delivery still to send"),
all in one pass that the topics' end offsets do not change around. Within a pass the checks run downstream first
(groups, then the extra conditions, then the outboxes): work moves from Kafka to a consumer to its tables to its
outbox, so something that moved on during the pass is caught where it arrived, or changed the end offsets.
The failure names what was still moving.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from support.kafka import partitions_of

# An extra condition: None when at rest, else what is still moving (it goes into the failure message).
Condition = Callable[[], Awaitable[str | None]]


async def drain(
    bootstrap: str,
    *,
    groups: Mapping[str, Sequence[str]] | None = None,
    outboxes: Sequence[str] = (),
    also: Sequence[Condition] = (),
    timeout: float = 60.0,
    interval: float = 0.2,
) -> None:
    """Until `groups` ({group: topics}) are at the end of their topics, the outboxes (DSNs) are empty and `also` holds.

    Raises AssertionError after `timeout` seconds, naming every group partition, outbox and condition not at rest.
    """
    groups = dict(groups or {})
    topics = sorted({t for ts in groups.values() for t in ts})
    partitions = await partitions_of(bootstrap, topics) if topics else []
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await reader.start()
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        moving: list[str] = ["not checked yet"]
        while True:
            before = await reader.end_offsets(partitions) if partitions else {}
            moving = await _lagging(admin, groups, before)
            for condition in also:
                if (what := await condition()) is not None:
                    moving.append(what)
            for dsn in outboxes:
                if unsent := await _unsent(dsn):
                    moving.append(f"outbox of {_db(dsn)} holds {unsent} unsent row(s)")
            after = await reader.end_offsets(partitions) if partitions else {}
            if after != before:
                moving.append("new records arrived during the check")
            if not moving:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not drained within {timeout}s: " + "; ".join(moving))
            await asyncio.sleep(interval)
    finally:
        await admin.close()
        await reader.stop()


async def _lagging(admin: AIOKafkaAdminClient, groups: Mapping[str, Sequence[str]],
                   ends: Mapping[TopicPartition, int]) -> list[str]:
    behind = []
    for group, topics in groups.items():
        committed = await admin.list_consumer_group_offsets(group)
        for tp, end in sorted(ends.items()):
            if tp.topic not in topics:
                continue
            found = committed.get(tp)
            offset = found.offset if found is not None and found.offset >= 0 else 0
            if offset < end:
                behind.append(f"group {group} at {tp.topic}[{tp.partition}] committed {offset} < end {end}")
    return behind


async def _unsent(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    finally:
        await conn.close()


def _db(dsn: str) -> str:
    return dsn.rsplit("/", 1)[-1]


def no_open_deliveries(dsn: str) -> Condition:
    """Notifications: no delivery waits to be sent or retried, and none is being sent."""

    async def check() -> str | None:
        conn = await asyncpg.connect(dsn)
        try:
            n = await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending', 'retrying')")
        finally:
            await conn.close()
        return f"{n} delivery(ies) of {_db(dsn)} still open" if n else None

    return check
