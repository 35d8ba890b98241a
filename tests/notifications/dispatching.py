"""Dispatch rounds driven by the test: `dispatch_due` on a real, migrated PostgreSQL database, sending to real SMTP
and HTTP servers in this process. What the tests of faults in the dispatcher share."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from support.infra import Infra

from komerbij.contracts import CloudEventAttributes
from komerbij.contracts.events.base import Event
from komerbij.contracts.events.notifications import NotificationDelivered, NotificationFailed
from komerbij.notifications.adapters.mail import Mailer
from komerbij.notifications.service.dispatch import Dispatcher, Outcome, dispatch_due
from komerbij.notifications.service.routing import record_deliveries_many
from komerbij.notifications.settings import Settings
from komerbij.runtime import db

from .conftest import UNSUBSCRIBE_SECRET


@asynccontextmanager
async def database(infra: Infra, name: str) -> AsyncIterator[asyncpg.Pool]:
    """A migrated database of its own (a test's: what one test leaves due is no other test's to send)."""
    migrations = (db.load_migrations("runtime", "komerbij.runtime.migrations")
                  + db.load_migrations("notifications", "komerbij.notifications.migrations"))
    pool = await db.create_pool(infra.new_database(name), max_size=6)
    try:
        await db.migrate(pool, migrations)
        yield pool
    finally:
        await pool.close()


def dispatcher(pool: Any, smtp_port: int, *, username: str | None = None, password: str | None = None,
               starttls: bool = False, **settings: Any) -> Dispatcher:
    """A dispatcher as the service makes one (see entrypoints/jobs.py), with `settings` over the tests' defaults."""
    s = Settings(**{
        "database_url": "postgresql://unused", "kafka_bootstrap_servers": "unused",
        "jwt_secret": "jwt-secret-for-tests", "unsubscribe_secret": UNSUBSCRIBE_SECRET, "smtp_port": smtp_port,
        "mail_retry_schedule": "0.2s,0.2s", "webhook_retry_schedule": "0.2s,0.2s", "retry_jitter": 0,
        "admin_emails": "", **settings,
    })
    mailer = Mailer(host="127.0.0.1", port=smtp_port, sender=s.mail_from, username=username, password=password,
                    starttls=starttls, timeout=s.smtp_timeout_seconds)
    return Dispatcher(pool, s, mailer, "/komerbij/tests", lambda: datetime.now(UTC))


async def record(pool: asyncpg.Pool, events: list[Event]) -> list[str]:
    """The deliveries of `events` (due a second ago) as the consumer records them, in one batch; their event ids.
    Each event's CloudEvents time is a millisecond after the one before: the order they happened in."""
    start = datetime.now(UTC)
    items = [(e, CloudEventAttributes(id=str(uuid.uuid4()), source="/komerbij/tests", type=e.TYPE, subject=e.key,
                                      time=start + timedelta(milliseconds=i)), e.TOPIC)
             for i, e in enumerate(events)]
    async with pool.acquire() as conn, conn.transaction():
        await record_deliveries_many(conn, items, now=datetime.now(UTC) - timedelta(seconds=1))
    return [attrs.id for _, attrs, _ in items]


async def rounds_until(d: Dispatcher, pool: asyncpg.Pool, event_ids: list[str], *, timeout: float = 30,
                       statuses: tuple[str, ...] = ("delivered", "failed", "skipped")) -> list[Outcome]:
    """Rounds, as the dispatch job runs them, until every delivery of `event_ids` is in one of `statuses`."""
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcomes += await dispatch_due(d, datetime.now(UTC))
        open_ = await pool.fetchval("""SELECT count(*) FROM deliveries WHERE event_id = ANY($1::text[])
                                       AND NOT status = ANY($2::text[])""", event_ids, list(statuses))
        if open_ == 0:
            return outcomes
        await asyncio.sleep(0.05)  # the next poll: retries fall due on their schedule
    rows = await pool.fetch("SELECT status, last_error FROM deliveries WHERE event_id = ANY($1::text[])", event_ids)
    raise AssertionError(f"deliveries not done within {timeout}s: {[tuple(r) for r in rows]}")


async def deliveries_of(pool: asyncpg.Pool, event_ids: list[str]) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM deliveries WHERE event_id = ANY($1::text[]) ORDER BY created_at, id",
                            event_ids)


async def attempt_log(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> list[tuple[int, str, str | None]]:
    rows = await pool.fetch("""SELECT attempt, outcome, error FROM delivery_attempts WHERE delivery_id = $1
                               ORDER BY attempt""", delivery_id)
    return [(r["attempt"], r["outcome"], r["error"]) for r in rows]


async def outcome_events(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> list[tuple[str, str]]:
    """(type, id) of every NotificationDelivered / NotificationFailed in the outbox about the delivery."""
    rows = await pool.fetch("SELECT id, type, payload FROM outbox WHERE type = ANY($1::text[]) ORDER BY seq",
                            [NotificationDelivered.TYPE, NotificationFailed.TYPE])
    return [(r["type"], str(r["id"])) for r in rows if json.loads(r["payload"])["delivery_id"] == str(delivery_id)]
