"""SQL of the nieuwsflits: editions to deliver, their recipients, the shared pace, and the delivery counts."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


async def add_edition(conn: asyncpg.Connection, edition_id: str, notice_id: str, now: datetime) -> bool:
    """The edition with every contact subscribed to the nieuwsflits now (a contact once, however many of its
    partner's subscriptions name it); False when it was taken in before (nothing changes then)."""
    added = await conn.fetchval(
        """INSERT INTO newsletter_editions (edition_id, notice_id, total, received_at) VALUES ($1, $2, 0, $3)
           ON CONFLICT (edition_id) DO NOTHING RETURNING true""",
        edition_id, notice_id, now,
    )
    if not added:
        return False
    total = await conn.fetchval(
        """WITH added AS (
             INSERT INTO newsletter_recipients (edition_id, contact_id, partner_id)
             SELECT DISTINCT $1::text, c.id, c.partner_id FROM contacts c
             WHERE c.unsubscribed_at IS NULL AND EXISTS (
                   SELECT 1 FROM subscriptions s WHERE s.partner_id = c.partner_id AND $2 = ANY (s.event_types))
             ON CONFLICT DO NOTHING RETURNING 1)
           SELECT count(*) FROM added""",
        edition_id, "NewsletterSent",
    )
    await conn.execute("UPDATE newsletter_editions SET total = $2 WHERE edition_id = $1", edition_id, total)
    return True


async def lock_pace(conn: asyncpg.Connection) -> tuple[datetime, datetime]:
    """The shared pace, locked until the transaction ends (replicas release one after the other), and the database's
    time: the one clock all replicas share, and one that runs however a test sets the service's."""
    await conn.execute("INSERT INTO newsletter_pace (id, last_release) VALUES (true, clock_timestamp()) "
                       "ON CONFLICT DO NOTHING")
    row = await conn.fetchrow("SELECT last_release, clock_timestamp() AS now FROM newsletter_pace WHERE id FOR UPDATE")
    return row["last_release"], row["now"]


async def set_pace(conn: asyncpg.Connection, last_release: datetime) -> None:
    await conn.execute("UPDATE newsletter_pace SET last_release = $1 WHERE id", last_release)


async def take_waiting(conn: asyncpg.Connection, limit: int, now: datetime) -> list[asyncpg.Record]:
    # `now`: the pace's time (the database's), stamped as released_at
    """Up to `limit` recipients whose turn it is (oldest edition first), marked released; with their notice id."""
    return await conn.fetch(
        """WITH turn AS (
             SELECT r.edition_id, r.contact_id FROM newsletter_recipients r
             JOIN newsletter_editions e ON e.edition_id = r.edition_id
             WHERE r.released_at IS NULL
             ORDER BY e.received_at, r.edition_id, r.contact_id LIMIT $1 FOR UPDATE OF r SKIP LOCKED)
           UPDATE newsletter_recipients r SET released_at = $2 FROM turn, newsletter_editions e
           WHERE r.edition_id = turn.edition_id AND r.contact_id = turn.contact_id AND e.edition_id = r.edition_id
           RETURNING r.edition_id, r.contact_id, r.partner_id, e.notice_id""",
        limit, now,
    )


async def unfinished(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM newsletter_editions WHERE finished_at IS NULL ORDER BY received_at")


async def counts(conn: asyncpg.Connection, notice_id: str) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT status, count(*)::int AS n FROM deliveries WHERE event_id = $1 GROUP BY status", notice_id)
    return {r["status"]: r["n"] for r in rows}


async def waiting(conn: asyncpg.Connection, edition_id: str) -> int:
    return await conn.fetchval(
        "SELECT count(*)::int FROM newsletter_recipients WHERE edition_id = $1 AND released_at IS NULL", edition_id)


async def reported(conn: asyncpg.Connection, edition_id: str, counts: dict[str, int],
                   finished_at: datetime | None) -> None:
    await conn.execute("UPDATE newsletter_editions SET reported = $2, finished_at = $3 WHERE edition_id = $1",
                       edition_id, counts, finished_at)


def contact_recipient(contact_id: uuid.UUID) -> str:
    return f"contact:{contact_id}"
