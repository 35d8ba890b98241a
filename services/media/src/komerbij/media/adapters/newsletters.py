"""SQL of the nieuwsflits: editions, the featured mentions of a period, and media's read model of the agenda."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

Row = asyncpg.Record


def _dates(dates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """jsonb holds the day as ISO text (the pool's codec writes JSON with the standard encoder)."""
    return [{**d, "day": d["day"].isoformat() if isinstance(d["day"], date) else d["day"]} for d in dates]


async def insert_edition(conn: asyncpg.Connection, edition_id: uuid.UUID, values: dict[str, Any], who: str,
                         now: datetime) -> None:
    await conn.execute(
        """INSERT INTO editions (id, title, intro, period_from, period_to, sections, activity_ids, dates,
                                 created_by, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)""",
        edition_id, values["title"], values["intro"], values["period_from"], values["period_to"],
        values["sections"], values["activity_ids"], _dates(values["dates"]), who, now,
    )


async def update_edition(conn: asyncpg.Connection, edition_id: uuid.UUID, values: dict[str, Any],
                         now: datetime) -> None:
    await conn.execute(
        """UPDATE editions SET title = $2, intro = $3, period_from = $4, period_to = $5, sections = $6,
                  activity_ids = $7, dates = $8, updated_at = $9
           WHERE id = $1 AND status = 'draft'""",
        edition_id, values["title"], values["intro"], values["period_from"], values["period_to"],
        values["sections"], values["activity_ids"], _dates(values["dates"]), now,
    )


async def edition(conn: asyncpg.Connection, edition_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    return await conn.fetchrow(f"SELECT * FROM editions WHERE id = $1{' FOR UPDATE' if lock else ''}", edition_id)


async def edition_by_number(conn: asyncpg.Connection, number: int) -> Row | None:
    return await conn.fetchrow("SELECT * FROM editions WHERE number = $1 AND status = 'sent'", number)


async def editions(conn: asyncpg.Connection) -> list[Row]:
    return await conn.fetch("SELECT * FROM editions ORDER BY status = 'sent', coalesce(sent_at, updated_at) DESC")


async def sent_editions(conn: asyncpg.Connection) -> list[Row]:
    return await conn.fetch("SELECT * FROM editions WHERE status = 'sent' ORDER BY number DESC")


async def next_number(conn: asyncpg.Connection) -> int:
    """The number the edition being sent gets: one more than the last. The transaction-scoped lock makes editions
    sent at the same moment take turns (and numbers in sending order, without gaps)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('media.editions.number'))")
    return await conn.fetchval("SELECT coalesce(max(number), 0) + 1 FROM editions")


async def mark_sent(conn: asyncpg.Connection, edition_id: uuid.UUID, number: int, content: dict[str, Any], who: str,
                    now: datetime) -> None:
    await conn.execute(
        """UPDATE editions SET status = 'sent', number = $2, content = $3, sent_at = $4, sent_by = $5,
                  updated_at = $4 WHERE id = $1""",
        edition_id, number, content, now, who,
    )


async def record_progress(conn: asyncpg.Connection, edition_id: uuid.UUID, total: int, sent: int, failed: int,
                          skipped: int, at: datetime) -> bool:
    """Keep the newest report only: an older one arriving late (or again) changes nothing."""
    return await conn.fetchval(
        """UPDATE editions SET recipients_total = $2, recipients_sent = $3, recipients_failed = $4,
                  recipients_skipped = $5, progress_at = $6
           WHERE id = $1 AND (progress_at IS NULL OR progress_at <= $6) RETURNING true""",
        edition_id, total, sent, failed, skipped, at,
    ) or False


async def featured_mentions(conn: asyncpg.Connection, start: datetime, end: datetime, limit: int) -> list[Row]:
    """Featured mentions published in [start, end), originals only (a copy is the same story), oldest first."""
    return await conn.fetch(
        """SELECT m.id, m.title, m.url, m.published_at, o.name AS outlet_name
           FROM mentions m JOIN outlets o ON o.id = m.outlet_id
           WHERE m.featured AND m.original_id IS NULL AND m.published_at >= $1 AND m.published_at < $2
           ORDER BY m.published_at, m.id LIMIT $3""",
        start, end, limit,
    )


# --- the agenda's read model ----------------------------------------------------------------------------------------

async def upsert_activity(conn: asyncpg.Connection, values: dict[str, Any], at: datetime) -> None:
    await conn.execute(
        """INSERT INTO agenda_activities (activity_id, title, starts_at, ends_at, municipality, place, url, status,
                                          version_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (activity_id) DO UPDATE SET title = excluded.title, starts_at = excluded.starts_at,
                  ends_at = excluded.ends_at, municipality = excluded.municipality, place = excluded.place,
                  url = excluded.url, status = excluded.status, version_at = excluded.version_at
           WHERE agenda_activities.version_at <= excluded.version_at""",
        values["activity_id"], values["title"], values["starts_at"], values["ends_at"], values["municipality"],
        values["place"], values["url"], values["status"], at,
    )


async def update_known_activity(conn: asyncpg.Connection, values: dict[str, Any], at: datetime) -> None:
    """A change to an activity the agenda already shows; its status stays (an unpublished one is not added)."""
    await conn.execute(
        """UPDATE agenda_activities SET title = $2, starts_at = $3, ends_at = $4, municipality = $5, place = $6,
                  url = $7, version_at = $8
           WHERE activity_id = $1 AND version_at <= $8""",
        values["activity_id"], values["title"], values["starts_at"], values["ends_at"], values["municipality"],
        values["place"], values["url"], at,
    )


async def set_activity_status(conn: asyncpg.Connection, activity_id: str, status: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE agenda_activities SET status = $2, version_at = $3 WHERE activity_id = $1 AND version_at <= $3",
        activity_id, status, at,
    )


async def upcoming_activities(conn: asyncpg.Connection, after: datetime, limit: int) -> list[Row]:
    return await conn.fetch(
        """SELECT * FROM agenda_activities WHERE status = 'published' AND ends_at >= $1
           ORDER BY starts_at, activity_id LIMIT $2""",
        after, limit,
    )


async def activities(conn: asyncpg.Connection, ids: list[str]) -> dict[str, Row]:
    rows = await conn.fetch("SELECT * FROM agenda_activities WHERE activity_id = ANY($1::text[])", ids)
    return {r["activity_id"]: r for r in rows}
