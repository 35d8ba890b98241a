"""A failed delivery on the dead-letter topic of the event's origin, written in the caller's transaction, and what
its replay does.

The row goes into the runtime's outbox table, so the `failed` status, the `NotificationFailed` event and the dead
letter commit together and the relay publishes them.

The event of a failed delivery is in notifications' inbox already (the delivery failed after the event was
consumed), so a replay with the event's own id would be skipped as a duplicate. The letter therefore names the id
its replay carries (`dlq_replay_id`, see komerbij.runtime.deadletters): `redelivery:<delivery id>:<attempt>`, one
per failure of one delivery. A replayed message with such an id sends that one delivery again (its message id
unchanged, as an admin's retry does), not the event to everyone again; the inbox sees each id once, so replaying the
letter twice, or a second copy of it, has one effect.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from komerbij.contracts import CloudEventAttributes, to_kafka_headers
from komerbij.contracts.topics import dlq_of
from komerbij.notifications.adapters import deliveries
from komerbij.runtime.deadletters import PREFIX, REPLAY_ID
from komerbij.runtime.outbox import OutboxRows, add_record

log = logging.getLogger(__name__)
_REDELIVERY = "redelivery:"


def redelivery_id(delivery_id: str, attempts: int) -> str:
    return f"{_REDELIVERY}{delivery_id}:{attempts}"


def redelivery_of(event_id: str) -> tuple[uuid.UUID, int] | None:
    """(delivery id, attempt at which it failed) when `event_id` is the replay of a delivery letter, else None."""
    if not event_id.startswith(_REDELIVERY):
        return None
    delivery, _, attempts = event_id.removeprefix(_REDELIVERY).rpartition(":")
    try:
        return uuid.UUID(delivery), int(attempts)
    except ValueError:
        return None


async def add_dead_letter(conn: asyncpg.Connection | OutboxRows, *, origin_topic: str, key: str,
                          headers: list[list[str]], payload: bytes, error_class: str, error_message: str,
                          group: str, attempts: int, at: datetime, extra: dict[str, str]) -> None:
    original = [[k, v] for k, v in headers if not k.startswith(PREFIX)]
    details = {
        "error_class": error_class, "error_message": error_message[:1000], "topic": origin_topic,
        "partition": "", "offset": "", "group": group, "attempts": str(attempts), "at": at.isoformat(), **extra,
    }
    if "delivery_id" in extra:
        details[REPLAY_ID.removeprefix(PREFIX)] = redelivery_id(extra["delivery_id"], attempts)
    await add_record(conn, topic=dlq_of(origin_topic), key=key, type_="dead-letter",
                     headers=original + [[PREFIX + k, v] for k, v in details.items()], payload=payload)


async def redeliver(conn: asyncpg.Connection, delivery_id: uuid.UUID, attempts: int, *, data: dict[str, Any],
                    attributes: CloudEventAttributes, now: datetime) -> bool:
    """Make the delivery that failed at `attempts` due again; False (and why, in the log) when it cannot be.

    Its event's data and envelope come back from the replayed event when the retention job has cleared them.
    """
    row = await conn.fetchrow(
        """SELECT d.status, d.attempts, d.event_id, w.disabled_at IS NOT NULL AS endpoint_disabled
           FROM deliveries d LEFT JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1 FOR UPDATE OF d""",
        delivery_id,
    )
    reason = (
        "the delivery no longer exists (past DELIVERY_LOG_RETENTION_DAYS)" if row is None
        else "the delivery is no longer failed" if row["status"] != "failed"
        else "the delivery was attempted again since this dead letter" if row["attempts"] != attempts
        else "its webhook is disabled; register the endpoint again" if row["endpoint_disabled"]
        else None
    )
    if reason is not None:
        log.warning("replayed dead letter not redelivered: %s", reason, extra={"delivery_id": str(delivery_id)})
        return False
    original = attributes.model_copy(update={"id": row["event_id"]})
    await conn.execute(
        "UPDATE notices SET data = $2, headers = $3 WHERE event_id = $1 AND data IS NULL",
        row["event_id"], data, [[k, v.decode()] for k, v in to_kafka_headers(original)],
    )
    await conn.execute(
        f"""WITH due AS (UPDATE deliveries SET status = 'pending', next_attempt_at = $2, updated_at = $2
                         WHERE id = $1 RETURNING 1)
            SELECT pg_notify('{deliveries.CHANNEL}', '') FROM due""",
        delivery_id, now,
    )
    log.info("delivery sent again from its replayed dead letter", extra={"delivery_id": str(delivery_id)})
    return True
