"""Data the scenarios need: published activities, sign-up bodies, consumer-group offsets, a counting SMTP sink."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from registration.builders import BASE
from support.services import auth

from komerbij.contracts.topics import TOPICS
from komerbij.devtools.processes import free_port, stop_process

# The registration tests' activity, with room for every sign-up of the benchmark.
ACTIVITY: dict[str, Any] = {**BASE, "capacity": 100_000}


async def published_activities(base_url: str, count: int) -> list[str]:
    """`count` activities published at once (an admin's submission skips moderation), each at a venue of its own so
    that no clash rule interferes; capacity large enough that every benchmark sign-up is confirmed (SignupConfirmed,
    the event that mails the participant)."""
    headers = auth("admin", subject="bench-admin")
    sem = asyncio.Semaphore(8)

    async def one(client: httpx.AsyncClient, i: int) -> str:
        body = {**ACTIVITY, "title": f"Samen koken {i}",
                "venue": {**ACTIVITY["venue"], "street": f"Lindengracht {100 + i}"}}
        async with sem:
            r = await client.post("/v1/activities", json=body, headers=headers)
        if r.status_code != 201 or r.json().get("status") != "published":
            raise RuntimeError(f"activity not published: {r.status_code} {r.text[:300]}")
        return str(r.json()["id"])

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(count))))


def signup_body(tag: str, index: int) -> dict[str, Any]:
    """A unique address per sign-up: the SMTP sink tells deliveries apart by recipient."""
    return {"name": f"Deelnemer {index}", "email": f"{tag}-{index}@example.org", "phone": None, "party_size": 1,
            "consent": True}


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    # Partition counts from the registry (what `ensure_topics` created): a fresh client's metadata may not know yet.
    partitions = [TopicPartition(t, p) for t in topics for p in range(TOPICS[t].partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    await asyncio.sleep(0)  # let aiokafka's background task start, or stop() re-raises its cancellation
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def commit_offsets(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Start a new consumer group at the given offsets, so a service reads only what a scenario puts on the topic
    (the shared topics hold the other scenarios' events too)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    await asyncio.sleep(0)
    try:
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets))
    finally:
        await consumer.stop()


async def committed_total(admin: AIOKafkaAdminClient, group: str, start: dict[TopicPartition, int]) -> int:
    """How many records after `start` the group has committed (what it has durably processed)."""
    found = await admin.list_consumer_group_offsets(group, partitions=list(start))
    total = 0
    for tp, first in start.items():
        meta = found.get(tp)
        if meta is not None and meta.offset >= 0:
            total += max(meta.offset - first, 0)
    return total


class MailSink:
    """`bench.smtp_sink` as a child process: when each recipient's mail arrived (CLOCK_MONOTONIC), read back from
    the file it appends to. Stopped with SIGTERM on exit."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.path = directory / f"mail-{self.port}.log"
        self.arrivals: dict[str, float] = {}
        self.count = 0
        self._offset = 0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> MailSink:
        self.path.touch()
        self._proc = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(self.port), str(self.path)],
                                      stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
                                      start_new_session=True)
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != "ready":
            raise RuntimeError("SMTP sink did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            stop_process(self._proc, sig=signal.SIGTERM, timeout=10)
        self.refresh()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def refresh(self) -> dict[str, float]:
        """Read what arrived since the last call (complete lines only)."""
        with self.path.open() as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode())
        for line in complete.splitlines():
            at, _, rcpt = line.partition(" ")
            self.count += 1
            self.arrivals.setdefault(rcpt, float(at))
        return self.arrivals


def new_group(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
