"""Rebuilding the read model from the topics: `python -m komerbij.dashboard rebuild` (with the service stopped).

What it does, in this order:
1. refuses while the consumer group has members (a running dashboard would go on committing its own offsets);
2. reads each consumed partition's first offset still held (its log start: what retention has not deleted yet);
3. commits those offsets for the group, so the next start replays everything the topics still hold;
4. in one transaction forgets every row whose event lies at or after its partition's log start, and the group's
   inbox (else the replay would be skipped as duplicates).
Steps 3 and 4 in that order: stopped between them, the service replays onto the old rows, whose versions the
replay only matches (nothing changes, nothing is counted twice); run the command again.

What a rebuild can and cannot give back. The topics keep registration.activities and media.mentions 400 days,
materials.orders 90 days and registration.signups 14 days (personal data; contracts/topics.py). A row whose latest
event the topics no longer hold is kept as it is: no event still in a topic can replace it (each event is a whole
picture of its entity and a row only gives way to a higher version), so keeping it gives exactly what a replay of
the full history would. Every other row is made again from the topics. So a rebuild repairs what its topics still
hold (a lost or damaged database restored from a backup, a model that missed events, a change in how events become
rows); it cannot repair a kept row, e.g. last year's sign-ups of an activity, which nothing in Kafka describes any
more. `--from-scratch` forgets the kept rows too: then the figures of expired events are gone for good (needed only
when a topic was deleted and made anew, so that its offsets started again).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from komerbij.dashboard.adapters import model
from komerbij.runtime import db
from komerbij.runtime.kafka import client_settings

log = logging.getLogger(__name__)


class GroupActive(RuntimeError):
    """The consumer group still has members: the dashboard is running."""


@dataclass(frozen=True)
class Rebuilt:
    starts: dict[str, dict[int, int]]  # topic → partition → the offset the replay starts at
    forgotten: int  # rows to be made again by the replay
    kept: dict[str, int]  # rows per table whose events the topics no longer hold


async def members_of(admin: AIOKafkaAdminClient, group: str) -> int:
    responses = await admin.describe_consumer_groups([group])
    return sum(len(g["members"]) for response in responses for g in response.to_object()["groups"])


async def log_starts(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    options = client_settings().client_options()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="komerbij-dashboard-rebuild", **options)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **options)
    await reader.start()
    try:
        return dict(await reader.beginning_offsets(partitions))
    finally:
        await reader.stop()


async def rebuild(database_url: str, bootstrap: str, group: str, topics: Sequence[str], *,
                  from_scratch: bool = False) -> Rebuilt:
    options = client_settings().client_options()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="komerbij-dashboard-rebuild", **options)
    await admin.start()
    try:
        if members := await members_of(admin, group):
            raise GroupActive(f"consumer group {group} has {members} member(s): stop the dashboard first "
                              "(Kubernetes: pause its ScaledObject at 0 replicas, see docs/DEPLOY.md)")
    finally:
        await admin.close()
    starts = await log_starts(bootstrap, topics)
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **options)
    await committer.start()
    try:
        committer.assign(list(starts))
        await committer.commit(dict(starts))
    finally:
        await committer.stop()
    by_topic: dict[str, dict[int, int]] = {}
    for tp, offset in sorted(starts.items()):
        by_topic.setdefault(tp.topic, {})[tp.partition] = offset
    pool = await db.create_pool(database_url, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            forgotten = await model.forget(conn, group, None if from_scratch else by_topic)
            kept = await model.row_counts(conn)
    finally:
        await pool.close()
    log.info("read model reset for a replay", extra={"forgotten": forgotten, "kept": sum(kept.values())})
    return Rebuilt(by_topic, forgotten, kept)
