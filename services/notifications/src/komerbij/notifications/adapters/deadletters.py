"""A failed delivery on the dead-letter topic of the event's origin, written in the caller's transaction.

The row goes into the runtime's outbox table, so the `failed` status, the `NotificationFailed` event and the dead
letter commit together and the relay publishes them.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from komerbij.contracts.topics import dlq_of
from komerbij.runtime.deadletters import PREFIX
from komerbij.runtime.outbox import OutboxRows, add_record


async def add_dead_letter(conn: asyncpg.Connection | OutboxRows, *, origin_topic: str, key: str,
                          headers: list[list[str]], payload: bytes, error_class: str, error_message: str,
                          group: str, attempts: int, at: datetime, extra: dict[str, str]) -> None:
    original = [[k, v] for k, v in headers if not k.startswith(PREFIX)]
    details = {
        "error_class": error_class, "error_message": error_message[:1000], "topic": origin_topic,
        "partition": "", "offset": "", "group": group, "attempts": str(attempts), "at": at.isoformat(), **extra,
    }
    await add_record(conn, topic=dlq_of(origin_topic), key=key, type_="dead-letter",
                     headers=original + [[PREFIX + k, v] for k, v in details.items()], payload=payload)
