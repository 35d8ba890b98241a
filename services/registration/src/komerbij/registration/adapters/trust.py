"""Trusted organisers (by token subject) in PostgreSQL."""

from __future__ import annotations

import asyncpg


async def is_trusted(conn: asyncpg.Connection, subject: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM trusted_organisers WHERE subject = $1", subject))


async def trust(conn: asyncpg.Connection, subject: str, note: str | None, added_by: str) -> None:
    await conn.execute(
        """INSERT INTO trusted_organisers (subject, note, added_by) VALUES ($1, $2, $3)
           ON CONFLICT (subject) DO UPDATE SET note = EXCLUDED.note""",
        subject, note, added_by,
    )


async def distrust(conn: asyncpg.Connection, subject: str) -> bool:
    return (await conn.execute("DELETE FROM trusted_organisers WHERE subject = $1", subject)) != "DELETE 0"


async def all_trusted(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT subject, note, added_by, added_at FROM trusted_organisers ORDER BY subject")
