"""The consumer-drain baseline: a bare aiokafka loop reading the same records the service drains, nothing else.

It answers "how fast can this machine hand records to Python at all"; the service's rate is reported as a ratio to
it. It reads each record's value and headers (touching them), decodes nothing and commits nothing — the ceiling of
the client library, not a fair competitor for a consumer that writes to PostgreSQL.

Run: `python -m bench.raw_consumer BOOTSTRAP START_JSON COUNT MAX_SECONDS` (START_JSON: {"topic:partition": offset});
prints one JSON line {"records", "seconds", "bytes", "maxrss_mb"}.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from aiokafka import AIOKafkaConsumer, TopicPartition


async def drain(bootstrap: str, start: dict[TopicPartition, int], count: int, max_seconds: float) -> dict[str, float]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        records = 0
        size = 0
        began = time.perf_counter()
        deadline = began + max_seconds
        while records < count and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            for recs in batch.values():
                for r in recs:
                    size += len(r.value or b"") + sum(len(v) for _, v in r.headers or ())
                records += len(recs)
        seconds = time.perf_counter() - began
    finally:
        await consumer.stop()
    return {"records": records, "seconds": round(seconds, 3), "bytes": size,
            "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    bootstrap, start_json, count, max_seconds = sys.argv[1:5]
    start = {}
    for key, offset in json.loads(start_json).items():
        topic, _, partition = key.rpartition(":")
        start[TopicPartition(topic, int(partition))] = int(offset)
    print(json.dumps(asyncio.run(drain(bootstrap, start, int(count), float(max_seconds)))))


if __name__ == "__main__":
    main()
