"""PostgreSQL access for outlets, feeds and mentions: plain parameterised SQL, one function per question."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg

Row = asyncpg.Record

OUTLET_COLUMNS = "id, name, medium, scope, province, municipality, reach, reach_source, reach_date"
MENTION_VIEW = """
    SELECT m.*, o.name AS outlet_name, o.medium, o.scope, o.province AS outlet_province,
           o.municipality AS outlet_municipality, o.reach AS outlet_reach,
           coalesce(m.reach, o.reach) AS effective_reach
    FROM mentions m JOIN outlets o ON o.id = m.outlet_id
"""


# --- outlets -------------------------------------------------------------------------------------------------------

async def insert_outlet(conn: asyncpg.Connection, outlet_id: uuid.UUID, values: dict[str, Any]) -> Row | None:
    return await conn.fetchrow(
        f"""INSERT INTO outlets ({OUTLET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT DO NOTHING RETURNING {OUTLET_COLUMNS}""",
        outlet_id, values["name"], values["medium"], values["scope"], values.get("province"),
        values.get("municipality"), values.get("reach"), values.get("reach_source"), values.get("reach_date"),
    )


async def outlets(conn: asyncpg.Connection) -> list[Row]:
    return await conn.fetch(f"SELECT {OUTLET_COLUMNS} FROM outlets ORDER BY lower(name)")


async def outlet(conn: asyncpg.Connection, outlet_id: uuid.UUID) -> Row | None:
    return await conn.fetchrow(f"SELECT {OUTLET_COLUMNS} FROM outlets WHERE id = $1", outlet_id)


async def outlet_by_name(conn: asyncpg.Connection, name: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {OUTLET_COLUMNS} FROM outlets WHERE lower(name) = lower($1)", name)


# --- feeds ---------------------------------------------------------------------------------------------------------

FEED_VIEW = "SELECT f.*, o.name AS outlet_name FROM feeds f JOIN outlets o ON o.id = f.outlet_id"


async def insert_feed(conn: asyncpg.Connection, feed_id: uuid.UUID, outlet_id: uuid.UUID, url: str,
                      interval_seconds: int, now: datetime) -> bool:
    return bool(await conn.fetchval(
        """INSERT INTO feeds (id, outlet_id, url, interval_seconds, next_poll_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (url) DO NOTHING RETURNING true""",
        feed_id, outlet_id, url, interval_seconds, now,
    ))


async def feeds(conn: asyncpg.Connection) -> list[Row]:
    return await conn.fetch(f"{FEED_VIEW} ORDER BY f.created_at, f.id")


async def feed(conn: asyncpg.Connection, feed_id: uuid.UUID) -> Row | None:
    return await conn.fetchrow(f"{FEED_VIEW} WHERE f.id = $1", feed_id)


async def feed_by_url(conn: asyncpg.Connection, url: str) -> Row | None:
    return await conn.fetchrow(f"{FEED_VIEW} WHERE f.url = $1", url)


async def claim_due_feeds(conn: asyncpg.Connection, now: datetime, lease: timedelta, limit: int) -> list[Row]:
    """Take the due feeds and push their next poll out by a lease, so another replica does not poll them too."""
    return await conn.fetch(
        """UPDATE feeds SET next_poll_at = $1::timestamptz + $2::interval
           WHERE id IN (SELECT id FROM feeds WHERE next_poll_at <= $1 ORDER BY next_poll_at
                        LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING id""",
        now, lease, limit,
    )


async def save_poll(conn: asyncpg.Connection, feed_id: uuid.UUID, *, now: datetime, outcome: str,
                    error: str | None, etag: str | None, last_modified: str | None, failures: int,
                    next_poll_at: datetime) -> None:
    await conn.execute(
        """UPDATE feeds SET last_polled_at = $2, last_outcome = $3, last_error = $4,
                  status = CASE WHEN $3 = 'error' THEN 'failing' ELSE 'ok' END,
                  last_success_at = CASE WHEN $3 = 'error' THEN last_success_at ELSE $2 END,
                  etag = coalesce($5, etag), last_modified = coalesce($6, last_modified),
                  consecutive_failures = $7, next_poll_at = $8
           WHERE id = $1""",
        feed_id, now, outcome, error, etag, last_modified, failures, next_poll_at,
    )


async def count_failing_feeds(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM feeds WHERE status = 'failing'")


# --- mentions ------------------------------------------------------------------------------------------------------

async def mention_id_by_canonical_url(conn: asyncpg.Connection, canonical: str) -> uuid.UUID | None:
    return await conn.fetchval("SELECT id FROM mentions WHERE canonical_url = $1", canonical)


async def insert_mention(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """False when another writer recorded the same article first (same canonical URL)."""
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return bool(await conn.fetchval(
        f"""INSERT INTO mentions ({", ".join(columns)}) VALUES ({placeholders})
            ON CONFLICT (canonical_url) DO NOTHING RETURNING true""",
        *values.values(),
    ))


async def syndication_candidates(conn: asyncpg.Connection, outlet_id: uuid.UUID, published_at: datetime,
                                 window: timedelta) -> list[Row]:
    """Originals from other outlets published around the same time, with a lead to compare."""
    return await conn.fetch(
        """SELECT id, title, summary, published_at, created_at FROM mentions
           WHERE original_id IS NULL AND outlet_id <> $1 AND summary <> ''
             AND published_at BETWEEN $2::timestamptz - $3::interval AND $2::timestamptz + $3::interval
           ORDER BY published_at, created_at, id""",
        outlet_id, published_at, window,
    )


async def regroup_under(conn: asyncpg.Connection, old_original: uuid.UUID, new_original: uuid.UUID,
                        now: datetime) -> list[uuid.UUID]:
    """An earlier publication turned up: the old original and its copies become copies of the new one."""
    rows = await conn.fetch(
        """UPDATE mentions SET original_id = $2, updated_at = $3
           WHERE (id = $1 OR original_id = $1) AND id <> $2 RETURNING id""",
        old_original, new_original, now,
    )
    return [r["id"] for r in rows]


async def mention(conn: asyncpg.Connection, mention_id: uuid.UUID, *, lock: bool = False) -> Row | None:
    suffix = " FOR UPDATE OF m" if lock else ""
    return await conn.fetchrow(f"{MENTION_VIEW} WHERE m.id = $1{suffix}", mention_id)


async def mentions_by_ids(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> list[Row]:
    return await conn.fetch(f"{MENTION_VIEW} WHERE m.id = ANY($1::uuid[])", ids)


async def copies_of(conn: asyncpg.Connection, original_ids: list[uuid.UUID]) -> list[Row]:
    return await conn.fetch(
        f"{MENTION_VIEW} WHERE m.original_id = ANY($1::uuid[]) ORDER BY m.published_at, m.created_at, m.id",
        original_ids,
    )


def _filters(f: dict[str, Any]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.replace("?", f"${len(args)}"))

    if f.get("start") is not None:
        add("m.published_at >= ?", f["start"])
    if f.get("end") is not None:
        add("m.published_at < ?", f["end"])
    if f.get("medium"):
        add("o.medium = ?", f["medium"])
    if f.get("scope"):
        add("o.scope = ?", f["scope"])
    if f.get("municipality"):
        add("? = ANY(m.municipalities)", f["municipality"])
    if f.get("province"):
        # (name, its CBS codes), as domain.places.provinces_of counts: the outlet's region or a place named
        name, codes = f["province"]
        args.extend([name, codes])
        n = len(args)
        clauses.append(f"(o.province = ${n - 1} OR m.municipalities && ${n}::text[] OR o.municipality = ANY(${n}))")
    if f.get("featured") is not None:
        add("m.featured = ?", f["featured"])
    if f.get("q"):
        escaped = f["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        add("m.search_text LIKE '%' || ? || '%'", escaped)
    if not f.get("copies"):
        clauses.append("m.original_id IS NULL")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


async def find_mentions(conn: asyncpg.Connection, filters: dict[str, Any], *, limit: int | None,
                        offset: int = 0) -> tuple[list[Row], int]:
    where, args = _filters(filters)
    total = await conn.fetchval(
        f"SELECT count(*) FROM mentions m JOIN outlets o ON o.id = m.outlet_id{where}", *args
    )
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    rows = await conn.fetch(f"{MENTION_VIEW}{where} ORDER BY m.published_at DESC, m.id{page}", *args)
    return rows, total


async def update_mention(conn: asyncpg.Connection, mention_id: uuid.UUID, changes: dict[str, Any],
                         now: datetime) -> None:
    sets = [f"{column} = ${i}" for i, column in enumerate(changes, start=2)]
    sets.append(f"updated_at = ${len(changes) + 2}")
    await conn.execute(f"UPDATE mentions SET {', '.join(sets)} WHERE id = $1", mention_id, *changes.values(), now)


async def delete_mention(conn: asyncpg.Connection, mention_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM mentions WHERE id = $1", mention_id)


async def coverage_rows(conn: asyncpg.Connection, start: datetime | None, end: datetime | None) -> list[Row]:
    return await conn.fetch(
        f"""{MENTION_VIEW} WHERE ($1::timestamptz IS NULL OR m.published_at >= $1)
                             AND ($2::timestamptz IS NULL OR m.published_at < $2)""",
        start, end,
    )


async def mention_counts(conn: asyncpg.Connection) -> list[Row]:
    return await conn.fetch(
        """SELECT o.medium, o.scope, count(*) AS n FROM mentions m JOIN outlets o ON o.id = m.outlet_id
           GROUP BY o.medium, o.scope"""
    )
