"""A failed delivery on the dead-letter topic of the event's origin, written in the caller's transaction.

The row goes into the runtime's outbox table, so the `failed` status, the `NotificationFailed` event and the dead
letter commit together and the relay publishes them. The runtime's `add_event` only takes event models, hence the
plain insert (same columns, same header format; see runtime/outbox.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from komerbij.contracts.topics import dlq_of
from komerbij.runtime.deadletters import PREFIX


async def add_dead_letter(conn: asyncpg.Connection, *, origin_topic: str, key: str, headers: list[list[str]],
                          payload: bytes, error_class: str, error_message: str, group: str, attempts: int,
                          at: datetime, extra: dict[str, str]) -> None:
    original = [[k, v] for k, v in headers if not k.startswith(PREFIX)]
    details = {
        "error_class": error_class, "error_message": error_message[:1000], "topic": origin_topic,
        "partition": "", "offset": "", "group": group, "attempts": str(attempts), "at": at.isoformat(), **extra,
    }
    await conn.execute(
        """INSERT INTO outbox (id, topic, key, type, headers, payload) VALUES ($1, $2, $3, $4, $5, $6)""",
        uuid.uuid4(), dlq_of(origin_topic), key, "dead-letter",
        original + [[PREFIX + k, v] for k, v in details.items()], payload,
    )
    await conn.execute("NOTIFY outbox")
